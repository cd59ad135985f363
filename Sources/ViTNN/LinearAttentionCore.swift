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
        let queryFeatures: Tensor
        let keyFeatures: Tensor
        switch featureMap {
        case .eluPlusOne:
            (queryFeatures, keyFeatures) = (try query.eluFeatures(), try key.eluFeatures())
        case .favor(let randomFeatures):
            let projections = try randomFeatures.projections(for: context)
            queryFeatures = try query.favorFeatures(projections: projections, stabilizer: .perRow)
            keyFeatures = try key.favorFeatures(projections: projections, stabilizer: .perMatrix)
        }
        return try linearAttention(queryFeatures: queryFeatures, keyFeatures: keyFeatures, value: value, epsilon: Self.epsilon)
    }

    /// Performer's directions, a buffer (as performer-pytorch's `projection_matrix`): saved
    /// with the model so that evaluating a checkpoint uses the directions it was trained with.
    public var stateTensors: [(name: String, tensor: Tensor)] {
        switch featureMap {
        case .eluPlusOne: return []
        case .favor(let randomFeatures): return [("projection_matrix", randomFeatures.directions)]
        }
    }

    /// Features per head: M random features for FAVOR+, D for elu + 1.
    public var featureCount: Int {
        switch featureMap {
        case .eluPlusOne: return headSize
        case .favor(let randomFeatures): return randomFeatures.count
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

/// Performer's hyperparameters (`performer_features`, `performer_redraw`).
public struct PerformerSettings: ConfigurationSection {
    /// The random features M (`--performer-features`); nil: int(D ln D) for head size D.
    public var features: Int?
    /// Redraw the random features every this many training steps (`--performer-redraw`; 0: never).
    public var redrawInterval = 0

    public init() {}

    public static var fields: [ConfigurationField<Self>] {
        [.optional("performer_features", \.features), .value("performer_redraw", \.redrawInterval)]
    }

    /// The most random features a head may have (its directions are M x D).
    public static let maximumFeatures = 1 << 16

    /// The random features for head size `headSize`: `features`, else int(D ln D) (at least 1).
    public func featureCount(headSize: Int) -> Int {
        features ?? max(1, Int(Double(headSize) * log(Double(headSize))))
    }

    public func validate(in configuration: ViTConfiguration) throws {
        func fail(_ detail: String) -> ViTError { .invalidArgument(operation: "config", detail: detail) }
        if let features, features <= 0 {
            throw fail("performer_features (--performer-features) must be positive, got \(features)")
        }
        if let features, features > Self.maximumFeatures {
            throw fail("performer_features (--performer-features) must be at most \(Self.maximumFeatures), got \(features)")
        }
        guard redrawInterval >= 0 else {
            throw fail("performer_redraw (--performer-redraw) must be 0 (never) or a positive number of steps, got \(redrawInterval)")
        }
    }

    func makeCore(configuration: ViTConfiguration, on backend: Backend, generator: inout SeededRandomGenerator) throws -> AttentionCore {
        let headSize = configuration.headSize
        let features = try RandomFeatures(
            count: featureCount(headSize: headSize), headSize: headSize, redrawInterval: redrawInterval,
            seed: generator.next(), on: backend)
        return LinearAttentionCore(featureMap: .favor(features), headSize: headSize)
    }
}

/// Performer's random directions W [M, D]: blocks of D orthonormal rows (Gram-Schmidt on
/// Gaussian rows), each row scaled by the norm of an independent Gaussian vector (chi with D
/// degrees of freedom), so rows are marginally Gaussian but orthogonal within a block. Draw k
/// comes from a generator seeded by the seed and k alone, and training step s uses draw
/// s / `redrawInterval` (draw 0 when it is 0): a run resumed at step s draws what an
/// uninterrupted one holds there. They are not trained; the model's checkpoint stores the
/// current draw, which evaluation uses.
public final class RandomFeatures {
    /// M, the number of random features.
    public let count: Int
    let headSize: Int
    let redrawInterval: Int
    let backend: Backend
    private let seed: UInt64
    /// The current draw [M, D]; redraws overwrite it in place, so a checkpoint loads into it.
    public let directions: Tensor
    /// Which draw `directions` holds.
    private var drawIndex = 0

    public init(count: Int, headSize: Int, redrawInterval: Int, seed: UInt64, on backend: Backend) throws {
        self.count = count
        self.headSize = headSize
        self.redrawInterval = redrawInterval
        self.backend = backend
        self.seed = seed
        directions = try Tensor(Self.draw(0, rows: count, columns: headSize, seed: seed), shape: [count, headSize], on: backend)
    }

    /// The directions for a forward pass: a training pass first redraws them when its step
    /// starts a new redraw interval.
    public func projections(for context: ForwardContext) throws -> Tensor {
        guard context.training, redrawInterval > 0 else { return directions }
        let wanted = context.step / redrawInterval
        if wanted != drawIndex {
            let values = Self.draw(wanted, rows: count, columns: headSize, seed: seed)
            try values.withUnsafeBufferPointer { try backend.write($0, to: directions.storage) }
            drawIndex = wanted
        }
        return directions
    }

    /// Draw `index`: draw 0 from `seed` itself, later ones from `seed` mixed with the index.
    static func draw(_ index: Int, rows: Int, columns: Int, seed: UInt64) -> [Float] {
        let drawSeed = index == 0 ? seed : seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        var generator = SeededRandomGenerator(seed: drawSeed)
        return orthogonalGaussian(rows: rows, columns: columns, generator: &generator)
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
