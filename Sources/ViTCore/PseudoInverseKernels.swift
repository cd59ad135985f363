/// Kernels of the iterative Moore-Penrose inverse that Nystromformer applies to its M x M
/// landmark kernel: the starting point of the Newton-Schulz-type iteration.
///
/// Legend: `batch` = B H matrices, each `size` x `size` (M landmarks).
public protocol PseudoInverseKernels {
    /// `output_b = scales_b K_b^T` with `scales_b = 1 / (max_j sum_i |K_b[i, j]| * max_i sum_j |K_b[i, j]|)`
    /// (1 / (||K||_1 ||K||_inf)), per matrix: a start from which the iteration converges
    /// for any K. Saves the scales [batch] for the backward pass.
    func pseudoInverseStartForward(_ matrices: DeviceStorage, output: DeviceStorage, scales: DeviceStorage, batch: Int, size: Int) throws
    /// The gradient with the scales held constant: `dK_b = scales_b dZ_b^T`.
    func pseudoInverseStartBackward(outputGradient: DeviceStorage, scales: DeviceStorage, inputGradient: DeviceStorage, batch: Int, size: Int) throws
}
