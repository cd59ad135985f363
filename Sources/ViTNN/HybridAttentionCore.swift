import ViTCore

/// Hybrid attention's hyperparameters (`hybrid_local_heads`, `hybrid_local`, `hybrid_global`).
public struct HybridAttentionSettings: ConfigurationSection {
    /// The local heads' sparse pattern.
    public enum Local: String, ConfigurationChoice {
        case dilated, fibottention

        /// The mechanism that computes the local heads.
        public var kind: AttentionKind { self == .dilated ? .dilated : .fibottention }
    }

    /// The global heads' linear attention.
    public enum Global: String, ConfigurationChoice {
        case linear, performer

        /// The mechanism that computes the global heads.
        public var kind: AttentionKind { self == .linear ? .linear : .performer }
    }

    /// Heads that attend sparsely and locally (`--hybrid-local-heads`); the others attend
    /// globally. nil: half the heads.
    public var localHeads: Int?
    /// The local heads' pattern (`--hybrid-local`), with that mechanism's own settings.
    public var local = Local.dilated
    /// The global heads' mechanism (`--hybrid-global`), with that mechanism's own settings.
    public var global = Global.linear

    public init() {}

    public static var fields: [ConfigurationField<Self>] {
        [
            .optional("hybrid_local_heads", \.localHeads), .choice("hybrid_local", \.local, flag: "--hybrid-local"),
            .choice("hybrid_global", \.global, flag: "--hybrid-global"),
        ]
    }

    public func validate(in configuration: ViTConfiguration) throws {
        let heads = configuration.numAttentionHeads
        if let localHeads, !(0...heads).contains(localHeads) {
            throw ViTError.invalidArgument(
                operation: "config", detail: "hybrid_local_heads (--hybrid-local-heads) must be between 0 and the \(heads) heads, got \(localHeads)")
        }
    }

    /// The hybrid core: each group is built by the factory as the core of a model of just its
    /// heads, with the same head size.
    func makeCore(configuration: ViTConfiguration, layer: Int, on backend: Backend, generator: inout SeededRandomGenerator) throws -> AttentionCore {
        let heads = configuration.numAttentionHeads
        let localHeads = localHeads ?? heads / 2
        func group(_ kind: AttentionKind, heads groupHeads: Int, generator: inout SeededRandomGenerator) throws -> AttentionCore? {
            guard groupHeads > 0 else { return nil }
            var part = configuration
            part.attention.kind = kind
            part.attention.hybrid = HybridAttentionSettings()
            part.numAttentionHeads = groupHeads
            part.hiddenSize = groupHeads * configuration.headSize
            return try AttentionFactory.makeCore(kind, configuration: part, layer: layer, on: backend, generator: &generator)
        }
        return HybridAttentionCore(
            heads: heads, localHeads: localHeads,
            local: try group(local.kind, heads: localHeads, generator: &generator),
            global: try group(global.kind, heads: heads - localHeads, generator: &generator))
    }
}

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
        let (queries, keys, values) = (
            try query.split(axis: 1, sizes: sizes), try key.split(axis: 1, sizes: sizes), try value.split(axis: 1, sizes: sizes)
        )
        let outputs = try groups.indices.map { group in
            try groups[group].0(query: queries[group], key: keys[group], value: values[group], context: context)
        }
        return try concatenate(outputs, axis: 1)
    }

    /// Both groups' tensors, under `local.` and `global.`.
    public var stateTensors: [(name: String, tensor: Tensor)] {
        (local?.tensors(prefixed: "local") ?? []) + (global?.tensors(prefixed: "global") ?? [])
    }

    /// The first group's reason, if either has one (the weights are the groups' side by side).
    public var attentionMapsUnavailableReason: String? {
        [local, global].lazy.compactMap { $0?.attentionMapsUnavailableReason }.first
    }

    public func multiplyAccumulates(tokens: Int, width: Int) -> Int {
        let headSize = width / heads
        return (local?.multiplyAccumulates(tokens: tokens, width: localHeads * headSize) ?? 0)
            + (global?.multiplyAccumulates(tokens: tokens, width: (heads - localHeads) * headSize) ?? 0)
    }
}
