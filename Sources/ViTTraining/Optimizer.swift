import Foundation
import ViTCore
import ViTNN

/// A parameter an optimizer updates, with its checkpoint name and whether weight decay applies.
public struct OptimizedParameter {
    public let name: String
    public let tensor: Tensor
    public let decayed: Bool

    public init(name: String, tensor: Tensor, decayed: Bool) {
        self.name = name
        self.tensor = tensor
        self.decayed = decayed
    }
}

extension VisionTransformer {
    /// Every parameter for an optimizer, with weight decay where `isDecayed` says so.
    public var optimizedParameters: [OptimizedParameter] {
        namedParameters.map { OptimizedParameter(name: $0.name, tensor: $0.tensor, decayed: VisionTransformer.isDecayed($0.name, $0.tensor)) }
    }
}

/// Updates parameters from their accumulated gradients with one fused kernel per tensor.
public protocol Optimizer: AnyObject {
    /// The parameters in update order.
    var parameters: [OptimizedParameter] { get }
    /// Steps taken so far.
    var stepCount: Int { get }
    /// Applies one update at `learningRate` to every parameter that has a gradient.
    func step(learningRate: Float) throws
    /// The state a resumed run needs, named `<buffer>.<parameter name>`.
    var stateTensors: [(name: String, tensor: Tensor)] { get }
    /// Restores `stepCount` after the state tensors were loaded.
    func restore(stepCount: Int)
}

extension Optimizer {
    /// Drops every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGradients() {
        parameters.forEach { $0.tensor.zeroGradient() }
    }
}

/// AdamW with decoupled weight decay, PyTorch's arithmetic (`torch.optim.AdamW`).
public final class AdamW: Optimizer {
    public let parameters: [OptimizedParameter]
    public let betas: (Float, Float)
    public let epsilon: Float
    public let weightDecay: Float
    public private(set) var stepCount = 0
    private let firstMoments: [Tensor]
    private let secondMoments: [Tensor]

    public init(parameters: [OptimizedParameter], betas: (Float, Float) = (0.9, 0.999), epsilon: Float = 1e-8, weightDecay: Float = 0.05) throws {
        self.parameters = parameters
        self.betas = betas
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        firstMoments = try parameters.map { try Tensor.zeros($0.tensor.shape, on: $0.tensor.backend) }
        secondMoments = try parameters.map { try Tensor.zeros($0.tensor.shape, on: $0.tensor.backend) }
    }

    public func step(learningRate: Float) throws {
        stepCount += 1
        for (index, parameter) in parameters.enumerated() {
            guard let gradient = parameter.tensor.gradient else { continue }
            let settings = AdamWStep(learningRate: learningRate, beta1: betas.0, beta2: betas.1, epsilon: epsilon,
                                     weightDecay: parameter.decayed ? weightDecay : 0, step: stepCount)
            try parameter.tensor.backend.adamW(parameter: parameter.tensor.storage, gradient: gradient.storage, firstMoment: firstMoments[index].storage,
                                               secondMoment: secondMoments[index].storage, count: parameter.tensor.elementCount, step: settings)
        }
    }

    public var stateTensors: [(name: String, tensor: Tensor)] {
        parameters.indices.flatMap { [("exp_avg." + parameters[$0].name, firstMoments[$0]), ("exp_avg_sq." + parameters[$0].name, secondMoments[$0])] }
    }

    public func restore(stepCount: Int) { self.stepCount = stepCount }
}

/// SGD with momentum and L2 weight decay (`torch.optim.SGD(momentum:weight_decay:)`).
public final class SGD: Optimizer {
    public let parameters: [OptimizedParameter]
    public let momentum: Float
    public let weightDecay: Float
    public private(set) var stepCount = 0
    private let velocities: [Tensor]

    public init(parameters: [OptimizedParameter], momentum: Float = 0.9, weightDecay: Float = 5e-4) throws {
        self.parameters = parameters
        self.momentum = momentum
        self.weightDecay = weightDecay
        velocities = try parameters.map { try Tensor.zeros($0.tensor.shape, on: $0.tensor.backend) }
    }

    public func step(learningRate: Float) throws {
        stepCount += 1
        for (index, parameter) in parameters.enumerated() {
            guard let gradient = parameter.tensor.gradient else { continue }
            try parameter.tensor.backend.sgd(parameter: parameter.tensor.storage, gradient: gradient.storage, velocity: velocities[index].storage,
                                             count: parameter.tensor.elementCount, learningRate: learningRate, momentum: momentum,
                                             weightDecay: parameter.decayed ? weightDecay : 0)
        }
    }

    public var stateTensors: [(name: String, tensor: Tensor)] {
        parameters.indices.map { ("momentum_buffer." + parameters[$0].name, velocities[$0]) }
    }

    public func restore(stepCount: Int) { self.stepCount = stepCount }
}

/// Scales all gradients so their joint L2 norm is at most `maximumNorm` (PyTorch's
/// `clip_grad_norm_`); returns the norm before clipping. One device-to-host read.
@discardableResult
public func clipGradientNorm(_ parameters: [OptimizedParameter], maximumNorm: Float) throws -> Float {
    let gradients = parameters.compactMap(\.tensor.gradient)
    guard let first = gradients.first else { return 0 }
    let squares = try GradientMode.withoutGradient {
        try concatenate(try gradients.map { try ($0 * $0).sum().reshaped([1]) }, axis: 0).sum()
    }
    let norm = try squares.item().squareRoot()
    let factor = maximumNorm / (norm + 1e-6)
    if factor < 1 {
        for gradient in gradients {
            try first.backend.scale(gradient.storage, by: factor, output: gradient.storage, count: gradient.elementCount)
        }
    }
    return norm
}

/// Linear warm-up from 0 to the peak rate over `warmupSteps`, then a cosine decay to
/// `minimumRate` at `totalSteps` (timm's `CosineLRScheduler` per step).
public struct LearningRateSchedule: Sendable {
    public let peakRate: Float
    public let minimumRate: Float
    public let warmupSteps: Int
    public let totalSteps: Int

    public init(peakRate: Float, minimumRate: Float = 1e-6, warmupSteps: Int, totalSteps: Int) {
        self.peakRate = peakRate
        self.minimumRate = minimumRate
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The rate of 0-based step `step`.
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peakRate * Float(step + 1) / Float(warmupSteps) }
        let span = max(totalSteps - warmupSteps, 1)
        let progress = min(Double(step - warmupSteps) / Double(span), 1)
        return minimumRate + (peakRate - minimumRate) * Float(0.5 * (1 + cos(Double.pi * progress)))
    }
}
