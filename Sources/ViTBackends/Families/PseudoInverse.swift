import COpenCL
import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The pseudo_inverse family: Kernels/pseudo_inverse.cl, its checks and its benchmark rows.
    enum PseudoInverse: KernelFamilyDeclaration {
        static let name = "pseudo_inverse"

        /// The pseudo-inverse's starting point (Kernels/pseudo_inverse.cl) at (B H, M): odd
        /// sizes, the seed ViT with 32 landmarks (256 images x 4 heads) and ViT-B/16's heads (8 x 12).
        ///
        /// Tolerances: the absolute row and column sums run in the same order on both backends
        /// and the maxima are exact, so only the division and the product differ: 1e-6 relative.
        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            scope.sizes([(1, 1), (3, 7), (2, 33)], large: [(256 * 4, 32), (8 * 12, 65)]).map { batch, size in
                KernelCheck(kernel: "pinv_start", size: "\(batch)x\(size)x\(size)", absoluteTolerance: 1e-7, relativeTolerance: 1e-6) { backend in
                    let count = batch * size * size
                    let matrices = try upload(values(count, seed: 49), to: backend)
                    let gradient = try upload(values(count, seed: 50), to: backend)
                    let (output, inputGradient, scales) = (
                        try backend.allocate(count: count), try backend.allocate(count: count), try backend.allocate(count: batch)
                    )
                    try backend.kernels(PseudoInverseKernels.self).pseudoInverseStartForward(
                        matrices, output: output, scales: scales, batch: batch, size: size)
                    try backend.kernels(PseudoInverseKernels.self).pseudoInverseStartBackward(
                        outputGradient: gradient, scales: scales, inputGradient: inputGradient, batch: batch, size: size)
                    return [
                        try download(output, count, from: backend), try download(scales, batch, from: backend),
                        try download(inputGradient, count, from: backend),
                    ]
                }
            }
        }
    }
}

/// The starting point of the iterative pseudo-inverse (Kernels/pseudo_inverse.cl).
extension OpenCLBackend: PseudoInverseKernels {
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
