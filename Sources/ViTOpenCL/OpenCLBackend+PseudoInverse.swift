import COpenCL
import ViTCore

/// The starting point of the iterative pseudo-inverse (Kernels/pseudo_inverse.cl).
extension OpenCLBackend {
    public func pseudoInverseStartForward(_ matrices: DeviceStorage, output: DeviceStorage, scales: DeviceStorage, batch: Int, size: Int) throws {
        let group = rowGroupSize(columns: size)
        try launch(
            "pseudo_inverse", "pinv_start_forward", global: [batch * group], local: [group],
            [.buffer(matrices), .buffer(output), .buffer(scales), .int(size), .local(floats: group)])
    }

    public func pseudoInverseStartBackward(outputGradient: DeviceStorage, scales: DeviceStorage, inputGradient: DeviceStorage, batch: Int, size: Int)
        throws
    {
        let count = batch * size * size
        try launch(
            "pseudo_inverse", "pinv_start_backward", global: [count],
            [.buffer(outputGradient), .buffer(scales), .buffer(inputGradient), .int(count), .int(size)])
    }
}
