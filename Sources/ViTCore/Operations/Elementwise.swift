extension Tensor {
    /// Element-by-element sum of two tensors of the same shape.
    public static func + (lhs: Tensor, rhs: Tensor) throws -> Tensor {
        try binary(.add, lhs, rhs)
    }

    /// Element-by-element difference of two tensors of the same shape.
    public static func - (lhs: Tensor, rhs: Tensor) throws -> Tensor {
        try binary(.subtract, lhs, rhs)
    }

    /// Element-by-element product of two tensors of the same shape.
    public static func * (lhs: Tensor, rhs: Tensor) throws -> Tensor {
        try binary(.multiply, lhs, rhs)
    }

    /// The three element-by-element operations of two tensors.
    private enum BinaryOperation: String {
        case add, subtract, multiply
    }

    private static func binary(_ operation: BinaryOperation, _ lhs: Tensor, _ rhs: Tensor) throws -> Tensor {
        let backend = try commonBackend(operation.rawValue, lhs, rhs)
        try requireSameShape(operation.rawValue, lhs, rhs)
        let output = try lhs.emptyLike()
        let pointwise: PointwiseOperation
        switch operation {
        case .add: pointwise = .add(rhs.storage)
        case .subtract: pointwise = .subtract(rhs.storage)
        case .multiply: pointwise = .multiply(rhs.storage)
        }
        try backend.pointwise(pointwise, lhs.storage, output: output.storage, count: lhs.elementCount)
        return output.recording([lhs, rhs]) { gradient in
            switch operation {
            case .add: return [gradient, gradient]
            case .subtract: return [gradient, try gradient.scaled(by: -1)]
            case .multiply: return [try gradient * rhs, try gradient * lhs]
            }
        }
    }

    /// Every element multiplied by `factor`.
    public func scaled(by factor: Float) throws -> Tensor {
        let output = try emptyLike()
        try backend.pointwise(.scale(factor), storage, output: output.storage, count: elementCount)
        return output.recording([self]) { gradient in [try gradient.scaled(by: factor)] }
    }

    /// Adds `bias` (one value per element of the last axis) to every row.
    public func addingBias(_ bias: Tensor) throws -> Tensor {
        let backend = try Tensor.commonBackend("addBias", self, bias)
        guard bias.shape.rank == 1, bias.shape[0] == shape.last else {
            throw ViTError.shapeMismatch(operation: "addBias", detail: "bias \(bias.shape) does not match the last axis of \(shape)")
        }
        let output = try emptyLike()
        try backend.pointwise(.addBias(bias.storage, columns: shape.last), storage, output: output.storage, count: elementCount)
        let rows = shape.rowCount
        return output.recording([self, bias]) { gradient in
            [gradient, try gradient.reshaped([rows, bias.shape[0]]).sum(axis: 0)]
        }
    }
}
