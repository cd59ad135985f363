import ViTCore

/// The attention mechanisms `attention_type` and `--attention` can name.
public enum AttentionKind: String, ConfigurationChoice {
    /// Exact softmax attention through the tiled flash kernels, merged QKV projection (timm's layout).
    case standard
    /// Exact softmax attention with separate Q, K and V projections.
    case standardSeparate = "standard-separate"
    /// Exact softmax attention that materialises the N x N probabilities.
    case naive
    /// Fibottention: per-head Fibonacci-offset masks through the sparse kernels.
    case fibottention
    /// Dilated (atrous) attention: per-head dilated 2D windows through the sparse kernels.
    case dilated
    /// Axial attention: along the patch grid's rows, then its columns, through the sparse kernels.
    case axial
    /// Performer: linear attention with FAVOR+ positive orthogonal random features.
    case performer
    /// Linear attention with the feature map elu + 1 (Katharopoulos et al.).
    case linear
    /// Linformer: keys and values projected along the sequence to K rows.
    case linformer
    /// Nystromformer: softmax attention through M landmarks and a Moore-Penrose inverse.
    case nystromformer
    /// Hybrid: some heads sparse and local (dilated or Fibottention), the others global linear attention.
    case hybrid

    /// Whether the mechanism runs on the sparse attention kernels.
    public var isSparse: Bool { [.fibottention, .dilated, .axial].contains(self) }
}

/// The attention mechanism of every block and each mechanism's hyperparameters, one
/// settings type per mechanism. Every mechanism's settings are kept (and written to JSON)
/// whichever mechanism is chosen, so a configuration file round-trips unchanged.
public struct AttentionSettings: ConfigurationSection {
    /// The mechanism (`attention_type`, `--attention`).
    public var kind = AttentionKind.standard
    public var fibottention = FibottentionSettings()
    public var dilated = DilatedAttentionSettings()
    public var performer = PerformerSettings()
    public var linformer = LinformerSettings()
    public var nystromformer = NystromformerSettings()
    public var hybrid = HybridAttentionSettings()

    public init() {}

    public static var fields: [ConfigurationField<Self>] {
        [
            .choice("attention_type", \.kind), .section(\.fibottention), .section(\.dilated), .section(\.performer),
            .section(\.linformer), .section(\.nystromformer), .section(\.hybrid),
        ]
    }

    /// The mechanism whose pattern the sparse kernels run: the chosen one, or hybrid's local one.
    public var sparseKind: AttentionKind? {
        let local = kind == .hybrid ? hybrid.local.kind : kind
        return local.isSparse ? local : nil
    }

    public func validate(in configuration: ViTConfiguration) throws {
        guard sparseKind != nil, configuration.attentionProbsDropoutProb != 0 else { return }
        throw ViTError.invalidArgument(
            operation: "config",
            detail: "attention_probs_dropout_prob must be 0 with \(kind.rawValue) attention "
                + "(the sparse kernels do not drop attention probabilities), got \(configuration.attentionProbsDropoutProb)")
    }
}

/// Builds the attention mechanism a configuration names.
public enum AttentionFactory {
    /// `layer` is the block's index (0-based); per-layer patterns (Fibottention's head shuffle) depend on it.
    public static func make(
        configuration: ViTConfiguration, layer: Int = 0, on backend: Backend,
        generator: inout SeededRandomGenerator
    ) throws -> AttentionMechanism {
        let kind = configuration.attention.kind
        let core = try makeCore(kind, configuration: configuration, layer: layer, on: backend, generator: &generator)
        return try MultiHeadAttention(
            configuration: configuration, mergedProjection: kind != .standardSeparate, core: core, on: backend,
            generator: &generator)
    }

    /// The core of `kind` with the configuration's settings for it, alone (the attention
    /// benchmark times cores on given Q, K, V; hybrid attention builds its groups with it).
    public static func makeCore(
        _ kind: AttentionKind, configuration: ViTConfiguration, layer: Int = 0, on backend: Backend,
        generator: inout SeededRandomGenerator
    ) throws -> AttentionCore {
        let settings = configuration.attention
        try settings.validateSection(in: configuration)
        let heads = configuration.numAttentionHeads
        let dropout = configuration.attentionProbsDropoutProb
        switch kind {
        case .standard, .standardSeparate:
            return FlashAttentionCore(dropout: dropout)
        case .naive:
            return MaterializedAttentionCore(dropout: dropout)
        case .fibottention:
            return settings.fibottention.makeCore(configuration: configuration, layer: layer)
        case .dilated:
            return settings.dilated.makeCore(configuration: configuration)
        case .axial:
            return SparseAttentionCore(name: kind.rawValue, mode: .negativeInfinity) { tokens in
                let passes = try SparsePatterns.axial(tokens: tokens, heads: heads)
                return [passes.rows, passes.columns]
            }
        case .performer:
            return try settings.performer.makeCore(configuration: configuration, on: backend, generator: &generator)
        case .linear:
            return LinearAttentionCore(featureMap: .eluPlusOne, headSize: configuration.headSize)
        case .linformer:
            return try settings.linformer.makeCore(configuration: configuration, on: backend, generator: &generator)
        case .nystromformer:
            return try settings.nystromformer.makeCore(configuration: configuration, on: backend, generator: &generator)
        case .hybrid:
            return try settings.hybrid.makeCore(configuration: configuration, layer: layer, on: backend, generator: &generator)
        }
    }
}
