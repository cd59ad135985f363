import Foundation
import ViTCore

extension KernelCheckCatalog {
    /// The depthwise token-axis convolution (Kernels/sequence_convolution.cl) at
    /// (B, H, N, D, taps): one tap, a kernel wider than the sequence, the seed ViT with
    /// Nystromformer's 33 taps (256 images x 4 heads), and ViT-B/16's heads (8 x 12 x 197 x 64).
    ///
    /// Tolerances as GEMM's (products of terms in [-1, 1], rounding growing like sqrt(k) u),
    /// with k the longest sum: B N D for the weight gradient.
    static func sequenceConvolution(_ scope: CheckScope) -> [KernelCheck] {
        scope.sizes([(1, 1, 1, 1, 1), (2, 3, 7, 5, 3), (1, 2, 9, 4, 33)], large: [(256, 4, 65, 12, 33), (8, 12, 197, 64, 33)]).map {
            batch, channels, tokens, width, taps in
            let longestSum = max(taps, batch * tokens * width)
            return KernelCheck(
                kernel: "sequence_convolution", size: "\(batch)x\(channels)x\(tokens)x\(width) taps \(taps)",
                absoluteTolerance: 8e-6 * Float(longestSum).squareRoot(), relativeTolerance: 1e-5
            ) { backend in
                let count = batch * channels * tokens * width
                let input = try upload(values(count, seed: 51), to: backend)
                let weight = try upload(values(channels * taps, seed: 52), to: backend)
                let gradient = try upload(values(count, seed: 53), to: backend)
                let (output, inputGradient) = (try backend.allocate(count: count), try backend.allocate(count: count))
                let weightGradient = try backend.allocate(count: channels * taps)
                try backend.sequenceConvolutionForward(
                    input, weight: weight, output: output, batch: batch, channels: channels, tokens: tokens,
                    width: width, taps: taps, reversed: false)
                try backend.sequenceConvolutionForward(
                    gradient, weight: weight, output: inputGradient, batch: batch, channels: channels,
                    tokens: tokens, width: width, taps: taps, reversed: true)
                try backend.sequenceConvolutionWeightGradient(
                    outputGradient: gradient, input: input, weightGradient: weightGradient, batch: batch,
                    channels: channels, tokens: tokens, width: width, taps: taps)
                return [
                    try download(output, count, from: backend), try download(inputGradient, count, from: backend),
                    try download(weightGradient, channels * taps, from: backend),
                ]
            }
        }
    }
}
