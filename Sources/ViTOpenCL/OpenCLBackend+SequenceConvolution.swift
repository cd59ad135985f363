import COpenCL
import ViTCore

/// Depthwise convolution along the token axis (Kernels/sequence_convolution.cl).
extension OpenCLBackend {
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
