/// Axis permutation (Kernels/permute.cl).
public protocol PermuteKernels {
    /// Reorders the axes of a tensor of `shape` (rank 1 to 6): output axis i is input axis `permutation[i]`.
    func permute(_ input: DeviceStorage, output: DeviceStorage, shape: [Int], permutation: [Int]) throws
}

extension Tensor {
    /// The same elements viewed with another shape of equal element count (no copy).
    public func reshaped(_ newShape: Shape) throws -> Tensor {
        let valid = try Shape.validated(newShape.dimensions, operation: "reshape")
        guard valid.elementCount == elementCount else {
            throw ViTError.shapeMismatch(
                operation: "reshape", detail: "cannot view \(shape) (\(elementCount) elements) as \(valid) (\(valid.elementCount) elements)")
        }
        let output = Tensor(shape: valid, storage: storage, backend: backend)
        let original = shape
        return output.recording([self]) { gradient in [try gradient.reshaped(original)] }
    }

    /// Reorders the axes: axis i of the result is axis `permutation[i]` of this tensor.
    /// Splitting heads is `reshaped([B, N, H, D]).permuted([0, 2, 1, 3])`.
    public func permuted(_ permutation: [Int]) throws -> Tensor {
        guard permutation.count == shape.rank, permutation.sorted() == Array(0..<shape.rank) else {
            throw ViTError.invalidArgument(operation: "permute", detail: "\(permutation) is not a permutation of the \(shape.rank) axes of \(shape)")
        }
        guard (1...6).contains(shape.rank) else {
            throw ViTError.invalidArgument(operation: "permute", detail: "supports ranks 1 to 6, got \(shape)")
        }
        let output = try emptyLike(Shape(permutation.map { shape[$0] }))
        try backend.kernels(PermuteKernels.self).permute(storage, output: output.storage, shape: shape.dimensions, permutation: permutation)
        var inverse = [Int](repeating: 0, count: permutation.count)
        for (index, axis) in permutation.enumerated() { inverse[axis] = index }
        return output.recording([self]) { gradient in [try gradient.permuted(inverse)] }
    }
}
