import ViTCore

/// An attention mechanism behind the interface every transformer block uses: tokens
/// [batch, tokens, width] in, the same shape out, after the output projection.
public protocol AttentionMechanism: Layer {
    func callAsFunction(_ input: Tensor, context: ForwardContext) throws -> Tensor
    /// Multiply-accumulates per image for `tokens` tokens, projections included.
    func multiplyAccumulates(tokens: Int) -> Int
    /// The attention probabilities [batch, heads, tokens, tokens] of `input`, for
    /// visualisation; an error when `attentionMapsUnavailableReason` gives one.
    func attentionProbabilities(_ input: Tensor) throws -> Tensor
    /// Why the mechanism has no attention probabilities (one sentence), or nil when it has them.
    var attentionMapsUnavailableReason: String? { get }
}

/// The part of multi-head attention that mixes tokens: per-head query, key and value
/// [batch, heads, tokens, headSize] in, the per-head output of the same shape out. Exact
/// softmax attention, its efficient kernels and the approximate mechanisms differ only here.
/// A core lists its own tensors (most have none) in `stateTensors`, named relative to the core.
public protocol AttentionCore: Layer {
    func callAsFunction(query: Tensor, key: Tensor, value: Tensor, context: ForwardContext) throws -> Tensor
    /// Multiply-accumulates per image (all heads) for `tokens` tokens of `width` = heads x headSize.
    func multiplyAccumulates(tokens: Int, width: Int) -> Int
    /// The probabilities [batch, heads, tokens, tokens] the core mixes the values with, for
    /// visualisation. By default the weights the core applies (`impliedAttentionWeights`):
    /// for linear attention and Performer phi(q) . phi(k) over its sum over the keys (plus
    /// their epsilon), for the sparse cores the softmax over the kept pairs (chained passes
    /// multiplied), for Nystromformer the product of its three matrices. The exact softmax
    /// cores compute softmax(Q K^T / sqrt(d)) directly.
    func attentionProbabilities(query: Tensor, key: Tensor) throws -> Tensor
    /// Why the weights the core mixes the values with are no probabilities over the tokens
    /// (one sentence naming the mechanism), or nil when they are (the default).
    var attentionMapsUnavailableReason: String? { get }
}

extension AttentionCore {
    public func attentionProbabilities(query: Tensor, key: Tensor) throws -> Tensor {
        try impliedAttentionWeights(of: self, query: query, key: key)
    }

    public var attentionMapsUnavailableReason: String? { nil }
}

/// A core that computes exact softmax attention: 2 N^2 D multiply-accumulates, its
/// probabilities available for attention maps, no tensors of its own.
public protocol ExactAttentionCore: AttentionCore {}

extension ExactAttentionCore {
    public func multiplyAccumulates(tokens: Int, width: Int) -> Int {
        2 * tokens * tokens * width
    }

    public func attentionProbabilities(query: Tensor, key: Tensor) throws -> Tensor {
        try softmaxProbabilities(query: query, key: key)
    }

    public var stateTensors: [(name: String, tensor: Tensor)] { [] }
}

/// softmax(Q K^T / sqrt(d)) [batch, heads, tokens, tokens] of per-head Q and K.
func softmaxProbabilities(query: Tensor, key: Tensor) throws -> Tensor {
    try matmul(query, key, transposeB: true, alpha: 1 / Float(query.shape[3]).squareRoot()).softmax()
}

/// Multi-head attention: the Q, K and V projections, an `AttentionCore`, and the output
/// projection `proj`.
public final class MultiHeadAttention: AttentionMechanism {
    /// The Q, K and V projections: timm's one merged map, or three separate ones.
    public enum Projections {
        /// One [3 width, width] map whose output holds Q, K and V in turn (timm's `qkv`).
        case merged(Linear)
        /// Three [width, width] maps (`q`, `k`, `v`).
        case separate(query: Linear, key: Linear, value: Linear)

        /// Per-head query, key and value [batch, heads, tokens, width / heads] of `input` [batch, tokens, width].
        func queryKeyValue(_ input: Tensor, heads: Int) throws -> (query: Tensor, key: Tensor, value: Tensor) {
            let (batch, tokens, width) = (input.shape[0], input.shape[1], input.shape[2])
            let headSize = width / heads
            switch self {
            case .merged(let layer):
                // [B, N, 3D] -> [3, B, H, N, d]; the three parts are then contiguous slices.
                let packed = try layer(input).reshaped([batch, tokens, 3, heads, headSize]).permuted([2, 0, 3, 1, 4])
                let parts = try packed.split(axis: 0, sizes: [1, 1, 1]).map { try $0.reshaped([batch, heads, tokens, headSize]) }
                return (parts[0], parts[1], parts[2])
            case .separate(let query, let key, let value):
                let split = { (layer: Linear) in try layer(input).reshaped([batch, tokens, heads, headSize]).permuted([0, 2, 1, 3]) }
                return (try split(query), try split(key), try split(value))
            }
        }

