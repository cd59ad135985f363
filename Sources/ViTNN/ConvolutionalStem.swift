import ViTCore

/// The convolutional stem of Xiao et al. 2021 ("Early convolutions help transformers see
/// better") in place of the patchify projection: log2(patch) stride-2 3 x 3 convolutions
/// (padding 1, no bias: the norm after each has its own shift), each followed by a layer
/// norm over the channels of every pixel and GELU, then a 1 x 1 convolution with bias to the
/// width. Each stride-2 convolution halves the grid, so the last one's grid is the patch
/// grid (patch 4 on 32 px: 32 -> 16 -> 8).
///
/// The channels double from stage to stage up to the width: stage i of n has width / 2^(n-1-i)
/// channels (at least 1); width 48 and patch 4 give 24 and 48. A channel layer norm rather
/// than Xiao's BatchNorm keeps training and evaluation the same function of the parameters,
/// with no running statistics to update, save or switch (see ARCHITECTURE.md).
///
/// Everything runs channels-last ([batch, height, width, channels]), so the norms are the
/// row-wise layer norm and the 1 x 1 convolution's output is already the patch tokens.
/// Tensors: `stem.i.conv.weight`, `stem.i.norm.weight`, `stem.i.norm.bias`, `proj.weight`
/// [width, channels, 1, 1] and `proj.bias`.
public final class ConvolutionalStem: PatchEmbedding {
    /// One stride-2 convolution with its channel norm (GELU follows).
    public final class Stage: Layer {
        public let convolution: Convolution2D
        public let norm: LayerNorm

        init(inputs: Int, outputs: Int, on backend: Backend, generator: inout SeededRandomGenerator) throws {
            convolution = try Convolution2D(
                inputs: inputs, outputs: outputs, kernelSize: 3, stride: 2, padding: 1, bias: false, on: backend, generator: &generator)
            norm = try LayerNorm(size: outputs, on: backend)
        }

        func callAsFunction(_ input: Tensor) throws -> Tensor {
            try norm(convolution(input)).gelu()
        }

        public var stateTensors: [(name: String, tensor: Tensor)] {
            convolution.tensors(prefixed: "conv") + norm.tensors(prefixed: "norm")
        }
    }

    public let stages: [Stage]
    public let projection: Convolution2D
    let configuration: ViTConfiguration

    init(configuration: ViTConfiguration, on backend: Backend, generator: inout SeededRandomGenerator) throws {
        self.configuration = configuration
        let widths = Self.channelWidths(configuration)
        var inputs = configuration.numChannels
        var stages: [Stage] = []
        for outputs in widths {
            stages.append(try Stage(inputs: inputs, outputs: outputs, on: backend, generator: &generator))
            inputs = outputs
        }
        self.stages = stages
        projection = try Convolution2D(
            inputs: inputs, outputs: configuration.hiddenSize, kernelSize: 1, bias: true, on: backend, generator: &generator)
    }

    /// The output channels of each stride-2 stage: doubling up to the width. One stage per
    /// factor 2 of the patch size, which `validate()` requires to be a power of two.
    static func channelWidths(_ configuration: ViTConfiguration) -> [Int] {
        let count = configuration.patchSize.trailingZeroBitCount
        return (0..<count).map { max(1, configuration.hiddenSize >> (count - 1 - $0)) }
    }

    /// The stem's parameters but the 1 x 1's bias, in floating point (for the configuration's
    /// size estimate, before any size is known to fit an Int).
    static func weightCount(_ configuration: ViTConfiguration) -> Double {
        var (total, inputs) = (0.0, Double(configuration.numChannels))
        for outputs in channelWidths(configuration).map(Double.init) {
            total += 9 * inputs * outputs + 2 * outputs
            inputs = outputs
        }
        return total + inputs * Double(configuration.hiddenSize)
    }

    public func callAsFunction(_ images: Tensor) throws -> Tensor {
        var features = try images.permuted([0, 2, 3, 1])
        for stage in stages { features = try stage(features) }
        let tokens = try projection(features)
        return try tokens.reshaped([images.shape[0], configuration.patchCount, configuration.hiddenSize])
    }

    public var multiplyAccumulates: Int {
        var (side, total) = (configuration.imageSize, 0)
        for stage in stages {
            side /= 2
            total += stage.convolution.multiplyAccumulates(pixels: side * side)
        }
        return total + projection.multiplyAccumulates(pixels: configuration.patchCount)
    }

    public var stateTensors: [(name: String, tensor: Tensor)] {
        stages.enumerated().flatMap { index, stage in stage.tensors(prefixed: "stem.\(index)") } + projection.tensors(prefixed: "proj")
    }
}
