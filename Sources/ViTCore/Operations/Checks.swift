extension Tensor {
    /// The backend shared by `tensors`, or a `deviceMismatch` error naming the operation.
    static func commonBackend(_ operation: String, _ tensors: Tensor...) throws -> Backend {
        let first = tensors[0]
        for tensor in tensors.dropFirst() where tensor.backend !== first.backend {
            throw ViTError.deviceMismatch(operation: operation, first: "\(first.device)", second: "\(tensor.device)")
        }
        return first.backend
    }

    /// Throws unless `a` and `b` have the same shape.
    static func requireSameShape(_ operation: String, _ a: Tensor, _ b: Tensor) throws {
        guard a.shape == b.shape else {
            throw ViTError.shapeMismatch(operation: operation, detail: "\(a.shape) and \(b.shape) differ")
        }
    }

    /// Throws unless this tensor has at least `rank` dimensions.
    func requireRank(atLeast rank: Int, _ operation: String) throws {
        guard shape.rank >= rank else {
            throw ViTError.invalidArgument(operation: operation, detail: "needs a tensor of rank \(rank) or more, got \(shape)")
        }
    }

    /// A new uninitialised tensor on this tensor's backend.
    func emptyLike(_ shape: Shape? = nil) throws -> Tensor {
        try Tensor.empty(shape ?? self.shape, on: backend)
    }
}
