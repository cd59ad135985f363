import Foundation
import ViTCore

/// A part of a model with tensors, named as in timm's VisionTransformer so that
/// checkpoints load into PyTorch by name.
public protocol Layer: AnyObject {
    /// Every tensor the layer keeps, each once, with its name relative to this layer
    /// (`weight`, `qkv.bias`, ...): the trainable parameters (those that require a gradient)
    /// and the fixed tensors a checkpoint holds (a sine-cosine position embedding). The
    /// checkpoint writes this list and the optimizer updates its trainable part
    /// (`namedParameters`), so a tensor is in both or in neither.
    var stateTensors: [(name: String, tensor: Tensor)] { get }
}

extension Layer {
    /// The trainable tensors of `stateTensors`, in its order.
    public var namedParameters: [(name: String, tensor: Tensor)] {
        stateTensors.filter { $0.tensor.requiresGradient }
    }

    /// `stateTensors` with `prefix.` in front of each name.
    func tensors(prefixed prefix: String) -> [(name: String, tensor: Tensor)] {
        stateTensors.map { (prefix + "." + $0.name, $0.tensor) }
    }
}

/// `y = x W^T + b` with PyTorch's layout: weight [out, in], bias [out].
public final class Linear: Layer {
    public let weight: Tensor
    public let bias: Tensor?

    /// Weights from a truncated normal of `standardDeviation` (timm's `trunc_normal_`), bias 0.
    public init(
        inputSize: Int, outputSize: Int, bias: Bool = true, standardDeviation: Float, on backend: Backend,
        generator: inout SeededRandomGenerator
    ) throws {
        weight = try Tensor(
            Initialization.truncatedNormal(count: outputSize * inputSize, standardDeviation: standardDeviation, generator: &generator),
            shape: [outputSize, inputSize], on: backend, requiresGradient: true)
        self.bias = bias ? try Tensor.zeros([outputSize], on: backend, requiringGradient: true) : nil
    }

    public func callAsFunction(_ input: Tensor) throws -> Tensor {
        try linear(input, weight: weight, bias: bias)
    }

    public var stateTensors: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
}

/// Layer norm over the last axis with weight 1 and bias 0 at start. Epsilon 1e-6 as timm's ViT.
public final class LayerNorm: Layer {
    public let weight: Tensor
    public let bias: Tensor
    public let epsilon: Float

    public init(size: Int, epsilon: Float = 1e-6, on backend: Backend) throws {
        weight = try Tensor.full([size], value: 1, on: backend, requiringGradient: true)
        bias = try Tensor.zeros([size], on: backend, requiringGradient: true)
        self.epsilon = epsilon
    }

    public func callAsFunction(_ input: Tensor) throws -> Tensor {
        try input.layerNorm(weight: weight, bias: bias, epsilon: epsilon)
    }

    public var stateTensors: [(name: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }
}

/// The transformer's MLP: fc1, GELU, dropout, fc2, dropout (timm's `Mlp`).
public final class MLP: Layer {
    public let fc1: Linear
    public let fc2: Linear
    let dropout: Float

    public init(configuration: ViTConfiguration, on backend: Backend, generator: inout SeededRandomGenerator) throws {
        fc1 = try Linear(
            inputSize: configuration.hiddenSize, outputSize: configuration.intermediateSize,
            standardDeviation: configuration.initializerRange, on: backend, generator: &generator)
        fc2 = try Linear(
            inputSize: configuration.intermediateSize, outputSize: configuration.hiddenSize,
            standardDeviation: configuration.initializerRange, on: backend, generator: &generator)
        dropout = configuration.hiddenDropoutProb
    }

    public func callAsFunction(_ input: Tensor, context: ForwardContext) throws -> Tensor {
        let hidden = try context.dropout(try fc1(input).gelu(), probability: dropout)
        return try context.dropout(try fc2(hidden), probability: dropout)
    }

    public var stateTensors: [(name: String, tensor: Tensor)] {
        fc1.tensors(prefixed: "fc1") + fc2.tensors(prefixed: "fc2")
    }
}

/// What one forward pass needs besides its input: whether it trains (dropout on) and the
/// random stream that dropout draws from, a fresh offset per call so masks differ.
public final class ForwardContext {
    public let training: Bool
    /// The optimisation step this pass belongs to (what Performer's redraws count).
    public let step: Int
    let seed: UInt32
    private var offset: UInt32

    /// `seed` and `step` fix every dropout mask of the pass, on every backend alike.
    public init(training: Bool, seed: UInt32 = 0, step: Int = 0) {
        self.training = training
        self.step = step
        self.seed = seed
        // Room for 4096 dropout calls per step before streams of two steps could meet.
        self.offset = UInt32(truncatingIfNeeded: step) &* 4096
    }

    /// Dropout when training with a non-zero probability, else the input itself.
    public func dropout(_ input: Tensor, probability: Float) throws -> Tensor {
        guard let stream = dropoutStream(probability: probability) else { return input }
        return try input.dropout(probability: probability, seed: stream.seed, offset: stream.offset)
    }

    /// The stream of the next dropout call when training with a non-zero probability (the
    /// call takes a fresh offset, as `dropout` does), else nil: for kernels that drop inside
    /// (flash attention's probabilities), so they draw the mask `dropout` would.
    public func dropoutStream(probability: Float) -> AttentionDropout? {
        guard training, probability > 0 else { return nil }
        offset &+= 1
        return AttentionDropout(probability: probability, seed: seed, offset: offset)
    }
}

extension Tensor {
    /// `full` for a parameter: a leaf that requires a gradient.
    static func full(_ shape: Shape, value: Float, on backend: Backend, requiringGradient: Bool) throws -> Tensor {
        let tensor = try Tensor.full(shape, value: value, on: backend)
        tensor.requiresGradient = requiringGradient
        return tensor
    }

    static func zeros(_ shape: Shape, on backend: Backend, requiringGradient: Bool) throws -> Tensor {
        try full(shape, value: 0, on: backend, requiringGradient: requiringGradient)
    }
}

/// Random initial values, drawn on the host from a seeded generator so a seed gives the
/// same model on every backend.
public enum Initialization {
    /// Normal samples of `standardDeviation` redrawn outside two standard deviations
    /// (PyTorch's `trunc_normal_(std=s, a=-2s, b=2s)`; timm calls it with a = -2, b = 2,
    /// which for s = 0.02 is wider than 2s: the difference is negligible at 100 sigma).
    public static func truncatedNormal(count: Int, standardDeviation: Float, generator: inout SeededRandomGenerator) -> [Float] {
        (0..<count).map { _ in
            var value: Float
            repeat { value = normal(&generator) } while abs(value) > 2
            return value * standardDeviation
        }
    }

    /// Uniform samples in [-bound, bound): PyTorch's default Conv2d/Linear initialisation.
    public static func uniform(count: Int, bound: Float, generator: inout SeededRandomGenerator) -> [Float] {
        (0..<count).map { _ in Float(Double(generator.next() >> 11) * 0x1p-53) * 2 * bound - bound }
    }

    /// A standard normal sample (Box-Muller).
    static func normal(_ generator: inout SeededRandomGenerator) -> Float {
        let u1 = max(Double(generator.next() >> 11) * 0x1p-53, 1e-300)
        let u2 = Double(generator.next() >> 11) * 0x1p-53
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}
