/// Matrix product `op(a) op(b)`, where `op` transposes the last two axes when asked.
///
/// - `b` of rank 2 (a weight) multiplies every row of `a`: a of shape [..., m, k] gives
///   [..., n] rows in one GEMM (`transposeA` is then allowed only for a rank-2 `a`).
/// - `a` and `b` of equal rank 3 or more with equal leading axes multiply batch by batch
///   in one strided-batched GEMM (attention's Q K^T and P V).
/// `alpha` scales the product inside the GEMM (attention's 1/sqrt(d) costs no extra pass).
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false, alpha: Float = 1) throws -> Tensor {
    let output = try Tensor.product(a, b, transposeA, transposeB, alpha: alpha)
    return output.recording([a, b]) { gradient in
        try Tensor.productGradients(gradient, a, b, transposeA, transposeB, alpha: alpha)
    }
}

/// `input W^T + bias` with PyTorch's weight layout [out, in]. The bias is written into
/// the output first and the GEMM adds the product to it, one pass over the output fewer
/// than a product followed by a bias kernel.
public func linear(_ input: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
    guard let bias else { return try matmul(input, weight, transposeB: true) }
    let output = try Tensor.product(input, weight, false, true, bias: bias)
    return output.recording([input, weight, bias]) { gradient in
        let (rowCount, columns) = (gradient.shape.rowCount, gradient.shape.last)
        let biasGradient = try Tensor.leafGradient(for: bias) { destination in
            let target = try destination ?? Tensor.empty([columns], on: gradient.backend)
            try gradient.backend.kernels(ReductionKernels.self).sum(
                gradient.storage, output: target.storage, outer: 1, axis: rowCount, inner: columns)
            return target
        }
        return try Tensor.productGradients(gradient, input, weight, false, true, alpha: 1) + [biasGradient]
    }
}

extension Tensor {
    /// The gradients of a and b for `product(a, b, ...)` given the output's gradient (nil
    /// for an input that needs none).
    static func productGradients(
        _ gradient: Tensor, _ a: Tensor, _ b: Tensor, _ transposeA: Bool, _ transposeB: Bool,
        alpha: Float
    ) throws -> [Tensor?] {
        var gradientA: Tensor?
        var gradientB: Tensor?
        if b.shape.rank == 2 && a.shape.rank > 2 {
            // A shared weight: its gradient contracts over every row of every batch.
            let rowsA = try a.reshaped([a.shape.rowCount, a.shape.last])
            let rowsGradient = try gradient.reshaped([gradient.shape.rowCount, gradient.shape.last])
            if a.requiresGradient {
                gradientA = try Tensor.product(rowsGradient, b, false, !transposeB, alpha: alpha).reshaped(a.shape)
            }
            gradientB = try leafGradient(for: b) { destination in
                transposeB
                    ? try Tensor.product(rowsGradient, rowsA, true, false, alpha: alpha, into: destination)
                    : try Tensor.product(rowsA, rowsGradient, true, false, alpha: alpha, into: destination)
            }
            return [gradientA, gradientB]
        }
        if a.requiresGradient {
            gradientA =
                transposeA
                ? try Tensor.product(b, gradient, transposeB, true, alpha: alpha)
                : try Tensor.product(gradient, b, false, !transposeB, alpha: alpha)
        }
        gradientB = try leafGradient(for: b) { destination in
            transposeB
                ? try Tensor.product(gradient, a, true, transposeA, alpha: alpha, into: destination)
                : try Tensor.product(a, gradient, !transposeA, false, alpha: alpha, into: destination)
        }
        return [gradientA, gradientB]
    }

    /// The product without autograd: shapes checked, output allocated (or `destination`, of
    /// as many elements), one GEMM call. With `bias` (one value per output column, for a
    /// rank-2 `b`), the output starts as the bias broadcast over the rows and the GEMM adds
    /// the product to it.
    static func product(
        _ a: Tensor, _ b: Tensor, _ transposeA: Bool, _ transposeB: Bool, alpha: Float = 1, bias: Tensor? = nil, into destination: Tensor? = nil
    ) throws -> Tensor {
        let backend = try commonBackend("matmul", a, b)
        guard a.shape.rank >= 2, b.shape.rank >= 2 else {
            throw ViTError.invalidArgument(operation: "matmul", detail: "needs tensors of rank 2 or more, got \(a.shape) and \(b.shape)")
        }
        let (bRows, bColumns) = (b.shape[-2], b.shape[-1])
        let (k2, n) = transposeB ? (bColumns, bRows) : (bRows, bColumns)
        var descriptor: GemmDescriptor
        var outputDimensions: [Int]
        if b.shape.rank == 2 {
            guard a.shape.rank == 2 || !transposeA else {
                throw ViTError.invalidArgument(operation: "matmul", detail: "transposeA with a rank-2 b needs a rank-2 a, got \(a.shape)")
            }
            let m = a.shape.rank == 2 ? (transposeA ? a.shape[1] : a.shape[0]) : a.shape.rowCount
            let k = transposeA ? a.shape[0] : a.shape.last
            guard k == k2 else {
                throw ViTError.shapeMismatch(
                    operation: "matmul", detail: "inner sizes differ: \(a.shape)\(transposeA ? "^T" : "") x \(b.shape)\(transposeB ? "^T" : "")")
            }
            descriptor = GemmDescriptor(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha)
            outputDimensions = a.shape.rank == 2 ? [m, n] : Array(a.shape.dimensions.dropLast()) + [n]
        } else {
            let batchDimensions = Array(a.shape.dimensions.dropLast(2))
            guard a.shape.rank == b.shape.rank, batchDimensions == Array(b.shape.dimensions.dropLast(2)) else {
                throw ViTError.shapeMismatch(operation: "matmul", detail: "batch axes differ: \(a.shape) and \(b.shape)")
            }
            let (m, k) = transposeA ? (a.shape[-1], a.shape[-2]) : (a.shape[-2], a.shape[-1])
            guard k == k2 else {
                throw ViTError.shapeMismatch(
                    operation: "matmul", detail: "inner sizes differ: \(a.shape)\(transposeA ? "^T" : "") x \(b.shape)\(transposeB ? "^T" : "")")
            }
            let batchCount = batchDimensions.reduce(1, *)
            descriptor = GemmDescriptor(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, batchCount: batchCount,
                strideA: m * k, strideB: k * n, strideC: m * n)
            outputDimensions = batchDimensions + [m, n]
        }
        let output: Tensor
        if let destination {
            guard destination.elementCount == Shape(outputDimensions).elementCount, destination.backend === backend else {
                throw ViTError.shapeMismatch(operation: "matmul", detail: "destination \(destination.shape) for a \(outputDimensions) product")
            }
            output = destination
        } else {
            output = try Tensor.empty(Shape(outputDimensions), on: backend)
        }
        if output.elementCount == 0 { return output }
        if let bias {
            _ = try commonBackend("linear", a, bias)
            guard b.shape.rank == 2, bias.shape == [n] else {
                throw ViTError.shapeMismatch(operation: "linear", detail: "bias \(bias.shape) does not match the \(n) output features")
            }
            try backend.kernels(ReductionKernels.self).broadcast(
                bias.storage, output: output.storage, outer: 1, axis: output.elementCount / n, inner: n)
            descriptor.beta = 1
        } else if descriptor.k == 0 {
            try backend.fill(output.storage, count: output.elementCount, value: 0)
        }
        if descriptor.k > 0 { try backend.gemm(descriptor, a: a.storage, b: b.storage, c: output.storage) }
        return output
    }
}
