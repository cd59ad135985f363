import ViTCore

/// Linformer's hyperparameter (`linformer_k`).
public struct LinformerSettings: ConfigurationSection {
    /// The projected length K (`--linformer-k`), at most the token count.
    public var projectedLength = 64

    public init() {}

    public static var fields: [ConfigurationField<Self>] {
        [.value("linformer_k", \.projectedLength)]
    }

    public func validate(in configuration: ViTConfiguration) throws {
        func fail(_ detail: String) -> ViTError { .invalidArgument(operation: "config", detail: detail) }
        guard projectedLength > 0 else { throw fail("linformer_k (--linformer-k) must be positive, got \(projectedLength)") }
        let tokens = configuration.tokenCount
        if configuration.attention.kind == .linformer && projectedLength > tokens {
            throw fail(
                "linformer_k (--linformer-k) \(projectedLength) is larger than the \(tokens) tokens it should compress; choose at most \(tokens)")
        }
    }

    func makeCore(configuration: ViTConfiguration, on backend: Backend, generator: inout SeededRandomGenerator) throws -> AttentionCore {
        try LinformerCore(
            tokens: configuration.tokenCount, projectedLength: projectedLength, dropout: configuration.attentionProbsDropoutProb,
            on: backend, generator: &generator)
    }
}

/// Linformer (Wang et al. 2020): keys and values projected along the sequence by learned
/// E and F [K, N], shared by the heads, then softmax attention over K positions:
/// `softmax(Q (E K)^T / sqrt(D)) (F V)`. Time and memory linear in N for a fixed K; the
/// model only runs on the length N it was built for.
public final class LinformerCore: AttentionCore {
    /// E [K, N].
    public let keyProjection: Tensor
    /// F [K, N].
    public let valueProjection: Tensor
    let dropout: Float

    /// E and F drawn as the authors' code does (fairseq's Linformer: Xavier uniform with gain
    /// 1/sqrt(2), U(-b, b) with b = sqrt(3 / (N + K))).
    public init(tokens: Int, projectedLength: Int, dropout: Float, on backend: Backend, generator: inout SeededRandomGenerator) throws {
        let bound = (3 / Float(tokens + projectedLength)).squareRoot()
        keyProjection = try Tensor(
            Initialization.uniform(count: projectedLength * tokens, bound: bound, generator: &generator),
            shape: [projectedLength, tokens], on: backend, requiresGradient: true)
        valueProjection = try Tensor(
            Initialization.uniform(count: projectedLength * tokens, bound: bound, generator: &generator),
            shape: [projectedLength, tokens], on: backend, requiresGradient: true)
        self.dropout = dropout
    }

    public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, context: ForwardContext) throws -> Tensor {
        let tokens = keyProjection.shape[1]
        guard query.shape.rank == 4, key.shape == query.shape, value.shape == query.shape, query.shape[2] == tokens else {
            throw ViTError.shapeMismatch(
                operation: "linformer",
                detail: "the model was built for \(tokens) tokens (E and F are [\(keyProjection.shape[0]), \(tokens)]), "
                    + "got Q, K, V of \(query.shape), \(key.shape), \(value.shape); use the image and patch size it was built with")
        }
        // Along the sequence: (E K)^T = K^T E^T [B, H, D, K] (one GEMM over every head's rows), as F V.
        let projectedKeys = try matmul(key.permuted([0, 1, 3, 2]), keyProjection, transposeB: true)
        let projectedValues = try matmul(value.permuted([0, 1, 3, 2]), valueProjection, transposeB: true)
        let scores = try matmul(query, projectedKeys, alpha: 1 / Float(query.shape[3]).squareRoot())
        let probabilities = try context.dropout(try scores.softmax(), probability: dropout)
        return try matmul(probabilities, projectedValues, transposeB: true)
    }

    public func multiplyAccumulates(tokens: Int, width: Int) -> Int {
        // E K and F V (2 N K D per head), Q (E K)^T and P (F V) (2 N K D per head).
        4 * tokens * keyProjection.shape[0] * width
    }

    public var stateTensors: [(name: String, tensor: Tensor)] {
        [("key_projection", keyProjection), ("value_projection", valueProjection)]
    }

    /// Its weights over the N values are softmax(Q (E K)^T / sqrt(D)) F: probabilities over K
    /// projected positions taken through the learned F, which is signed and unnormalised.
    public var attentionMapsUnavailableReason: String? {
        "linformer mixes the values with softmax(Q (E K)^T / sqrt(d)) F, probabilities over its \(keyProjection.shape[0]) projected "
            + "positions taken through the learned, signed projection F, so its weights over the tokens are neither non-negative nor "
            + "sum to 1 and it has no attention probabilities over the patches"
    }
}
