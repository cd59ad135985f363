import ViTCore

/// An attention mechanism behind the interface every transformer block uses: tokens
/// [batch, tokens, width] in, the same shape out, after the output projection.
public protocol AttentionMechanism: Layer {
    func callAsFunction(_ input: Tensor, context: ForwardContext) throws -> Tensor
    /// Multiply-accumulates per image for `tokens` tokens, projections included.
    func multiplyAccumulates(tokens: Int) -> Int
}

/// The part of multi-head attention that mixes tokens: per-head query, key and value
/// [batch, heads, tokens, headSize] in, the per-head output of the same shape out. Exact
/// softmax attention, its efficient kernels and the approximate mechanisms differ only here.
public protocol AttentionCore: AnyObject {
    func callAsFunction(query: Tensor, key: Tensor, value: Tensor, context: ForwardContext) throws -> Tensor
    /// Multiply-accumulates per image (all heads) for `tokens` tokens of `width` = heads x headSize.
    func multiplyAccumulates(tokens: Int, width: Int) -> Int
    /// The core's own parameters (most have none), named relative to the core.
    var namedParameters: [(name: String, tensor: Tensor)] { get }
}

extension AttentionCore {
    public var namedParameters: [(name: String, tensor: Tensor)] { [] }
}

/// Multi-head attention: Q, K and V projections (one merged `qkv` GEMM in timm's layout, or
/// separate `q`, `k`, `v`), an `AttentionCore`, and the output projection `proj`.
public final class MultiHeadAttention: AttentionMechanism {
    public let queryKeyValue: Linear?
    public let separateProjections: (query: Linear, key: Linear, value: Linear)?
    public let core: AttentionCore
    public let projection: Linear
    let heads: Int
    let outputDropout: Float

    public init(configuration: ViTConfiguration, mergedProjection: Bool, core: AttentionCore, on backend: Backend,
                generator: inout SeededRandomGenerator) throws {
        let width = configuration.hiddenSize
        let deviation = configuration.initializerRange
        func projection(_ outputs: Int, bias: Bool) throws -> Linear {
            try Linear(inputSize: width, outputSize: outputs, bias: bias, standardDeviation: deviation, on: backend, generator: &generator)
        }
        if mergedProjection {
            queryKeyValue = try projection(3 * width, bias: configuration.qkvBias)
            separateProjections = nil
        } else {
            queryKeyValue = nil
            separateProjections = (try projection(width, bias: configuration.qkvBias), try projection(width, bias: configuration.qkvBias),
                                   try projection(width, bias: configuration.qkvBias))
        }
        self.projection = try projection(width, bias: true)
        self.core = core
        heads = configuration.numAttentionHeads
        outputDropout = configuration.hiddenDropoutProb
    }

    public func callAsFunction(_ input: Tensor, context: ForwardContext) throws -> Tensor {
        let (batch, tokens, width) = (input.shape[0], input.shape[1], input.shape[2])
        let headSize = width / heads
        let query, key, value: Tensor
        if let queryKeyValue {
            // [B, N, 3D] -> [3, B, H, N, d]; the three parts are then contiguous slices.
            let packed = try queryKeyValue(input).reshaped([batch, tokens, 3, heads, headSize]).permuted([2, 0, 3, 1, 4])
            let parts = try packed.split(axis: 0, sizes: [1, 1, 1]).map { try $0.reshaped([batch, heads, tokens, headSize]) }
            (query, key, value) = (parts[0], parts[1], parts[2])
        } else {
            let (queryLayer, keyLayer, valueLayer) = separateProjections!
            let split = { (layer: Linear) in try layer(input).reshaped([batch, tokens, self.heads, headSize]).permuted([0, 2, 1, 3]) }
            (query, key, value) = (try split(queryLayer), try split(keyLayer), try split(valueLayer))
        }
        let mixed = try core(query: query, key: key, value: value, context: context)
            .permuted([0, 2, 1, 3]).reshaped([batch, tokens, width])
        return try context.dropout(try projection(mixed), probability: outputDropout)
    }

    /// The attention probabilities softmax(Q K^T / sqrt(d)) [batch, heads, tokens, tokens] of
    /// `input`, for visualisation: computed only when asked for, whatever the core, since
    /// the efficient cores never hold them.
    public func probabilities(_ input: Tensor) throws -> Tensor {
        try GradientMode.withoutGradient {
            let (batch, tokens, width) = (input.shape[0], input.shape[1], input.shape[2])
            let headSize = width / heads
            let split = { (layer: Linear, part: Int) -> Tensor in
                try layer(input).reshaped([batch, tokens, layer === self.queryKeyValue ? 3 : 1, self.heads, headSize])
                    .sliced(axis: 2, part..<(part + 1)).reshaped([batch, tokens, self.heads, headSize]).permuted([0, 2, 1, 3])
            }
            let (query, key): (Tensor, Tensor)
            if let queryKeyValue {
                (query, key) = (try split(queryKeyValue, 0), try split(queryKeyValue, 1))
            } else {
                let (queryLayer, keyLayer, _) = separateProjections!
                (query, key) = (try split(queryLayer, 0), try split(keyLayer, 0))
            }
            return try matmul(query, key, transposeB: true, alpha: 1 / Float(headSize).squareRoot()).softmax()
        }
    }

