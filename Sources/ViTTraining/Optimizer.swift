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
/// `clip_grad_norm_`: factor `min(1, maximumNorm / (norm + 1e-6))`). The norm and the factor
/// stay on the device; returns the squared norm before clipping, a device scalar [1], or nil
/// when no parameter has a gradient.
@discardableResult
public func clipGradientNorm(_ parameters: [OptimizedParameter], maximumNorm: Float) throws -> Tensor? {
    let gradients = parameters.compactMap(\.tensor.gradient)
    guard let first = gradients.first else { return nil }
    let squares = try GradientMode.withoutGradient {
        try concatenate(try gradients.map { try ($0 * $0).sum().reshaped([1]) }, axis: 0).sum()
    }
    for gradient in gradients {
        try first.backend.scaleByNorm(gradient.storage, output: gradient.storage, count: gradient.elementCount, squaredNorm: squares.storage,
                                      numerator: maximumNorm, epsilon: 1e-6, atMostOne: true)
    }
    return squares
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

/// Muon (Jordan et al. 2024) for the matrices of the transformer blocks, AdamW for everything
/// else (patch embedding, head, position embedding, class token, biases, norms), as its
/// authors use it. A block matrix's update is its Nesterov momentum orthogonalised by five
/// Newton-Schulz iterations, so that every direction of the update moves at a similar rate
/// instead of the few that dominate the gradient. The update is scaled by
/// 0.2 sqrt(max(rows, columns)) (Liu et al. 2025, "Muon is scalable for LLM training") so
/// that its root mean square matches AdamW's and both groups share one learning rate and
/// weight decay (decoupled).
public final class Muon: Optimizer {
    public let parameters: [OptimizedParameter]
    public let momentum: Float
    public let weightDecay: Float
    public private(set) var stepCount = 0
    /// The block matrices Muon updates, with their momentum buffers.
    private let matrices: [(parameter: OptimizedParameter, buffer: Tensor)]
    private let adamW: AdamW

    /// The quintic Newton-Schulz coefficients of the reference implementation: they drive
    /// every singular value into roughly [0.7, 1.2] in five steps.
    static let newtonSchulzCoefficients: (a: Float, b: Float, c: Float) = (3.4445, -4.7750, 2.0315)
    static let newtonSchulzSteps = 5

    public init(parameters: [OptimizedParameter], momentum: Float = 0.95, adamBeta2: Float = 0.999, weightDecay: Float = 0.05) throws {
        self.parameters = parameters
        self.momentum = momentum
        self.weightDecay = weightDecay
        let isMatrix = { (parameter: OptimizedParameter) in parameter.name.hasPrefix("blocks.") && parameter.tensor.shape.rank == 2 }
        matrices = try parameters.filter(isMatrix).map { ($0, try Tensor.zeros($0.tensor.shape, on: $0.tensor.backend)) }
        adamW = try AdamW(parameters: parameters.filter { !isMatrix($0) }, betas: (0.9, adamBeta2), weightDecay: weightDecay)
    }

    public func step(learningRate: Float) throws {
        stepCount += 1
        try adamW.step(learningRate: learningRate)
        for (parameter, buffer) in matrices {
            guard let gradient = parameter.tensor.gradient else { continue }
            let backend = parameter.tensor.backend
            let count = parameter.tensor.elementCount
            let (rows, columns) = (parameter.tensor.shape[0], parameter.tensor.shape[1])
            // buffer = momentum buffer + gradient; Nesterov: direction = gradient + momentum buffer.
            try backend.scale(buffer.storage, by: momentum, output: buffer.storage, count: count)
            try backend.binary(.add, buffer.storage, gradient.storage, output: buffer.storage, count: count)
            let direction = try Tensor.empty(parameter.tensor.shape, on: backend)
            try backend.scale(buffer.storage, by: momentum, output: direction.storage, count: count)
            try backend.binary(.add, direction.storage, gradient.storage, output: direction.storage, count: count)
            let update = try Muon.orthogonalize(direction, rows: rows, columns: columns)
            let decay = parameter.decayed ? weightDecay : 0
            let scale = 0.2 * Float(max(rows, columns)).squareRoot()
            try backend.scale(parameter.tensor.storage, by: 1 - learningRate * decay, output: parameter.tensor.storage, count: count)
            try backend.scale(update.storage, by: -learningRate * scale, output: update.storage, count: count)
            try backend.binary(.add, parameter.tensor.storage, update.storage, output: parameter.tensor.storage, count: count)
        }
    }

    /// The approximate orthogonal factor U V^T of a [rows, columns] matrix U S V^T: the matrix
    /// scaled to unit Frobenius norm, then `newtonSchulzSteps` of X <- a X + (b G + c G^2) X
    /// with G = X X^T (or X <- a X + X (b G + c G^2) with G = X^T X when the matrix is tall,
    /// so that G is the smaller Gram matrix).
    public static func orthogonalize(_ matrix: Tensor, rows: Int, columns: Int) throws -> Tensor {
        let backend = matrix.backend
        let count = rows * columns
        let squares = try Tensor.empty([1], on: backend)
        try backend.gemm(GemmDescriptor(transposeA: false, transposeB: true, m: 1, n: 1, k: count), a: matrix.storage, b: matrix.storage, c: squares.storage)
        var current = try Tensor.empty([rows, columns], on: backend)
        // The norm stays on the device: the kernel reads it.
        try backend.scaleByNorm(matrix.storage, output: current.storage, count: count, squaredNorm: squares.storage, numerator: 1, epsilon: 1e-7,
                                atMostOne: false)
        let tall = rows > columns
        let side = min(rows, columns)
        let gram = try Tensor.empty([side, side], on: backend)
        let polynomial = try Tensor.empty([side, side], on: backend)
        var next = try Tensor.empty([rows, columns], on: backend)
        let (a, b, c) = newtonSchulzCoefficients
        for _ in 0..<newtonSchulzSteps {
            // G = X X^T for a wide X, X^T X for a tall one.
            try backend.gemm(GemmDescriptor(transposeA: tall, transposeB: !tall, m: side, n: side, k: max(rows, columns)),
                             a: current.storage, b: current.storage, c: gram.storage)
            // P = b G + c G G.
            try backend.copy(from: gram.storage, offset: 0, to: polynomial.storage, offset: 0, count: side * side)
            try backend.gemm(GemmDescriptor(transposeA: false, transposeB: false, m: side, n: side, k: side, alpha: c, beta: b),
                             a: gram.storage, b: gram.storage, c: polynomial.storage)
            // X' = a X + P X (wide) or a X + X P (tall).
            try backend.copy(from: current.storage, offset: 0, to: next.storage, offset: 0, count: count)
            let descriptor = GemmDescriptor(transposeA: false, transposeB: false, m: rows, n: columns, k: side, alpha: 1, beta: a)
            if tall {
                try backend.gemm(descriptor, a: current.storage, b: polynomial.storage, c: next.storage)
            } else {
                try backend.gemm(descriptor, a: polynomial.storage, b: current.storage, c: next.storage)
            }
            swap(&current, &next)
        }
        return current
    }

    public var stateTensors: [(name: String, tensor: Tensor)] {
        matrices.map { ("momentum_buffer." + $0.parameter.name, $0.buffer) } + adamW.stateTensors
    }

    public func restore(stepCount: Int) {
        self.stepCount = stepCount
        adamW.restore(stepCount: stepCount)
    }
}
