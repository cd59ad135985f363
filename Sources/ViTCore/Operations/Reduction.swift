/// Sums over an axis and their adjoint (Kernels/reduce.cl).
public protocol ReductionKernels {
    /// Sums a tensor viewed as (outer, axis, inner) over its middle axis into (outer, inner).
    func sum(_ input: DeviceStorage, output: DeviceStorage, outer: Int, axis: Int, inner: Int) throws
    /// The adjoint of `sum`: copies (outer, inner) into every position of the middle axis of
    /// (outer, axis, inner).
    func broadcast(_ input: DeviceStorage, output: DeviceStorage, outer: Int, axis: Int, inner: Int) throws
}

extension Tensor {
    /// Sum over `axis` (negative counts from the end); the axis is removed from the shape.
    public func sum(axis: Int) throws -> Tensor {
        let resolved = axis < 0 ? axis + shape.rank : axis
        guard (0..<shape.rank).contains(resolved) else {
            throw ViTError.invalidArgument(operation: "sum", detail: "axis \(axis) out of range for \(shape)")
        }
        let outer = shape.dimensions[..<resolved].reduce(1, *)
        let length = shape[resolved]
        let inner = shape.dimensions[(resolved + 1)...].reduce(1, *)
        var dimensions = shape.dimensions
        dimensions.remove(at: resolved)
        let output = try emptyLike(Shape(dimensions))
        try backend.kernels(ReductionKernels.self).sum(storage, output: output.storage, outer: outer, axis: length, inner: inner)
        let original = shape
        return output.recording([self]) { gradient in
            let expanded = try Tensor.empty(original, on: gradient.backend)
            try gradient.backend.kernels(ReductionKernels.self).broadcast(
                gradient.storage, output: expanded.storage, outer: outer, axis: length, inner: inner)
            return [expanded]
        }
    }

    /// Sum of all elements, as a one-element tensor of shape [].
    public func sum() throws -> Tensor {
        try reshaped([elementCount]).sum(axis: 0)
    }

    /// Mean of all elements, as a one-element tensor of shape [].
    public func mean() throws -> Tensor {
        try sum().scaled(by: 1 / Float(max(elementCount, 1)))
    }
}
