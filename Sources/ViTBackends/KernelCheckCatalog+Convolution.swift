import Foundation
import ViTCore

extension KernelCheckCatalog {
    /// im2col and its adjoint (Kernels/im2col.cl) at (B, H, W, C, kernel, stride, padding):
    /// a single pixel, odd sides with odd channels, stride 1 (nine overlapping fields per
    /// pixel), a kernel wider than its stride by more than one tap, the seed ViT's two stem
    /// convolutions (256 images, 32 -> 16 -> 8) and Xiao et al.'s first on ImageNet (224 px).
    ///
    /// im2col only copies (exact); col2im adds at most ceil(k / stride)^2 values of [-1, 1],
    /// in another order than the CPU's scatter: a few u of the sum, which one tolerance of
    /// 1e-6 covers for both.
    static func convolution(_ scope: CheckScope) -> [KernelCheck] {
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
                let (columns, inputGradient) = (try backend.allocate(count: geometry.columnCount), try backend.allocate(count: geometry.inputCount))
                try backend.im2col(input, output: columns, geometry: geometry)
                try backend.col2im(columnGradient, output: inputGradient, geometry: geometry)
                return [
                    try download(columns, geometry.columnCount, from: backend), try download(inputGradient, geometry.inputCount, from: backend),
                ]
            }
        }
    }
}
