/// The storages of one attention call. Legend: B batch, H heads, N tokens, D head size.
/// Query, key, value and output are [B, H, N, D]; `logSumExp` [B, H, N] is each row's
/// log-sum-exp of the scaled (and biased) scores, which the forward pass saves for the
/// backward (+infinity for a row with every key masked).
public struct AttentionOperands {
    public var query: DeviceStorage
    public var key: DeviceStorage
    public var value: DeviceStorage
    public var output: DeviceStorage
    public var logSumExp: DeviceStorage

    public init(query: DeviceStorage, key: DeviceStorage, value: DeviceStorage, output: DeviceStorage, logSumExp: DeviceStorage) {
        (self.query, self.key, self.value, self.output, self.logSumExp) = (query, key, value, output, logSumExp)
    }
}

/// The gradients of an attention call's backward pass, all [B, H, N, D]: the output's
/// (read) and those of Q, K and V (overwritten).
public struct AttentionGradients {
    public var output: DeviceStorage
    public var query: DeviceStorage
    public var key: DeviceStorage
    public var value: DeviceStorage

    public init(output: DeviceStorage, query: DeviceStorage, key: DeviceStorage, value: DeviceStorage) {
        (self.output, self.query, self.key, self.value) = (output, query, key, value)
    }
}

/// The sizes of an attention call and the factor of its scores, `scale q . k` (1 / sqrt(D)).
public struct AttentionSize: Equatable, Sendable {
    public var batch: Int
    public var heads: Int
    public var tokens: Int
    public var headSize: Int
    public var scale: Float

    public init(batch: Int, heads: Int, tokens: Int, headSize: Int, scale: Float) {
        (self.batch, self.heads, self.tokens, self.headSize, self.scale) = (batch, heads, tokens, headSize, scale)
    }

    /// Rows of every head of every batch item: B H N.
    public var rows: Int { batch * heads * tokens }
}

/// Inverted dropout on the attention probabilities (PyTorch's `dropout(softmax(S)) V`):
/// probability (row i, column j) of head `pair` = b H + h is kept when
/// `CounterRandom.uniform(key(seed, offset), ((pair N + i) N + j) mod 2^32) >= probability` and
/// then scaled by 1 / (1 - probability), exactly the mask `Tensor.dropout` draws for the
/// [B, H, N, N] probability tensor with the same seed and offset. O = (M P / (1 - p)) V; the
/// log-sum-exp stays that of the undropped scores, and the backward pass regenerates the mask.
public struct AttentionDropout: Equatable, Sendable {
    public var probability: Float
    public var seed: UInt32
    public var offset: UInt32

    public init(probability: Float, seed: UInt32, offset: UInt32) {
        (self.probability, self.seed, self.offset) = (probability, seed, offset)
    }

    /// The key of the stream the mask draws from.
    public var key: UInt32 { CounterRandom.key(seed: seed, offset: offset) }

    /// The factor of a kept probability, 1 / (1 - probability).
    public var keepScale: Float { 1 / (1 - probability) }

    /// The index of probability (`row`, `column`) of head `pair` (b H + h) in the [B, H, N, N]
    /// probabilities, as the stream's 32-bit counter (truncated, as `Tensor.dropout`'s).
    @inline(__always)
    public static func index(pair: Int, row: Int, column: Int, tokens: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: (pair * tokens + row) * tokens + column)
    }
}

/// Exact softmax attention computed in tiles (FlashAttention 2, Kernels/flash_attention.cl):
/// the N x N scores never exist in memory. The optional `bias` is [H, N, N], added to the
/// scaled scores of every batch item (a mask uses -infinity). A row with every key masked
/// produces 0 (its log-sum-exp is +infinity), not NaN. `dropout` (nil for none; the tensor op
/// passes nil for probability 0) drops probabilities as `AttentionDropout` describes.
public protocol FlashAttentionKernels {
    /// `output = dropout(softmax(scale Q K^T + bias)) V`, and each row's log-sum-exp (of the
    /// undropped scores).
    func flashAttentionForward(_ operands: AttentionOperands, bias: DeviceStorage?, dropout: AttentionDropout?, size: AttentionSize) throws

    /// Gradients of Q, K and V from the output's gradient, recomputing the probabilities
    /// tile by tile from Q, K and the saved log-sum-exp, and the dropout mask from its stream:
    /// with P the probabilities, M the mask and q = 1 - p, dV = (M P / q)^T dO, dP = M (dO V^T) / q,
    /// D = rowsum(dO O) with O the (dropped) output, dS = P (dP - D).
    func flashAttentionBackward(
        _ operands: AttentionOperands, bias: DeviceStorage?, dropout: AttentionDropout?, gradients: AttentionGradients, size: AttentionSize)
        throws
}

/// Exact softmax attention without the N x N matrix: `softmax(Q K^T / sqrt(D) + bias) V` for
/// query, key and value [batch, heads, tokens, headSize], with an optional additive `bias`
/// [heads, tokens, tokens] (use -infinity to mask; a fully masked row gives 0), and optional
/// dropout on the probabilities (the same mask as `Tensor.dropout` of the materialised
/// probabilities with its seed and offset). Memory is linear in the token count; gradients
/// flow to Q, K and V (not to the bias).
public func flashAttention(query: Tensor, key: Tensor, value: Tensor, bias: Tensor? = nil, dropout: AttentionDropout? = nil) throws -> Tensor {
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
    if let dropout, !(dropout.probability >= 0 && dropout.probability < 1) {
        throw ViTError.invalidArgument(operation: "flashAttention", detail: "dropout probability \(dropout.probability) must be in [0, 1)")
    }
    // Probability 0 is no dropout: the kernels without it run.
    let dropout = dropout.flatMap { $0.probability > 0 ? $0 : nil }
    let size = AttentionSize(batch: batch, heads: heads, tokens: tokens, headSize: headSize, scale: 1 / Float(max(headSize, 1)).squareRoot())
    let output = try query.emptyLike()
    let logSumExp = try Tensor.empty([batch, heads, tokens], on: backend)
    let operands = AttentionOperands(
        query: query.storage, key: key.storage, value: value.storage, output: output.storage, logSumExp: logSumExp.storage)
    if output.elementCount > 0 {
        try backend.kernels(FlashAttentionKernels.self).flashAttentionForward(operands, bias: bias?.storage, dropout: dropout, size: size)
    }
    return output.recording([query, key, value]) { gradient in
        let gradients = try [query, key, value].map { try $0.emptyLike() }
        if gradient.elementCount > 0 {
            let attentionGradients = AttentionGradients(
                output: gradient.storage, query: gradients[0].storage, key: gradients[1].storage, value: gradients[2].storage)
            try backend.kernels(FlashAttentionKernels.self).flashAttentionBackward(
                operands, bias: bias?.storage, dropout: dropout, gradients: attentionGradients, size: size)
        }
        return gradients
    }
}
