import COpenCL
import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The sequence_convolution family: Kernels/sequence_convolution.cl, its checks and its benchmark rows.
    enum SequenceConvolution: KernelFamilyDeclaration {
        static let name = "sequence_convolution"

        /// Nystromformer's convolution residual on the seed ViT: 256 images x 4 heads x 65 x 12, 33 taps.
        static var benchmarks: [BenchmarkRow] {
            let (images, channels, tokens, width, taps) = (256, 4, 65, 12, 33)
            let count = images * channels * tokens * width
            let flops = 2 * Double(count * taps)
            return [
                BenchmarkRow(name: "seqconv_forward", size: "256x4x65x12 taps 33", flops: flops, bytes: 0) { backend in
                    let kernels = try backend.kernels(SequenceConvolutionKernels.self)
                    let (x, w, y) = (try buffer(count, backend), try buffer(channels * taps, backend), try backend.allocate(count: count))
                    return {
                        try kernels.sequenceConvolutionForward(
                            x, weight: w, output: y, batch: images, channels: channels, tokens: tokens, width: width, taps: taps, reversed: false)
                    }
                },
                BenchmarkRow(name: "seqconv_dweight", size: "256x4x65x12 taps 33", flops: flops, bytes: 0) { backend in
                    let kernels = try backend.kernels(SequenceConvolutionKernels.self)
                    let (dy, x, dw) = (try buffer(count, backend), try buffer(count + 1, backend), try backend.allocate(count: channels * taps))
                    return {
                        try kernels.sequenceConvolutionWeightGradient(
                            outputGradient: dy, input: x, weightGradient: dw, batch: images, channels: channels, tokens: tokens, width: width,
                            taps: taps)
                    }
                },
            ]
        }

        /// The depthwise token-axis convolution (Kernels/sequence_convolution.cl) at
        /// (B, H, N, D, taps): one tap, a kernel wider than the sequence, the seed ViT with
        /// Nystromformer's 33 taps (256 images x 4 heads), and ViT-B/16's heads (8 x 12 x 197 x 64).
        ///
        /// Tolerances as GEMM's (products of terms in [-1, 1], rounding growing like sqrt(k) u),
        /// with k the longest sum: B N D for the weight gradient.
        static func checks(_ scope: CheckScope) -> [KernelCheck] {
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
                    try backend.kernels(SequenceConvolutionKernels.self).sequenceConvolutionForward(
                        input, weight: weight, output: output, batch: batch, channels: channels, tokens: tokens,
                        width: width, taps: taps, reversed: false)
                    try backend.kernels(SequenceConvolutionKernels.self).sequenceConvolutionForward(
                        gradient, weight: weight, output: inputGradient, batch: batch, channels: channels,
                        tokens: tokens, width: width, taps: taps, reversed: true)
                    try backend.kernels(SequenceConvolutionKernels.self).sequenceConvolutionWeightGradient(
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
}

/// Depthwise convolution along the token axis (Kernels/sequence_convolution.cl).
extension OpenCLBackend: SequenceConvolutionKernels {
    public func sequenceConvolutionForward(
        _ input: DeviceStorage, weight: DeviceStorage, output: DeviceStorage, batch: Int, channels: Int,
        tokens: Int, width: Int, taps: Int, reversed: Bool
    ) throws {
        let count = batch * channels * tokens * width
        try launch(
            "sequence_convolution", "sequence_convolution_forward", global: [count],
            [
                .buffer(input), .buffer(weight), .buffer(output), .int(count), .int(channels), .int(tokens), .int(width), .int(taps),
                .int(reversed ? 1 : 0),
            ])
    }

    public func sequenceConvolutionWeightGradient(
        outputGradient: DeviceStorage, input: DeviceStorage, weightGradient: DeviceStorage, batch: Int,
        channels: Int, tokens: Int, width: Int, taps: Int
    ) throws {
        let group = rowGroupSize(columns: tokens * width)
        try launch(
            "sequence_convolution", "sequence_convolution_weight_gradient", global: [channels * taps * group], local: [group],
            [
                .buffer(outputGradient), .buffer(input), .buffer(weightGradient), .int(batch), .int(channels), .int(tokens), .int(width),
                .int(taps), .local(floats: group),
            ])
    }
}
