/// Layer norm over rows (Kernels/layernorm.cl).
public protocol LayerNormKernels {
    /// Layer norm over the last axis; saves each row's mean and 1/std for the backward pass.
    func layerNormForward(
        _ input: DeviceStorage, weight: DeviceStorage, bias: DeviceStorage, output: DeviceStorage,
        mean: DeviceStorage, inverseStandardDeviation: DeviceStorage, rows: Int, columns: Int, epsilon: Float
    ) throws
    /// Gradients of layer norm for the input, the weight and the bias (the latter two overwritten).
    func layerNormBackward(
        outputGradient: DeviceStorage, input: DeviceStorage, weight: DeviceStorage, mean: DeviceStorage,
        inverseStandardDeviation: DeviceStorage, inputGradient: DeviceStorage, weightGradient: DeviceStorage,
        biasGradient: DeviceStorage, rows: Int, columns: Int
    ) throws
}

extension Tensor {
    /// Layer norm over the last axis with a learned `weight` and `bias` (PyTorch's
    /// `nn.LayerNorm`, biased variance).
    public func layerNorm(weight: Tensor, bias: Tensor, epsilon: Float = 1e-5) throws -> Tensor {
        let backend = try Tensor.commonBackend("layerNorm", self, weight, bias)
        try requireRank(atLeast: 1, "layerNorm")
        let columns = shape.last
        guard weight.shape == [columns], bias.shape == [columns] else {
            throw ViTError.shapeMismatch(
                operation: "layerNorm", detail: "weight \(weight.shape) and bias \(bias.shape) must both be [\(columns)] for input \(shape)")
        }
        let rows = shape.rowCount
        let output = try emptyLike()
        let mean = try backend.allocate(count: rows)
        let inverseStandardDeviation = try backend.allocate(count: rows)
        try backend.kernels(LayerNormKernels.self).layerNormForward(
            storage, weight: weight.storage, bias: bias.storage, output: output.storage, mean: mean,
            inverseStandardDeviation: inverseStandardDeviation, rows: rows, columns: columns, epsilon: epsilon)
        return output.recording([self, weight, bias]) { gradient in
            let inputGradient = try self.emptyLike()
            // The parameters' gradients go straight into their zeroed arena gradients when they
            // have them (and are then not returned: nothing is left to accumulate).
            let (weightDestination, biasDestination) = (weight.takeZeroedGradient(), bias.takeZeroedGradient())
            let weightGradient = try weightDestination ?? weight.emptyLike()
            let biasGradient = try biasDestination ?? bias.emptyLike()
            try backend.kernels(LayerNormKernels.self).layerNormBackward(
                outputGradient: gradient.storage, input: self.storage, weight: weight.storage, mean: mean,
                inverseStandardDeviation: inverseStandardDeviation, inputGradient: inputGradient.storage,
                weightGradient: weightGradient.storage, biasGradient: biasGradient.storage, rows: rows, columns: columns)
            return [inputGradient, weightDestination == nil ? weightGradient : nil, biasDestination == nil ? biasGradient : nil]
        }
    }
}
