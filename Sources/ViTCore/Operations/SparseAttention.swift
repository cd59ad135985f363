/// How the (query, key) pairs outside a sparse attention pattern enter the softmax.
public enum SparseAttentionMaskMode: String, CaseIterable, Sendable {
    /// Masked logits are 0, not -inf: the official Fibottention code multiplies the logits by
    /// the 0/1 mask before the softmax, so each masked key keeps the weight exp(0).
    case zero
    /// True masking (logit -inf): only the pattern's keys count; a query without any key
    /// gets the output 0.
    case negativeInfinity = "neg-inf"
}

/// A sparse attention pattern on one device, for every head: the kept (query, key) pairs as
/// row lists (keys of each query, for the forward pass and dQ) and as column lists (queries
/// of each key, for dK and dV, so every output element has one writer and no float atomics
/// are needed). All four arrays are int32 in one buffer (bit patterns in a float storage):
///
///     [rowOffsets | columnIndices | columnOffsets | rowIndices | bands' table, if any]
///
/// `rowOffsets[h (N + 1) + i] ..< rowOffsets[h (N + 1) + i + 1]` are the positions in
/// `columnIndices` of head h's query i (positions count from the start of `columnIndices`,
/// heads one after the other); `columnOffsets` and `rowIndices` likewise per key.
public struct SparseAttentionIndex {
    /// The buffer, on `backend`.
    public let storage: DeviceStorage
    /// The device that holds `storage`.
    public let backend: Backend
    /// H: heads, each with its own pattern.
    public let heads: Int
    /// N: tokens (queries = keys).
    public let tokens: Int
    /// Kept pairs over all heads.
    public let nonzeroCount: Int
    /// The pattern's bands, whose table follows the lists in the buffer (at `bandsStart`),
    /// or nil.
    public let bands: SparseAttentionBands?

    public init(storage: DeviceStorage, backend: Backend, heads: Int, tokens: Int, nonzeroCount: Int, bands: SparseAttentionBands? = nil) {
        self.storage = storage
        self.backend = backend
        self.heads = heads
        self.tokens = tokens
        self.nonzeroCount = nonzeroCount
        self.bands = bands
    }

    /// Entries of each offsets array: H (N + 1).
    public var offsetCount: Int { heads * (tokens + 1) }
    /// Where `columnIndices` starts in the buffer.
    public var columnIndicesStart: Int { offsetCount }
    /// Where `columnOffsets` starts.
    public var columnOffsetsStart: Int { offsetCount + nonzeroCount }
    /// Where `rowIndices` starts.
    public var rowIndicesStart: Int { 2 * offsetCount + nonzeroCount }
    /// Where the bands' table starts (`SparseAttentionBands.packed`), after the lists.
    public var bandsStart: Int { 2 * offsetCount + 2 * nonzeroCount }
    /// Entries of the whole buffer.
    public var bufferCount: Int { bandsStart + (bands?.packedCount ?? 0) }
}

/// Attention restricted to a sparse pattern (Fibottention, dilated, axial), with time and
/// memory proportional to the kept pairs, never N x N.
///
/// Legend: B batch, H heads, N tokens, D head size; Q, K, V, O are [B, H, N, D]; S_i the
/// pattern's keys of query i (per head); s_ij = scale q_i . k_j.
/// - `negativeInfinity`: o_i = sum_{j in S_i} softmax_j(s_ij) v_j, 0 when S_i is empty.
/// - `zero`: the N - |S_i| masked keys have logit 0, so with V_all = sum_j v_j the softmax's
///   numerator gains exp(0) (V_all - sum_{j in S_i} v_j) and its denominator N - |S_i|.
public protocol SparseAttentionKernels {
    /// Forward pass: writes O and, per query, the log of the softmax's denominator
    /// `logSumExp` [B, H, N] (+inf for a query without keys), which the backward pass uses.
    /// `size`'s heads and tokens are the pattern's.
    func sparseAttentionForward(_ operands: AttentionOperands, index: SparseAttentionIndex, size: AttentionSize, mode: SparseAttentionMaskMode) throws
    /// Backward pass from the forward's O and `logSumExp`: dQ over row lists, dK and dV over
    /// column lists (each overwritten).
    func sparseAttentionBackward(
        _ operands: AttentionOperands, gradients: AttentionGradients, index: SparseAttentionIndex, size: AttentionSize,
        mode: SparseAttentionMaskMode) throws
}

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
    let size = AttentionSize(batch: batch, heads: heads, tokens: tokens, headSize: headSize, scale: scale ?? 1 / Float(headSize).squareRoot())
    let output = try query.emptyLike()
    // The operands hold the output's storage, not the output tensor: the backward rule keeps
    // them, and must not keep the tensor that owns it (no reference cycle).
    let operands = AttentionOperands(
        query: query.storage, key: key.storage, value: value.storage, output: output.storage,
        logSumExp: try backend.allocate(count: size.rows))
    let kernels = try backend.kernels(SparseAttentionKernels.self)
    try kernels.sparseAttentionForward(operands, index: index, size: size, mode: mode)
    return output.recording([query, key, value]) { gradient in
        let (queryGradient, keyGradient, valueGradient) = (try query.emptyLike(), try key.emptyLike(), try value.emptyLike())
        let gradients = AttentionGradients(
            output: gradient.storage, query: queryGradient.storage, key: keyGradient.storage, value: valueGradient.storage)
        try kernels.sparseAttentionBackward(operands, gradients: gradients, index: index, size: size, mode: mode)
        return [queryGradient, keyGradient, valueGradient]
    }
}
