import ViTCore

/// The weights [batch, heads, tokens, tokens] with which `core` mixes the values for this
/// query and key: A with `core(Q, K, V) = A V` for every V. Every core's output is linear in
/// V with weights that depend on Q and K alone, so A is read off by passing the identity as
/// the values: blocks of `headSize` of its columns at a time, since the kernels take values
/// of the query's shape, and the outputs side by side are A's columns. Nothing is
/// approximated beyond what the core itself computes: these are the weights it applies.
/// Costs ceil(tokens / headSize) forward passes of the core, so it is meant for small token counts.
public func impliedAttentionWeights(of core: AttentionCore, query: Tensor, key: Tensor) throws -> Tensor {
    guard query.shape.rank == 4, key.shape == query.shape else {
        throw ViTError.shapeMismatch(
            operation: "attention weights", detail: "Q and K must both be [batch, heads, tokens, headSize], got \(query.shape) and \(key.shape)")
    }
    let (batch, heads, tokens, headSize) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
    let context = ForwardContext(training: false)
    return try GradientMode.withoutGradient {
        let columns = try stride(from: 0, to: tokens, by: headSize).map { first in
            // Value j of this block is the one-hot vector of token first + j (zero past the last token).
            var block = [Float](repeating: 0, count: tokens * headSize)
            for column in 0..<min(headSize, tokens - first) { block[(first + column) * headSize + column] = 1 }
            let values = try Tensor(block, shape: [tokens * headSize], on: query.backend).expanded(axis: 0, count: batch * heads)
            return try core(query: query, key: key, value: values.reshaped(query.shape), context: context)
        }
        return try concatenate(columns, axis: 3).sliced(axis: 3, 0..<tokens)
    }
}
