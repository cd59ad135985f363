/// Exact softmax attention computed in tiles (FlashAttention 2): the N x N scores never
/// exist in memory.
///
/// Legend: B batch, H heads, N tokens, D head size. Query, key, value, output and their
/// gradients are [B, H, N, D]; `logSumExp` is [B, H, N] (the row log-sum-exp of the scaled,
/// biased scores, saved by the forward pass for the backward); the optional `bias` is
/// [H, N, N], added to the scaled scores of every batch item (a mask uses -infinity). A row
/// with every key masked produces 0 (its log-sum-exp is +infinity), not NaN.
public protocol AttentionKernels {
    /// `output = softmax(scale Q K^T + bias) V`, and each row's log-sum-exp.
    func flashAttentionForward(
        query: DeviceStorage, key: DeviceStorage, value: DeviceStorage, bias: DeviceStorage?, output: DeviceStorage,
        logSumExp: DeviceStorage, batch: Int, heads: Int, tokens: Int, headSize: Int, scale: Float
    ) throws

    /// Gradients of Q, K and V from the output's gradient, recomputing the probabilities
    /// tile by tile from Q, K and the saved log-sum-exp (overwrites the three gradients).
    func flashAttentionBackward(
        query: DeviceStorage, key: DeviceStorage, value: DeviceStorage, bias: DeviceStorage?, output: DeviceStorage,
        logSumExp: DeviceStorage, outputGradient: DeviceStorage, queryGradient: DeviceStorage, keyGradient: DeviceStorage,
        valueGradient: DeviceStorage, batch: Int, heads: Int, tokens: Int, headSize: Int, scale: Float
    ) throws
}