        /// The projections' tensors with timm's names.
        var stateTensors: [(name: String, tensor: Tensor)] {
            switch self {
            case .merged(let layer):
                return layer.tensors(prefixed: "qkv")
            case .separate(let query, let key, let value):
                return query.tensors(prefixed: "q") + key.tensors(prefixed: "k") + value.tensors(prefixed: "v")
            }
        }
    }

    public let projections: Projections
    public let core: AttentionCore
    public let projection: Linear
    let heads: Int
    let outputDropout: Float

    /// `mergedProjection`: timm's one `qkv` map, else separate `q`, `k` and `v` maps.
    public init(
        configuration: ViTConfiguration, mergedProjection: Bool, core: AttentionCore, on backend: Backend,
        generator: inout SeededRandomGenerator
    ) throws {
        let width = configuration.hiddenSize
        let deviation = configuration.initializerRange
        func projection(_ outputs: Int, bias: Bool) throws -> Linear {
            try Linear(inputSize: width, outputSize: outputs, bias: bias, standardDeviation: deviation, on: backend, generator: &generator)
        }
        let bias = configuration.qkvBias
        projections =
            mergedProjection
            ? .merged(try projection(3 * width, bias: bias))
            : .separate(query: try projection(width, bias: bias), key: try projection(width, bias: bias), value: try projection(width, bias: bias))
        self.projection = try projection(width, bias: true)
        self.core = core
        heads = configuration.numAttentionHeads
        outputDropout = configuration.hiddenDropoutProb
    }

    public func callAsFunction(_ input: Tensor, context: ForwardContext) throws -> Tensor {
        let (query, key, value) = try projections.queryKeyValue(input, heads: heads)
        let mixed = try core(query: query, key: key, value: value, context: context)
            .permuted([0, 2, 1, 3]).reshaped(input.shape)
        return try context.dropout(try projection(mixed), probability: outputDropout)
    }

    /// The core's probabilities for `input`, computed only when asked for, without gradients.
    public func attentionProbabilities(_ input: Tensor) throws -> Tensor {
        if let reason = core.attentionMapsUnavailableReason {
            throw ViTError.invalidArgument(operation: "attention maps", detail: reason)
        }
        return try GradientMode.withoutGradient {
            let (query, key, _) = try projections.queryKeyValue(input, heads: heads)
            return try core.attentionProbabilities(query: query, key: key)
        }
    }

    public var attentionMapsUnavailableReason: String? { core.attentionMapsUnavailableReason }

    public func multiplyAccumulates(tokens: Int) -> Int {
        let width = projection.weight.shape[0]
        // Q, K, V and output projections, then the core.
        return 4 * tokens * width * width + core.multiplyAccumulates(tokens: tokens, width: width)
    }

    public var stateTensors: [(name: String, tensor: Tensor)] {
        projections.stateTensors + core.tensors(prefixed: "core") + projection.tensors(prefixed: "proj")
    }
}

/// Exact softmax attention that materialises the [tokens, tokens] probabilities of every
/// head: softmax(Q K^T / sqrt(d)) V. The reference the efficient cores are checked against.
public final class MaterializedAttentionCore: ExactAttentionCore {
    let dropout: Float

    public init(dropout: Float) {
        self.dropout = dropout
    }

    public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, context: ForwardContext) throws -> Tensor {
        let probabilities = try context.dropout(try softmaxProbabilities(query: query, key: key), probability: dropout)
        return try matmul(probabilities, value)
    }
}

/// Exact softmax attention through the tiled flash kernels: the same result as
/// `MaterializedAttentionCore` with memory linear in the token count, dropout on the
/// probabilities included (drawn inside the kernels from the context's stream, the mask the
/// materialised core's `context.dropout` would draw).
public final class FlashAttentionCore: ExactAttentionCore {
    let dropout: Float

    public init(dropout: Float = 0) {
        self.dropout = dropout
    }

    public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, context: ForwardContext) throws -> Tensor {
        try flashAttention(query: query, key: key, value: value, dropout: context.dropoutStream(probability: dropout))
    }
}
