extension Tensor {
    /// Depthwise convolution along the token axis of [batch, heads, tokens, headSize] with a
    /// [heads, taps] weight (odd taps, centred, zero padding), as PyTorch's
    /// `Conv2d(H, H, (taps, 1), padding=(taps // 2, 0), groups=H, bias=False)` (see
    /// `SequenceConvolutionKernels`). Differentiable in the input and the weight.
    public func sequenceConvolution(weight: Tensor) throws -> Tensor {
        _ = try Tensor.commonBackend("sequenceConvolution", self, weight)
        guard shape.rank == 4, weight.shape.rank == 2, weight.shape[0] == shape[1], weight.shape[1] % 2 == 1 else {
            throw ViTError.shapeMismatch(
                operation: "sequenceConvolution",
                detail: "needs input [batch, heads, tokens, headSize] and weight [heads, odd taps], got \(shape) and \(weight.shape)")
        }
        let (batch, channels, tokens, width, taps) = (shape[0], shape[1], shape[2], shape[3], weight.shape[1])
        let output = try emptyLike()
        try backend.sequenceConvolutionForward(
            storage, weight: weight.storage, output: output.storage, batch: batch, channels: channels,
            tokens: tokens, width: width, taps: taps, reversed: false)
        return output.recording([self, weight]) { gradient in
            let inputGradient = try self.emptyLike()
            try self.backend.sequenceConvolutionForward(
                gradient.storage, weight: weight.storage, output: inputGradient.storage, batch: batch,
                channels: channels, tokens: tokens, width: width, taps: taps, reversed: true)
            let weightGradient = try weight.emptyLike()
            try self.backend.sequenceConvolutionWeightGradient(
                outputGradient: gradient.storage, input: self.storage, weightGradient: weightGradient.storage,
                batch: batch, channels: channels, tokens: tokens, width: width, taps: taps)
            return [inputGradient, weightGradient]
        }
    }
}
