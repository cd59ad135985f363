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
