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
        // a I - X for every matrix: the bias add puts a I on each flattened matrix.
        let identity = { (multiple: Float) in
            try Tensor((0..<(size * size)).map { $0 % (size + 1) == 0 ? multiple : 0 }, shape: [size * size], on: self.backend)
        }
        let (seven, fifteen, thirteen) = (try identity(7), try identity(15), try identity(13))
        func minus(_ diagonal: Tensor, _ matrices: Tensor) throws -> Tensor {
            try matrices.reshaped([batch, size * size]).scaled(by: -1).addingBias(diagonal).reshaped(shape)
        }
        for _ in 0..<iterations {
            let product = try matmul(self, inverse)
            let inner = try matmul(product, try minus(seven, product))
            let middle = try matmul(product, try minus(fifteen, inner))
            inverse = try matmul(inverse, try minus(thirteen, middle), alpha: 0.25)
        }
        return inverse
    }

    private func pseudoInverseStart(batch: Int, size: Int) throws -> Tensor {
        let output = try emptyLike()
        let scales = try Tensor.empty([batch], on: backend)
        try backend.pseudoInverseStartForward(storage, output: output.storage, scales: scales.storage, batch: batch, size: size)
        return output.recording([self]) { gradient in
            let inputGradient = try self.emptyLike()
            try self.backend.pseudoInverseStartBackward(outputGradient: gradient.storage, scales: scales.storage, inputGradient: inputGradient.storage,
                                                        batch: batch, size: size)
            return [inputGradient]
        }
    }
}
