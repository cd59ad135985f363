import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The im2col family: Kernels/im2col.cl, its checks and its benchmark rows.
    enum Convolution: KernelFamilyDeclaration {
        static let name = "im2col"

        /// The convolutional stem's first convolution on the seed ViT's batch (256 images of 32 x
        /// 32, 1 channel, 3 x 3 kernels, stride 2, padding 1) and its adjoint.
        static var benchmarks: [BenchmarkRow] {
            let geometry = ConvolutionGeometry(batch: 256, height: 32, width: 32, channels: 1, kernelSize: 3, stride: 2, padding: 1)
            let bytes = float * Double(geometry.inputCount + geometry.columnCount)
            return [
                BenchmarkRow(name: "im2col", size: "256x32x32x1 k3 s2", flops: 0, bytes: bytes) { backend in
                    let kernels = try backend.kernels(ConvolutionKernels.self)
                    let (x, columns) = (try buffer(geometry.inputCount, backend), try backend.allocate(count: geometry.columnCount))
                    return { try kernels.im2col(x, output: columns, geometry: geometry) }
                },
                BenchmarkRow(name: "col2im", size: "256x32x32x1 k3 s2", flops: 0, bytes: bytes) { backend in
                    let kernels = try backend.kernels(ConvolutionKernels.self)
                    let (columns, x) = (try buffer(geometry.columnCount, backend), try backend.allocate(count: geometry.inputCount))
                    return { try kernels.col2im(columns, output: x, geometry: geometry) }
                },
            ]
        }

        /// im2col and its adjoint (Kernels/im2col.cl) at (B, H, W, C, kernel, stride, padding):
        /// a single pixel, odd sides with odd channels, stride 1 (nine overlapping fields per
        /// pixel), a kernel wider than its stride by more than one tap, the seed ViT's two stem
        /// convolutions (256 images, 32 -> 16 -> 8) and Xiao et al.'s first on ImageNet (224 px).
        ///
        /// im2col only copies (exact); col2im adds at most ceil(k / stride)^2 values of [-1, 1],
        /// in another order than the CPU's scatter: a few u of the sum, which one tolerance of
        /// 1e-6 covers for both.
        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            scope.sizes(
                [(1, 1, 1, 1, 1, 1, 0), (2, 7, 5, 3, 3, 2, 1), (1, 9, 9, 2, 3, 1, 1), (3, 8, 8, 5, 3, 2, 1), (1, 11, 7, 2, 5, 3, 2)],
                large: [(256, 32, 32, 1, 3, 2, 1), (256, 16, 16, 24, 3, 2, 1), (8, 224, 224, 3, 3, 2, 1)]
            ).map { batch, height, width, channels, kernelSize, stride, padding in
                let geometry = ConvolutionGeometry(
                    batch: batch, height: height, width: width, channels: channels, kernelSize: kernelSize, stride: stride, padding: padding)
                return KernelCheck(
                    kernel: "im2col", size: "\(batch)x\(height)x\(width)x\(channels) k\(kernelSize) s\(stride) p\(padding)",
                    absoluteTolerance: 1e-6, relativeTolerance: 1e-6
                ) { backend in
                    let input = try upload(values(geometry.inputCount, seed: 61), to: backend)
                    let columnGradient = try upload(values(geometry.columnCount, seed: 62), to: backend)
                    let (columns, inputGradient) = (
                        try backend.allocate(count: geometry.columnCount), try backend.allocate(count: geometry.inputCount)
                    )
                    try backend.kernels(ConvolutionKernels.self).im2col(input, output: columns, geometry: geometry)
                    try backend.kernels(ConvolutionKernels.self).col2im(columnGradient, output: inputGradient, geometry: geometry)
                    return [
                        try download(columns, geometry.columnCount, from: backend), try download(inputGradient, geometry.inputCount, from: backend),
                    ]
                }
            }
        }
    }
}

/// im2col and its adjoint (Kernels/im2col.cl); the local sizes come from the kernels'
/// limits on the device (`launch`'s default), as for the other element-wise kernels.
extension OpenCLBackend: ConvolutionKernels {
    public func im2col(_ input: DeviceStorage, output: DeviceStorage, geometry: ConvolutionGeometry) throws {
        try launch(
            "im2col", "im2col", global: [geometry.columnCount],
            [.buffer(input), .buffer(output)] + Self.arguments(geometry, count: geometry.columnCount))
    }

    public func col2im(_ columns: DeviceStorage, output: DeviceStorage, geometry: ConvolutionGeometry) throws {
        try launch(
            "im2col", "col2im", global: [geometry.inputCount],
            [.buffer(columns), .buffer(output)] + Self.arguments(geometry, count: geometry.inputCount))
    }

    /// The kernels' shared size arguments after their two buffers.
    private static func arguments(_ g: ConvolutionGeometry, count: Int) -> [KernelArgument] {
        [count, g.height, g.width, g.channels, g.kernelSize, g.stride, g.padding, g.outputHeight, g.outputWidth].map { .int($0) }
    }
}
