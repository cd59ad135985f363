import ViTCore

/// An attention mechanism behind the interface every transformer block uses: tokens
/// [batch, tokens, width] in, the same shape out, after the output projection.
public protocol AttentionMechanism: Layer {
    func callAsFunction(_ input: Tensor, context: ForwardContext) throws -> Tensor
    /// Multiply-accumulates per image for `tokens` tokens, projections included.
    func multiplyAccumulates(tokens: Int) -> Int
}

/// Softmax attention, materialising softmax(Q K^T / sqrt(d)) V per head. Q, K and V come
/// from one merged projection (`qkv`, one GEMM, timm's layout) or from three (`q`, `k`, `v`).
public final class StandardAttention: AttentionMechanism {
    public let queryKeyValue: Linear?
    public let separateProjections: (query: Linear, key: Linear, value: Linear)?
    public let projection: Linear
    let heads: Int
    let attentionDropout: Float
    let outputDropout: Float

    public init(configuration: ViTConfiguration, merged: Bool, on backend: Backend, generator: inout SeededRandomGenerator) throws {
        let width = configuration.hiddenSize
        let deviation = configuration.initializerRange
        if merged {
            queryKeyValue = try Linear(inputSize: width, outputSize: 3 * width, bias: configuration.qkvBias,
                                       standardDeviation: deviation, on: backend, generator: &generator)
            separateProjections = nil
        } else {
            queryKeyValue = nil
            separateProjections = (
                try Linear(inputSize: width, outputSize: width, bias: configuration.qkvBias, standardDeviation: deviation, on: backend, generator: &generator),
                try Linear(inputSize: width, outputSize: width, bias: configuration.qkvBias, standardDeviation: deviation, on: backend, generator: &generator),
                try Linear(inputSize: width, outputSize: width, bias: configuration.qkvBias, standardDeviation: deviation, on: backend, generator: &generator)
            )
        }
        projection = try Linear(inputSize: width, outputSize: width, standardDeviation: deviation, on: backend, generator: &generator)
        heads = configuration.numAttentionHeads
        attentionDropout = configuration.attentionProbsDropoutProb
        outputDropout = configuration.hiddenDropoutProb
    }

    public func callAsFunction(_ input: Tensor, context: ForwardContext) throws -> Tensor {
        let (batch, tokens, width) = (input.shape[0], input.shape[1], input.shape[2])
        let headSize = width / heads
        let query, key, value: Tensor
        if let queryKeyValue {
            // [B, N, 3D] -> [3, B, H, N, d]; the three parts are then contiguous slices.
            let packed = try queryKeyValue(input).reshaped([batch, tokens, 3, heads, headSize]).permuted([2, 0, 3, 1, 4])
            let parts = try (0..<3).map { try packed.sliced(axis: 0, $0..<($0 + 1)).reshaped([batch, heads, tokens, headSize]) }
            (query, key, value) = (parts[0], parts[1], parts[2])
        } else if let (queryLayer, keyLayer, valueLayer) = separateProjections {
            let split = { (layer: Linear) in try layer(input).reshaped([batch, tokens, self.heads, headSize]).permuted([0, 2, 1, 3]) }
            (query, key, value) = (try split(queryLayer), try split(keyLayer), try split(valueLayer))
        } else {
            preconditionFailure("attention without projections")
        }
        let scores = try matmul(query, key, transposeB: true, alpha: 1 / Float(headSize).squareRoot())
        let probabilities = try context.dropout(try scores.softmax(), probability: attentionDropout)
        let mixed = try matmul(probabilities, value).permuted([0, 2, 1, 3]).reshaped([batch, tokens, width])
        return try context.dropout(try projection(mixed), probability: outputDropout)
    }

    public func multiplyAccumulates(tokens: Int) -> Int {
        let width = projection.weight.shape[0]
        // Q, K, V and output projections, then Q K^T and P V.
        return 4 * tokens * width * width + 2 * tokens * tokens * width
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        if let queryKeyValue {
            return queryKeyValue.parameters(prefixed: "qkv") + projection.parameters(prefixed: "proj")
        }
        let (query, key, value) = separateProjections!
        return query.parameters(prefixed: "q") + key.parameters(prefixed: "k") + value.parameters(prefixed: "v") + projection.parameters(prefixed: "proj")
    }
}
