import Foundation

/// The hyper-parameters of one fused AdamW step (decoupled weight decay, as PyTorch's AdamW).
public struct AdamWStep: Sendable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float
    /// 1-based step number, used for the bias corrections.
    public var step: Int

    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01, step: Int) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.step = step
    }

    /// 1 - beta1^step.
    public var firstCorrection: Float { 1 - Float(Foundation.pow(Double(beta1), Double(step))) }
    /// 1 - beta2^step.
    public var secondCorrection: Float { 1 - Float(Foundation.pow(Double(beta2), Double(step))) }
}

/// The fused AdamW step (Kernels/adamw.cl).
public protocol AdamWKernels {
    /// One fused AdamW update of a parameter and its two moment buffers, in place.
    func adamW(
        parameter: DeviceStorage, gradient: DeviceStorage, firstMoment: DeviceStorage, secondMoment: DeviceStorage, count: Int, step: AdamWStep)
        throws
}

/// The fused SGD-with-momentum step (Kernels/sgd.cl).
public protocol SGDKernels {
    /// One SGD-with-momentum update in place, as PyTorch's `SGD(momentum:weight_decay:)`:
    /// `d = g + weightDecay p; velocity = momentum velocity + d; p -= learningRate velocity`.
    func sgd(
        parameter: DeviceStorage, gradient: DeviceStorage, velocity: DeviceStorage, count: Int, learningRate: Float, momentum: Float,
        weightDecay: Float) throws
}
