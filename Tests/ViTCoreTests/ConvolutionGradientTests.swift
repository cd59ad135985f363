import ViTBackends
import ViTCore
import ViTNN
import XCTest

/// im2col, the convolution built on it and the convolutional stem: forward against a direct
/// convolution, backward by finite differences with GradientCheckTests' helper and tolerances.
extension GradientCheckTests {
    func testIm2col() throws {
        let images = try tensor([2, 5, 7, 3], seed: 40)
        // Stride 2 (fields overlap by one row and column) and stride 1 (by two).
        try checkGradients([images]) { try $0[0].im2col(kernelSize: 3, stride: 2, padding: 1) }
        try checkGradients([images]) { try $0[0].im2col(kernelSize: 3, stride: 1, padding: 1) }
    }

    func testConvolution2D() throws {
        let images = try tensor([2, 6, 5, 3], seed: 41)
        let weight = try tensor([4, 3, 3, 3], seed: 42)
        let bias = try tensor([4], seed: 43)
        try checkGradients([images, weight, bias]) { try convolution2D($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1) }
        let pointwise = try tensor([4, 3, 1, 1], seed: 44)
        try checkGradients([images, pointwise]) { try convolution2D($0[0], weight: $0[1], bias: nil, stride: 1, padding: 0) }
    }

    /// PyTorch's Conv2d on channels-last images, summed term by term on the host: the column
    /// layout matches the weight [out, in, k, k] and the padding reads zeros.
    func testConvolution2DMatchesADirectConvolution() throws {
        let (batch, height, width, inputs, outputs, k, stride, padding) = (2, 7, 6, 3, 4, 3, 2, 1)
        let x = KernelFamilies.values(batch * height * width * inputs, seed: 45)
        let w = KernelFamilies.values(outputs * inputs * k * k, seed: 46)
        let b = KernelFamilies.values(outputs, seed: 47)
        let result = try convolution2D(
            Tensor(x, shape: [batch, height, width, inputs], on: backend), weight: Tensor(w, shape: [outputs, inputs, k, k], on: backend),
            bias: Tensor(b, shape: [outputs], on: backend), stride: stride, padding: padding)
        let (outHeight, outWidth) = ((height + 2 * padding - k) / stride + 1, (width + 2 * padding - k) / stride + 1)
        XCTAssertEqual(result.shape, [batch, outHeight, outWidth, outputs])
        let values = try result.toArray()
        for image in 0..<batch {
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    for o in 0..<outputs {
                        var expected = b[o]
                        for c in 0..<inputs {
                            for row in 0..<k {
                                for column in 0..<k {
                                    let (y, x0) = (oy * stride - padding + row, ox * stride - padding + column)
                                    guard (0..<height).contains(y), (0..<width).contains(x0) else { continue }
                                    expected += w[((o * inputs + c) * k + row) * k + column] * x[((image * height + y) * width + x0) * inputs + c]
                                }
                            }
                        }
                        let actual = values[((image * outHeight + oy) * outWidth + ox) * outputs + o]
                        XCTAssertEqual(actual, expected, accuracy: 1e-5, "image \(image) pixel (\(oy), \(ox)) channel \(o)")
                    }
                }
            }
        }
    }

    /// The whole stem (two stride-2 convolutions, channel norms, GELU, the 1 x 1 projection)
    /// in the images and every one of its parameters.
    func testConvolutionalStem() throws {
        var configuration = ViTConfiguration()
        (configuration.imageSize, configuration.patchSize, configuration.numChannels, configuration.hiddenSize) = (8, 4, 2, 16)
        configuration.patchEmbedding = .convolutionalStem
        let stem = try VisionTransformer(configuration: configuration, on: backend, seed: 5).patchEmbedding
        XCTAssertEqual(
            stem.stateTensors.map(\.name),
            [
                "stem.0.conv.weight", "stem.0.norm.weight", "stem.0.norm.bias", "stem.1.conv.weight", "stem.1.norm.weight", "stem.1.norm.bias",
                "proj.weight", "proj.bias",
            ])
        XCTAssertEqual(stem.stateTensors.map(\.tensor.shape), [[8, 2, 3, 3], [8], [8], [16, 8, 3, 3], [16], [16], [16, 16, 1, 1], [16]])
        let images = try tensor([2, 2, 8, 8], seed: 48)
        // Norm parameters away from their start (1 and 0), so their gradients are not special.
        for (name, parameter) in stem.stateTensors where name.contains("norm") {
            let values = KernelFamilies.values(parameter.elementCount, seed: 49, scale: 0.5, shift: name.hasSuffix("weight") ? 1 : 0)
            try values.withUnsafeBufferPointer { try backend.write($0, to: parameter.storage) }
        }
        let output = try stem(images)
        XCTAssertEqual(output.shape, [2, 4, 16])
        try checkGradients([images] + stem.stateTensors.map(\.tensor)) { try stem($0[0]) }
    }
}
