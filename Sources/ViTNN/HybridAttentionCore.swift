import ViTCore

/// Hybrid attention: the first `localHeads` heads attend sparsely and locally (dilated windows
/// or Fibottention's offsets, through the sparse kernels), the other heads attend globally
/// through linear attention (elu + 1 or Performer); the heads' outputs are concatenated, in
/// head order, before the block's output projection. Either group may be empty.
public final class HybridAttentionCore: AttentionCore {
    public let heads: Int
    public let localHeads: Int
    let local: AttentionCore?
    let global: AttentionCore?

    /// `local` computes heads 0 ..< localHeads, `global` heads localHeads ..< heads; each is nil
    /// exactly when its group is empty.
    public init(heads: Int, localHeads: Int, local: AttentionCore?, global: AttentionCore?) {
        self.heads = heads
        self.localHeads = localHeads
        self.local = local
        self.global = global
    }

    /// The hybrid core a configuration describes (`hybrid_local_heads`, `hybrid_local`, `hybrid_global`).
    static func make(configuration: ViTConfiguration, layer: Int, on backend: Backend, generator: inout SeededRandomGenerator) throws -> HybridAttentionCore {
        try configuration.validate()
        let heads = configuration.numAttentionHeads
        let localHeads = configuration.hybridLocalHeads ?? heads / 2
        // Each group is built as a model of its own heads with the same head size.
        func group(_ kindName: String, heads groupHeads: Int, generator: inout SeededRandomGenerator) throws -> AttentionCore? {
            guard groupHeads > 0, let kind = AttentionKind(rawValue: kindName) else { return nil }
            var part = configuration
            part.attentionType = kind.rawValue
            part.numAttentionHeads = groupHeads
            part.hiddenSize = groupHeads * configuration.headSize
            return try AttentionFactory.makeCore(kind, configuration: part, layer: layer, on: backend, generator: &generator)
        }
        return HybridAttentionCore(heads: heads, localHeads: localHeads,
                                   local: try group(configuration.hybridLocal, heads: localHeads, generator: &generator),
                                   global: try group(configuration.hybridGlobal, heads: heads - localHeads, generator: &generator))
    }

    public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, context: ForwardContext) throws -> Tensor {
        guard query.shape.rank == 4, query.shape[1] == heads else {
            throw ViTError.shapeMismatch(operation: "hybrid", detail: "needs [batch, \(heads) heads, tokens, headSize] tensors, got \(query.shape)")
        }
        let groups = [(local, localHeads), (global, heads - localHeads)].compactMap { core, count in core.map { ($0, count) } }
            .filter { $0.1 > 0 }
        if groups.count == 1 {
            return try groups[0].0(query: query, key: key, value: value, context: context)
        }
        let sizes = groups.map(\.1)
        let (queries, keys, values) = (try query.split(axis: 1, sizes: sizes), try key.split(axis: 1, sizes: sizes), try value.split(axis: 1, sizes: sizes))
        let outputs = try groups.indices.map { group in
            try groups[group].0(query: queries[group], key: keys[group], value: values[group], context: context)
        }
        return try concatenate(outputs, axis: 1)
    }

    public func multiplyAccumulates(tokens: Int, width: Int) -> Int {
        let headSize = width / heads
        return (local?.multiplyAccumulates(tokens: tokens, width: localHeads * headSize) ?? 0)
            + (global?.multiplyAccumulates(tokens: tokens, width: (heads - localHeads) * headSize) ?? 0)
    }
}
