import Foundation
import ViTCore

extension CPUBackend {
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
}
