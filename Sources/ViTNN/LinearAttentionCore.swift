import Foundation
import ViTCore

/// Linear attention, the core shared by Performer and elu + 1 linear attention:
/// `out = phi(Q) (phi(K)^T V) / (phi(Q) phi(K)^T 1 + epsilon)` per head, in time and memory
/// linear in the token count N (see `LinearAttentionKernels`).
public final class LinearAttentionCore: AttentionCore {
    /// The feature map phi applied to queries and keys.
    public enum FeatureMap {
        /// `elu(x) + 1` (Katharopoulos et al. 2020).
        case eluPlusOne
        /// FAVOR+ positive orthogonal random features of the softmax kernel (Choromanski et al. 2021).
        case favor(RandomFeatures)
    }

    public let featureMap: FeatureMap
    let headSize: Int
    /// Keeps a row whose features are all tiny from dividing by zero (Katharopoulos et al.'s value).
    public static let epsilon: Float = 1e-6

    public init(featureMap: FeatureMap, headSize: Int) {
        self.featureMap = featureMap
        self.headSize = headSize
    }

    public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, context: ForwardContext) throws -> Tensor {
        let queryFeatures, keyFeatures: Tensor
        switch featureMap {
        case .eluPlusOne:
            (queryFeatures, keyFeatures) = (try query.eluFeatures(), try key.eluFeatures())
        case let .favor(randomFeatures):
            let projections = try randomFeatures.projections(forTraining: context.training)
            queryFeatures = try query.favorFeatures(projections: projections, stabilizer: .perRow)
            keyFeatures = try key.favorFeatures(projections: projections, stabilizer: .perMatrix)
        }
        return try linearAttention(queryFeatures: queryFeatures, keyFeatures: keyFeatures, value: value, epsilon: Self.epsilon)
    }

    /// Features per head: M random features for FAVOR+, D for elu + 1.
    public var featureCount: Int {
        switch featureMap {
        case .eluPlusOne: return headSize
        case let .favor(randomFeatures): return randomFeatures.count
        }
    }

    public func multiplyAccumulates(tokens: Int, width: Int) -> Int {
        let heads = width / headSize
        // [S, z] = phi(K)^T [V, 1] and phi(Q) [S, z]: 2 N M (D + 1) per head; FAVOR+ also projects
        // queries and keys onto the M directions: 2 N M D.
        var perHead = 2 * tokens * featureCount * (headSize + 1)
        if case .favor = featureMap { perHead += 2 * tokens * featureCount * headSize }
        return heads * perHead
    }
}

/// Performer's random directions W [M, D]: blocks of D orthonormal rows (Gram-Schmidt on
/// Gaussian rows), each row scaled by the norm of an independent Gaussian vector (chi with D
/// degrees of freedom), so rows are marginally Gaussian but orthogonal within a block. Drawn
/// from a seeded generator; redrawn every `redrawInterval` training passes when it is positive.
/// They are not trained and not saved: a redraw replaces them with an equally valid draw.
public final class RandomFeatures {
    /// M, the number of random features.
    public let count: Int
    let headSize: Int
    let redrawInterval: Int
    let backend: Backend
    private var generator: SeededRandomGenerator
    private var current: Tensor
    private var trainingPasses = 0

    public init(count: Int, headSize: Int, redrawInterval: Int, seed: UInt64, on backend: Backend) throws {
        self.count = count
        self.headSize = headSize
        self.redrawInterval = redrawInterval
        self.backend = backend
        generator = SeededRandomGenerator(seed: seed)
        current = try Tensor(Self.orthogonalGaussian(rows: count, columns: headSize, generator: &generator), shape: [count, headSize], on: backend)
    }

    /// The directions for the next forward pass; a training pass redraws them every `redrawInterval` passes.
    public func projections(forTraining training: Bool) throws -> Tensor {
        guard training, redrawInterval > 0 else { return current }
        if trainingPasses > 0 && trainingPasses % redrawInterval == 0 {
            current = try Tensor(Self.orthogonalGaussian(rows: count, columns: headSize, generator: &generator), shape: [count, headSize], on: backend)
        }
        trainingPasses += 1
        return current
    }

    /// `rows` x `columns` orthogonal random features, row-major.
    public static func orthogonalGaussian(rows: Int, columns: Int, generator: inout SeededRandomGenerator) -> [Float] {
        var result: [Float] = []
        result.reserveCapacity(rows * columns)
        while result.count < rows * columns {
            var block = (0..<columns).map { _ in (0..<columns).map { _ in Double(Initialization.normal(&generator)) } }
            // Modified Gram-Schmidt in double: the rows become orthonormal.
            for row in 0..<columns {
                for previous in 0..<row {
                    let dot = zip(block[row], block[previous]).reduce(0) { $0 + $1.0 * $1.1 }
                    for c in 0..<columns { block[row][c] -= dot * block[previous][c] }
                }
                let norm = block[row].reduce(0) { $0 + $1 * $1 }.squareRoot()
                for c in 0..<columns { block[row][c] /= norm }
            }
            for row in block where result.count < rows * columns {
                let length = (0..<columns).reduce(0.0) { total, _ in
                    let sample = Double(Initialization.normal(&generator))
                    return total + sample * sample
                }.squareRoot()
                result += row.map { Float($0 * length) }
            }
        }
        return result
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
        keyProjection = try Tensor(Initialization.uniform(count: projectedLength * tokens, bound: bound, generator: &generator),
                                   shape: [projectedLength, tokens], on: backend, requiresGradient: true)
        valueProjection = try Tensor(Initialization.uniform(count: projectedLength * tokens, bound: bound, generator: &generator),
                                     shape: [projectedLength, tokens], on: backend, requiresGradient: true)
        self.dropout = dropout
    }

    public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, context: ForwardContext) throws -> Tensor {
        let tokens = keyProjection.shape[1]
        guard query.shape.rank == 4, key.shape == query.shape, value.shape == query.shape, query.shape[2] == tokens else {
            throw ViTError.shapeMismatch(operation: "linformer", detail: "the model was built for \(tokens) tokens (E and F are [\(keyProjection.shape[0]), \(tokens)]), "
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

    public var namedParameters: [(name: String, tensor: Tensor)] {
        [("key_projection", keyProjection), ("value_projection", valueProjection)]
    }
}
