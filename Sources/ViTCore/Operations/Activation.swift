extension Tensor {
    /// GELU in its exact erf form (PyTorch's default `approximate='none'`).
    public func gelu() throws -> Tensor {
        let output = try emptyLike()
        try backend.geluForward(storage, output: output.storage, count: elementCount)
        return output.recording([self]) { gradient in
            let inputGradient = try self.emptyLike()
            try self.backend.geluBackward(
                self.storage, outputGradient: gradient.storage, inputGradient: inputGradient.storage, count: self.elementCount)
            return [inputGradient]
        }
    }

    /// Softmax over the last axis.
    public func softmax() throws -> Tensor {
        try requireRank(atLeast: 1, "softmax")
        let output = try emptyLike()
        let (rows, columns) = (shape.rowCount, shape.last)
        try backend.softmaxForward(storage, output: output.storage, rows: rows, columns: columns)
        let probabilities = output.storage
        return output.recording([self]) { gradient in
            let inputGradient = try self.emptyLike()
            try self.backend.softmaxBackward(
                output: probabilities, outputGradient: gradient.storage, inputGradient: inputGradient.storage, rows: rows, columns: columns)
            return [inputGradient]
        }
    }

    /// Inverted dropout: each element is zeroed with `probability` and the rest scaled by
    /// 1 / (1 - probability). The mask is a function of (seed, offset, element index), so
    /// every backend draws the same one and the backward pass regenerates it.
    public func dropout(probability: Float, seed: UInt32, offset: UInt32) throws -> Tensor {
        guard probability >= 0, probability < 1 else {
            throw ViTError.invalidArgument(operation: "dropout", detail: "probability \(probability) must be in [0, 1)")
        }
        if probability == 0 { return self }
        let output = try emptyLike()
        try backend.dropout(storage, output: output.storage, count: elementCount, probability: probability, seed: seed, offset: offset)
        return output.recording([self]) { gradient in
            let inputGradient = try gradient.emptyLike()
            try gradient.backend.dropout(
                gradient.storage, output: inputGradient.storage, count: gradient.elementCount, probability: probability, seed: seed, offset: offset)
            return [inputGradient]
        }
    }
}
