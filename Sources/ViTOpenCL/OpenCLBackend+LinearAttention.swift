import COpenCL
import ViTCore

/// The element-wise parts of linear attention (Kernels/linear_attention.cl); its products
/// are CLBlast GEMMs, composed in `Backend.linearAttentionForward`.
extension OpenCLBackend {
    public func linearAttentionAppendOnes(_ value: DeviceStorage, output: DeviceStorage, rows: Int, headSize: Int) throws {
        try launch(
            "linear_attention", "append_ones_forward", global: [headSize + 1, rows],
            [.buffer(value), .buffer(output), .int(rows), .int(headSize)])
    }

    public func linearAttentionNormalizeForward(
        numerator: DeviceStorage, output: DeviceStorage, denominator: DeviceStorage, rows: Int, headSize: Int, epsilon: Float
    ) throws {
        try launch(
            "linear_attention", "linear_attention_forward", global: [headSize, rows],
            [.buffer(numerator), .buffer(output), .buffer(denominator), .int(rows), .int(headSize), .float(epsilon)])
    }

    public func linearAttentionNormalizeBackward(
        outputGradient: DeviceStorage, output: DeviceStorage, denominator: DeviceStorage, numeratorGradient: DeviceStorage,
        rows: Int, headSize: Int
    ) throws {
        let group = rowGroupSize(columns: headSize)
        try launch(
            "linear_attention", "linear_attention_backward", global: [rows * group], local: [group],
            [
                .buffer(outputGradient), .buffer(output), .buffer(denominator), .buffer(numeratorGradient), .int(headSize),
                .local(floats: group),
            ])
    }
}
