/// Kernels of the depthwise convolution along the token axis that Nystromformer adds to its
/// output as a residual on V (`--nystrom-conv`): PyTorch's `Conv2d(H, H, (k, 1), padding=(k // 2, 0),
/// groups=H, bias=False)` over [batch, heads, tokens, headSize].
///
/// Legend: `batch` = B images, `channels` = H heads, each a [tokens, width] matrix (width = D,
/// the head size); the weight is [channels, taps] with an odd number of taps, centred: tap t
/// reads token n + t - taps / 2, and tokens outside 0 ..< tokens read as zero.
public protocol SequenceConvolutionKernels {
    /// `output[b, h, n, :] = sum_t w[h, t'] input[b, h, n + t - taps / 2, :]` with t' = t, or
    /// t' = taps - 1 - t when `reversed` (the input gradient is the reversed convolution of
    /// the output gradient).
    func sequenceConvolutionForward(
        _ input: DeviceStorage, weight: DeviceStorage, output: DeviceStorage, batch: Int, channels: Int,
        tokens: Int, width: Int, taps: Int, reversed: Bool) throws
    /// `weightGradient[h, t] = sum_{b, n, d} outputGradient[b, h, n, d] input[b, h, n + t - taps / 2, d]`.
    func sequenceConvolutionWeightGradient(
        outputGradient: DeviceStorage, input: DeviceStorage, weightGradient: DeviceStorage, batch: Int,
        channels: Int, tokens: Int, width: Int, taps: Int) throws
}

extension Tensor {
    /// Depthwise convolution along the token axis of [batch, heads, tokens, headSize] with a
    /// [heads, taps] weight (odd taps, centred, zero padding), as PyTorch's
    /// `Conv2d(H, H, (taps, 1), padding=(taps // 2, 0), groups=H, bias=False)` (see
    /// `SequenceConvolutionKernels`). Differentiable in the input and the weight.
    public func sequenceConvolution(weight: Tensor) throws -> Tensor {
        _ = try Tensor.commonBackend("sequenceConvolution", self, weight)
        guard shape.rank == 4, weight.shape.rank == 2, weight.shape[0] == shape[1], weight.shape[1] % 2 == 1 else {
            throw ViTError.shapeMismatch(
                operation: "sequenceConvolution",
                detail: "needs input [batch, heads, tokens, headSize] and weight [heads, odd taps], got \(shape) and \(weight.shape)")
        }
        let (batch, channels, tokens, width, taps) = (shape[0], shape[1], shape[2], shape[3], weight.shape[1])
        let output = try emptyLike()
        try backend.kernels(SequenceConvolutionKernels.self).sequenceConvolutionForward(
            storage, weight: weight.storage, output: output.storage, batch: batch, channels: channels,
            tokens: tokens, width: width, taps: taps, reversed: false)
        return output.recording([self, weight]) { gradient in
            let inputGradient = try self.emptyLike()
            try self.backend.kernels(SequenceConvolutionKernels.self).sequenceConvolutionForward(
                gradient.storage, weight: weight.storage, output: inputGradient.storage, batch: batch,
                channels: channels, tokens: tokens, width: width, taps: taps, reversed: true)
            let weightGradient = try weight.emptyLike()
            try self.backend.kernels(SequenceConvolutionKernels.self).sequenceConvolutionWeightGradient(
                outputGradient: gradient.storage, input: self.storage, weightGradient: weightGradient.storage,
                batch: batch, channels: channels, tokens: tokens, width: width, taps: taps)
            return [inputGradient, weightGradient]
        }
    }
}
