import Foundation
import ViTCore

/// The feature maps of linear attention (see `FeatureMapKernels`); the projections onto the
/// random directions are GEMMs done by the caller.
extension CPUBackend: FeatureMapKernels {
    public func favorFeaturesForward(
        projection: DeviceStorage, input: DeviceStorage, output: DeviceStorage, rows: Int, features: Int, inputSize: Int,
        scale: Float, blockRows: Int
    ) throws {
        let (p, x, phi) = (host(projection), host(input), host(output))
        let halfSquaredScale = scale * scale / 2
        let normalizer = 1 / Float(features).squareRoot()
        let blocks = rows / max(blockRows, 1)
        profiler.measure("favor_forward") {
            Parallel.forEachChunk(blocks, grain: max(1, Self.elementGrain / 4 / max(blockRows * features, 1))) { range in
                // Each block's rows: exponents first (kept in the output), then the stabilizer, then exp.
                for block in range {
                    let firstRow = block * blockRows
                    var largest = -Float.infinity
                    for row in firstRow..<(firstRow + blockRows) {
                        let source = x + row * inputSize
                        var squares: Float = 0
                        for d in 0..<inputSize { squares += source[d] * source[d] }
                        let norm = halfSquaredScale * squares
                        let offset = row * features
                        for m in 0..<features {
                            let exponent = p[offset + m] - norm
                            phi[offset + m] = exponent
                            largest = max(largest, exponent)
                        }
                    }
                    let elements = (firstRow * features)..<((firstRow + blockRows) * features)
                    for i in elements { phi[i] = VectorMath.exp(phi[i] - largest) * normalizer }
                }
            }
        }
    }

    public func favorFeaturesBackward(
        output: DeviceStorage, outputGradient: DeviceStorage, input: DeviceStorage, projectionGradient: DeviceStorage,
        inputGradient: DeviceStorage, rows: Int, features: Int, inputSize: Int, scale: Float
    ) throws {
        let (phi, dphi, x, dp, dx) = (host(output), host(outputGradient), host(input), host(projectionGradient), host(inputGradient))
        let squaredScale = scale * scale
        profiler.measure("favor_backward") {
            Parallel.forEachChunk(rows, grain: max(1, Self.elementGrain / 4 / max(features + inputSize, 1))) { range in
                for row in range {
                    let offset = row * features
                    var total: Float = 0
                    for m in 0..<features {
                        let gradient = dphi[offset + m] * phi[offset + m]
                        dp[offset + m] = gradient
                        total += gradient
                    }
                    let factor = -squaredScale * total
                    for d in 0..<inputSize { dx[row * inputSize + d] = factor * x[row * inputSize + d] }
                }
            }
        }
    }

    public func eluFeaturesForward(_ input: DeviceStorage, output: DeviceStorage, count: Int) throws {
        let (x, y) = (host(input), host(output))
        profiler.measure("elu_features_forward") {
            Parallel.forEachChunk(count, grain: Self.elementGrain / 4) { range in
                for i in range { y[i] = x[i] > 0 ? x[i] + 1 : VectorMath.exp(x[i]) }
            }
        }
    }

    public func eluFeaturesBackward(_ input: DeviceStorage, outputGradient: DeviceStorage, inputGradient: DeviceStorage, count: Int) throws {
        let (x, dy, dx) = (host(input), host(outputGradient), host(inputGradient))
        profiler.measure("elu_features_backward") {
            Parallel.forEachChunk(count, grain: Self.elementGrain / 4) { range in
                for i in range { dx[i] = x[i] > 0 ? dy[i] : dy[i] * VectorMath.exp(x[i]) }
            }
        }
    }
}
