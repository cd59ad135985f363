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

extension Tensor {
    /// The Moore-Penrose inverse of each square matrix of the last two axes [..., M, M],
    /// approximated as Nystromformer does: from `Z = K^T / (||K||_1 ||K||_inf)` (per matrix,
    /// the scale held constant in the backward pass), `iterations` steps of
    /// `Z <- 1/4 Z (13 I - K Z (15 I - K Z (7 I - K Z)))`.
    public func pseudoInverse(iterations: Int) throws -> Tensor {
        guard shape.rank >= 2, shape[-1] == shape[-2] else {
            throw ViTError.invalidArgument(operation: "pseudoInverse", detail: "needs square matrices in the last two axes, got \(shape)")
        }
        guard iterations >= 0 else {
            throw ViTError.invalidArgument(operation: "pseudoInverse", detail: "iterations must not be negative, got \(iterations)")
        }
        let size = shape.last
        let batch = shape.elementCount / (size * size)
        var inverse = try pseudoInverseStart(batch: batch, size: size)
        // Expanded so that no identity matrix is needed (uploading one would stall the queue):
        // with P = K Z, 1/4 Z (13 I - P (15 I - P (7 I - P))) = 13/4 Z - 1/4 Z (15 P - P (7 P - P P)).
        for _ in 0..<iterations {
            let product = try matmul(self, inverse)
            let inner = try product.scaled(by: 7) - matmul(product, product)
            let middle = try product.scaled(by: 15) - matmul(product, inner)
            inverse = try inverse.scaled(by: 13 / 4) - matmul(inverse, middle, alpha: 1 / 4)
        }
        return inverse
    }

    private func pseudoInverseStart(batch: Int, size: Int) throws -> Tensor {
        let output = try emptyLike()
        let scales = try Tensor.empty([batch], on: backend)
        try backend.kernels(PseudoInverseKernels.self).pseudoInverseStartForward(
            storage, output: output.storage, scales: scales.storage, batch: batch, size: size)
        return output.recording([self]) { gradient in
            let inputGradient = try self.emptyLike()
            try self.backend.kernels(PseudoInverseKernels.self).pseudoInverseStartBackward(
                outputGradient: gradient.storage, scales: scales.storage, inputGradient: inputGradient.storage,
                batch: batch, size: size)
            return [inputGradient]
        }
    }
}
