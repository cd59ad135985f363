/// Exact softmax attention without the N x N matrix: `softmax(Q K^T / sqrt(D) + bias) V` for
/// query, key and value [batch, heads, tokens, headSize], with an optional additive `bias`
/// [heads, tokens, tokens] (use -infinity to mask; a fully masked row gives 0). Memory is
/// linear in the token count; gradients flow to Q, K and V (not to the bias).
public func flashAttention(query: Tensor, key: Tensor, value: Tensor, bias: Tensor? = nil) throws -> Tensor {
    let backend = try Tensor.commonBackend("flashAttention", query, key, value)
    guard query.shape.rank == 4, key.shape == query.shape, value.shape == query.shape else {
        throw ViTError.shapeMismatch(
            operation: "flashAttention",
            detail: "query, key and value must share one [batch, heads, tokens, headSize] shape, got \(query.shape), \(key.shape), \(value.shape)")
    }
    let (batch, heads, tokens, headSize) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
    if let bias {
        _ = try Tensor.commonBackend("flashAttention", query, bias)
        guard bias.shape == [heads, tokens, tokens] else {
            throw ViTError.shapeMismatch(
                operation: "flashAttention", detail: "bias \(bias.shape) must be [heads, tokens, tokens] = [\(heads), \(tokens), \(tokens)]")
        }
    }
    let scale = 1 / Float(max(headSize, 1)).squareRoot()
    let output = try query.emptyLike()
    let logSumExp = try Tensor.empty([batch, heads, tokens], on: backend)
    if output.elementCount > 0 {
        try backend.flashAttentionForward(
            query: query.storage, key: key.storage, value: value.storage, bias: bias?.storage, output: output.storage,
            logSumExp: logSumExp.storage, batch: batch, heads: heads, tokens: tokens, headSize: headSize, scale: scale)
    }
    let outputStorage = output.storage
    return output.recording([query, key, value]) { gradient in
        let gradients = try [query, key, value].map { try $0.emptyLike() }
        if gradient.elementCount > 0 {
            try backend.flashAttentionBackward(
                query: query.storage, key: key.storage, value: value.storage, bias: bias?.storage, output: outputStorage,
                logSumExp: logSumExp.storage, outputGradient: gradient.storage, queryGradient: gradients[0].storage,
                keyGradient: gradients[1].storage, valueGradient: gradients[2].storage, batch: batch, heads: heads, tokens: tokens,
                headSize: headSize, scale: scale)
        }
        return gradients
    }
}
