/// Linear attention on per-head features and values (see `LinearAttentionKernels`):
/// `phi(Q) (phi(K)^T V) / (phi(Q) phi(K)^T 1 + epsilon)`, with `queryFeatures` and
/// `keyFeatures` [..., N, M] (positive) and `value` [..., N, D]. Result: [..., N, D].
/// Time and memory are linear in N: no N x N matrix is formed.
public func linearAttention(queryFeatures: Tensor, keyFeatures: Tensor, value: Tensor, epsilon: Float) throws -> Tensor {
    let backend = try Tensor.commonBackend("linearAttention", queryFeatures, keyFeatures, value)
    try Tensor.requireSameShape("linearAttention", queryFeatures, keyFeatures)
    try value.requireRank(atLeast: 2, "linearAttention")
    let leading = Array(value.shape.dimensions.dropLast())
    guard Array(queryFeatures.shape.dimensions.dropLast()) == leading else {
        throw ViTError.shapeMismatch(
            operation: "linearAttention", detail: "features \(queryFeatures.shape) and values \(value.shape) differ before the last axis")
    }
    guard epsilon >= 0 else {
        throw ViTError.invalidArgument(operation: "linearAttention", detail: "epsilon must not be negative, got \(epsilon)")
    }
    let (tokens, features, headSize) = (value.shape[-2], queryFeatures.shape.last, value.shape.last)
    let batch = leading.dropLast().reduce(1, *)
    let output = try value.emptyLike()
    let state = try Tensor.empty([batch, features, headSize + 1], on: backend)
    let denominator = try Tensor.empty([batch, tokens], on: backend)
    try backend.linearAttentionForward(
        queryFeatures: queryFeatures.storage, keyFeatures: keyFeatures.storage, value: value.storage,
        output: output.storage, state: state.storage, denominator: denominator.storage, batch: batch,
        tokens: tokens, features: features, headSize: headSize, epsilon: epsilon)
    let outputStorage = output.storage
    return output.recording([queryFeatures, keyFeatures, value]) { gradient in
        let gradients = try [queryFeatures.emptyLike(), keyFeatures.emptyLike(), value.emptyLike()]
        try backend.linearAttentionBackward(
            outputGradient: gradient.storage, output: outputStorage, state: state.storage,
            denominator: denominator.storage, queryFeatures: queryFeatures.storage,
            keyFeatures: keyFeatures.storage, value: value.storage,
            queryFeaturesGradient: gradients[0].storage, keyFeaturesGradient: gradients[1].storage,
            valueGradient: gradients[2].storage, batch: batch, tokens: tokens, features: features, headSize: headSize)
        return gradients
    }
}
