/// Softmax attention restricted to a sparse pattern (see `SparseAttentionKernels`): query,
/// key and value [batch, heads, tokens, headSize] in, the per-head output of the same shape
/// out. Time and memory follow the pattern's kept pairs; `scale` defaults to 1 / sqrt(headSize).
public func sparseAttention(
    query: Tensor, key: Tensor, value: Tensor, index: SparseAttentionIndex, mode: SparseAttentionMaskMode, scale: Float? = nil
) throws -> Tensor {
    let operation = "sparseAttention"
    let backend = try Tensor.commonBackend(operation, query, key, value)
    try Tensor.requireSameShape(operation, query, key)
    try Tensor.requireSameShape(operation, query, value)
    guard query.shape.rank == 4 else {
        throw ViTError.invalidArgument(operation: operation, detail: "needs [batch, heads, tokens, headSize] tensors, got \(query.shape)")
    }
    let (batch, heads, tokens, headSize) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
    guard index.heads == heads, index.tokens == tokens else {
        throw ViTError.shapeMismatch(operation: operation, detail: "pattern for \(index.heads) heads x \(index.tokens) tokens, inputs \(query.shape)")
    }
    guard index.backend === backend else {
        throw ViTError.deviceMismatch(operation: operation, first: "\(query.device)", second: "\(index.backend.device)")
    }
    let factor = scale ?? 1 / Float(headSize).squareRoot()
    let output = try query.emptyLike()
    let logSumExp = try backend.allocate(count: batch * heads * tokens)
    try backend.sparseAttentionForward(
        query: query.storage, key: key.storage, value: value.storage, output: output.storage,
        logSumExp: logSumExp, index: index, batch: batch, headSize: headSize, scale: factor, mode: mode)
    // The backward rule keeps the output's storage, not the output tensor (no reference cycle).
    let outputStorage = output.storage
    return output.recording([query, key, value]) { gradient in
        let (queryGradient, keyGradient, valueGradient) = (try query.emptyLike(), try key.emptyLike(), try value.emptyLike())
        try backend.sparseAttentionBackward(
            query: query.storage, key: key.storage, value: value.storage, output: outputStorage, logSumExp: logSumExp,
            outputGradient: gradient.storage, queryGradient: queryGradient.storage, keyGradient: keyGradient.storage,
            valueGradient: valueGradient.storage, index: index, batch: batch, headSize: headSize, scale: factor, mode: mode)
        return [queryGradient, keyGradient, valueGradient]
    }
}
