import Foundation
import ViTCore

extension CPUBackend: AdamWKernels, SGDKernels {
    public func sgd(
        parameter: DeviceStorage, gradient: DeviceStorage, velocity: DeviceStorage, count: Int, learningRate: Float, momentum: Float,
        weightDecay: Float
    ) throws {
        let (p, g, v) = (host(parameter), host(gradient), host(velocity))
        profiler.measure("sgd") {
            Parallel.forEachChunk(count, grain: Self.elementGrain) { range in
                for i in range {
                    let updated = momentum * v[i] + (g[i] + weightDecay * p[i])
                    v[i] = updated
                    p[i] -= learningRate * updated
                }
            }
        }
    }

    public func adamW(
        parameter: DeviceStorage, gradient: DeviceStorage, firstMoment: DeviceStorage, secondMoment: DeviceStorage, count: Int, step: AdamWStep
    ) throws {
        let (p, g, m, v) = (host(parameter), host(gradient), host(firstMoment), host(secondMoment))
        // PyTorch's AdamW arithmetic, in its order, so the two agree to rounding.
        let decay = 1 - step.learningRate * step.weightDecay
        let stepSize = step.learningRate / step.firstCorrection
        let secondCorrectionRoot = step.secondCorrection.squareRoot()
        let (beta1, beta2, epsilon) = (step.beta1, step.beta2, step.epsilon)
        profiler.measure("adamw") {
            Parallel.forEachChunk(count, grain: Self.elementGrain) { range in
                for i in range {
                    let grad = g[i]
                    let first = beta1 * m[i] + (1 - beta1) * grad
                    let second = beta2 * v[i] + (1 - beta2) * grad * grad
                    m[i] = first
                    v[i] = second
                    let denominator = second.squareRoot() / secondCorrectionRoot + epsilon
                    p[i] = p[i] * decay - stepSize * first / denominator
                }
            }
        }
    }
}
