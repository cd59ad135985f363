import ViTCore

/// Mimetic initialisation of self-attention (Trockman and Kolter, ICML 2023): every head's
/// W_q^T W_k starts as the best rank-headSize approximation of alpha Z + beta I, and each
/// block's W_proj W_v as alpha Z - beta I, where Z has entries of variance 1/width. These
/// are the patterns of pre-trained ViTs: a token first attends to tokens like itself, and
/// through the position embedding to positions like its own, instead of to every token
/// alike. Small models on small data sets learn markedly faster from this start; only the
/// starting values differ from timm's, so the model and its checkpoints are timm's.
enum MimeticInitialization {
    /// The paper's scales for vision transformers (alpha, beta).
    static let queryKeyScales: (alpha: Float, beta: Float) = (0.7, 0.7)
    static let valueProjectionScales: (alpha: Float, beta: Float) = (0.4, 0.4)

    /// Overwrites the query, key, value and output projection weights of `attention`
    /// (biases stay zero), drawing Z from `generator`.
    static func apply(to attention: MultiHeadAttention, heads: Int, generator: inout SeededRandomGenerator) throws {
        let width = attention.projection.weight.shape[0]
        let headSize = width / heads
        var query = [Float](repeating: 0, count: width * width)
        var key = [Float](repeating: 0, count: width * width)
        for head in 0..<heads {
            let (left, right) = try factors(size: width, scales: queryKeyScales, sign: 1, generator: &generator)
            AttentionFactorization.placeHead(head, headSize: headSize, width: width, left: left, right: right, query: &query, key: &key)
        }
        let (projection, value) = try valueProjection(width: width, generator: &generator)
        try AttentionFactorization.write(query: query, key: key, value: value, projection: projection, to: attention)
    }

    /// W_proj and W_v ([width, width] each) whose product is alpha Z - beta I.
    static func valueProjection(width: Int, generator: inout SeededRandomGenerator) throws -> (projection: [Float], value: [Float]) {
        let (left, right) = try factors(size: width, scales: valueProjectionScales, sign: -1, generator: &generator)
        return (left, right)
    }

    /// Row-major factors (left = U sqrt(S), right = sqrt(S) V^T) of alpha Z + sign beta I.
    static func factors(
        size: Int, scales: (alpha: Float, beta: Float), sign: Float,
        generator: inout SeededRandomGenerator
    ) throws -> (left: [Float], right: [Float]) {
        // Uniform entries of variance 1/size, as the paper's reference code draws them.
        let bound = (3 / Float(size)).squareRoot()
        var matrix = Initialization.uniform(count: size * size, bound: bound, generator: &generator).map { scales.alpha * $0 }
        for index in 0..<size {
            matrix[index * size + index] += sign * scales.beta
        }
        return try AttentionFactorization.factors(of: matrix, size: size)
    }
}
