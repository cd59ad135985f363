/// The row softmax (Kernels/softmax.cl).
public protocol SoftmaxKernels {
    /// Softmax over each row.
    func softmaxForward(_ input: DeviceStorage, output: DeviceStorage, rows: Int, columns: Int) throws
    /// Gradient of the row softmax from its output: `dx = y * (dy - sum(dy * y))`.
    func softmaxBackward(output: DeviceStorage, outputGradient: DeviceStorage, inputGradient: DeviceStorage, rows: Int, columns: Int) throws
}

/// Dropout from a counter-based stream (Kernels/dropout.cl).
public protocol DropoutKernels {
    /// Inverted dropout with a counter-based random stream: element i is kept when
    /// `uniform(seed, offset, i) >= probability` and then scaled by 1 / (1 - probability).
    /// The same call on the gradient gives the backward pass, on every backend alike.
    func dropout(_ input: DeviceStorage, output: DeviceStorage, count: Int, probability: Float, seed: UInt32, offset: UInt32) throws
}

extension Tensor {
    /// GELU in its exact erf form (PyTorch's default `approximate='none'`).
    public func gelu() throws -> Tensor {
        let output = try emptyLike()
        try backend.pointwise(.gelu, storage, output: output.storage, count: elementCount)
        return output.recording([self]) { gradient in
            let inputGradient = try self.emptyLike()
            try self.backend.pointwise(
                .geluGradient(outputGradient: gradient.storage), self.storage, output: inputGradient.storage, count: self.elementCount)
            return [inputGradient]
        }
    }

    /// Softmax over the last axis.
    public func softmax() throws -> Tensor {
        try requireRank(atLeast: 1, "softmax")
        let output = try emptyLike()
        let (rows, columns) = (shape.rowCount, shape.last)
        try backend.kernels(SoftmaxKernels.self).softmaxForward(storage, output: output.storage, rows: rows, columns: columns)
        let probabilities = output.storage
        return output.recording([self]) { gradient in
            let inputGradient = try self.emptyLike()
            try self.backend.kernels(SoftmaxKernels.self).softmaxBackward(
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
        try backend.kernels(DropoutKernels.self).dropout(
            storage, output: output.storage, count: elementCount, probability: probability, seed: seed, offset: offset)
        return output.recording([self]) { gradient in
            let inputGradient = try gradient.emptyLike()
            try gradient.backend.kernels(DropoutKernels.self).dropout(
                gradient.storage, output: inputGradient.storage, count: gradient.elementCount, probability: probability, seed: seed, offset: offset)
            return [inputGradient]
        }
    }
}