    public func multiplyAccumulates(tokens: Int) -> Int {
        let width = projection.weight.shape[0]
        // Q, K, V and output projections, then the core.
        return 4 * tokens * width * width + core.multiplyAccumulates(tokens: tokens, width: width)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        let projections: [(name: String, tensor: Tensor)]
        if let queryKeyValue {
            projections = queryKeyValue.parameters(prefixed: "qkv")
        } else {
            let (query, key, value) = separateProjections!
            projections = query.parameters(prefixed: "q") + key.parameters(prefixed: "k") + value.parameters(prefixed: "v")
        }
        return projections + core.namedParameters.map { ("core." + $0.name, $0.tensor) } + projection.parameters(prefixed: "proj")
    }
}

/// Exact softmax attention that materialises the [tokens, tokens] probabilities of every
/// head: softmax(Q K^T / sqrt(d)) V. The reference the efficient cores are checked against.
public final class MaterializedAttentionCore: AttentionCore {
    let dropout: Float

    public init(dropout: Float) {
        self.dropout = dropout
    }

    public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, context: ForwardContext) throws -> Tensor {
        let scores = try matmul(query, key, transposeB: true, alpha: 1 / Float(query.shape[3]).squareRoot())
        let probabilities = try context.dropout(try scores.softmax(), probability: dropout)
        return try matmul(probabilities, value)
    }

    public func multiplyAccumulates(tokens: Int, width: Int) -> Int {
        2 * tokens * tokens * width
    }
}

/// Exact softmax attention through the tiled flash kernels: the same result as
/// `MaterializedAttentionCore` with memory linear in the token count.
public final class FlashAttentionCore: AttentionCore {
    public init() {}

    public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, context: ForwardContext) throws -> Tensor {
        try flashAttention(query: query, key: key, value: value)
    }

    public func multiplyAccumulates(tokens: Int, width: Int) -> Int {
        2 * tokens * tokens * width
    }
}

/// Builds the attention mechanism a configuration names.
public enum AttentionFactory {
    /// `layer` is the block's index (0-based); per-layer patterns (Fibottention's head shuffle) depend on it.
    public static func make(configuration: ViTConfiguration, layer: Int = 0, on backend: Backend,
                            generator: inout SeededRandomGenerator) throws -> AttentionMechanism {
        let kind = AttentionKind(rawValue: configuration.attentionType) ?? .standard
        let core = try makeCore(kind, configuration: configuration, layer: layer, on: backend, generator: &generator)
        return try MultiHeadAttention(configuration: configuration, mergedProjection: kind != .standardSeparate, core: core, on: backend,
                                      generator: &generator)
    }

    /// The core of `kind`, alone (the attention benchmark times cores on given Q, K, V).
    public static func makeCore(_ kind: AttentionKind, configuration: ViTConfiguration, layer: Int = 0, on backend: Backend,
                                generator: inout SeededRandomGenerator) throws -> AttentionCore {
        switch kind {
        case .standard, .standardSeparate:
            // The flash kernels have no dropout on the probabilities; with attention dropout
            // the materialised core keeps the semantics (at N x N memory).
            return configuration.attentionProbsDropoutProb > 0
                ? MaterializedAttentionCore(dropout: configuration.attentionProbsDropoutProb) : FlashAttentionCore()
        case .naive:
            return MaterializedAttentionCore(dropout: configuration.attentionProbsDropoutProb)
        case .fibottention, .dilated, .axial:
            return try SparseAttentionFactory.makeCore(kind, configuration: configuration, layer: layer)
        case .performer:
            let features = try RandomFeatures(count: configuration.performerFeatureCount, headSize: configuration.headSize,
                                              redrawInterval: configuration.performerRedraw, seed: generator.next(), on: backend)
            return LinearAttentionCore(featureMap: .favor(features), headSize: configuration.headSize)
        case .linear:
            return LinearAttentionCore(featureMap: .eluPlusOne, headSize: configuration.headSize)
        case .linformer:
            return try LinformerCore(tokens: configuration.tokenCount, projectedLength: configuration.linformerK,
                                     dropout: configuration.attentionProbsDropoutProb, on: backend, generator: &generator)
        case .nystromformer:
            let convolutionWeight = try configuration.nystromConv.map { taps in
                try NystromCore.makeConvolutionWeight(heads: configuration.numAttentionHeads, taps: taps, on: backend, generator: &generator)
            }
            return NystromCore(landmarks: configuration.nystromLandmarks, headSize: configuration.headSize, dropout: configuration.attentionProbsDropoutProb,
                               convolutionWeight: convolutionWeight)
        case .hybrid:
            return try HybridAttentionCore.make(configuration: configuration, layer: layer, on: backend, generator: &generator)
        }
    }
}
