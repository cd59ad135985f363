import ViTCore

/// Attention through the sparse kernels (`sparseAttention`): Fibottention, dilated and axial
/// attention differ only in their patterns. With several patterns the passes chain, sharing
/// Q and K: pass 1 mixes V, pass 2 mixes pass 1's output, ... (axial: rows, then columns).
///
/// Patterns depend on the token count; each is built once per N on the host and uploaded
/// once per (N, device), then reused by every forward and backward pass of this core (one core
/// per layer, so per (pattern, N, heads, layer)).
public final class SparseAttentionCore: AttentionCore {
    /// The mechanism's name, for messages.
    public let name: String
    public let mode: SparseAttentionMaskMode
    let makePatterns: (Int) throws -> [SparseAttentionPattern]
    private var patterns: [Int: [SparseAttentionPattern]] = [:]
    private var indices: [(tokens: Int, backend: Backend, indices: [SparseAttentionIndex])] = []

    /// `makePatterns(tokens)` gives the passes' patterns (or throws for a token count the
    /// mechanism cannot handle).
    public init(name: String, mode: SparseAttentionMaskMode, makePatterns: @escaping (Int) throws -> [SparseAttentionPattern]) {
        self.name = name
        self.mode = mode
        self.makePatterns = makePatterns
    }

    /// The passes' patterns for `tokens` tokens, built on first use.
    public func patterns(tokens: Int) throws -> [SparseAttentionPattern] {
        if let cached = patterns[tokens] { return cached }
        let built = try makePatterns(tokens)
        patterns[tokens] = built
        return built
    }

    /// The patterns on `backend`, uploaded on first use.
    func deviceIndices(tokens: Int, on backend: Backend) throws -> [SparseAttentionIndex] {
        if let cached = indices.first(where: { $0.tokens == tokens && $0.backend === backend }) { return cached.indices }
        let uploaded = try patterns(tokens: tokens).map { try $0.upload(to: backend) }
        indices.append((tokens, backend, uploaded))
        return uploaded
    }

    public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, context: ForwardContext) throws -> Tensor {
        guard query.shape.rank == 4 else {
            throw ViTError.invalidArgument(operation: name, detail: "needs [batch, heads, tokens, headSize] tensors, got \(query.shape)")
        }
        var mixed = value
        for index in try deviceIndices(tokens: query.shape[2], on: query.backend) {
            mixed = try sparseAttention(query: query, key: key, value: mixed, index: index, mode: mode)
        }
        return mixed
    }

    public var stateTensors: [(name: String, tensor: Tensor)] { [] }

    public func multiplyAccumulates(tokens: Int, width: Int) -> Int {
        // Per kept pair and head: q . k and p v, D each.
        guard let passes = try? patterns(tokens: tokens), let heads = passes.first?.heads else { return 0 }
        return passes.reduce(0) { $0 + 2 * $1.nonzeroCount * (width / heads) }
    }
}
