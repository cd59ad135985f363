import Foundation
import ViTCore

extension CPUBackend {
    /// Elements per chunk below which a loop stays on one thread.
    static let elementGrain = 1 << 15

    public func pointwise(_ operation: PointwiseOperation, _ input: DeviceStorage, output: DeviceStorage, count: Int) throws {
        switch operation {
        case .add(let other): binary(.add, input, other, output: output, count: count)
        case .subtract(let other): binary(.subtract, input, other, output: output, count: count)
        case .multiply(let other): binary(.multiply, input, other, output: output, count: count)
        case .scale(let alpha): scale(input, by: alpha, output: output, count: count)
        case .addBias(let bias, let columns): addBias(input, bias: bias, output: output, rows: count / max(columns, 1), columns: columns)
        case .scaleByNorm(let squaredNorms, let block, let numerator, let epsilon, let atMostOne):
            scaleByNorm(
                input, output: output, count: count, squaredNorms: squaredNorms, block: block, numerator: numerator, epsilon: epsilon,
                atMostOne: atMostOne)
        case .gelu: gelu(input, output: output, count: count)
        case .geluGradient(let outputGradient): geluGradient(input, outputGradient: outputGradient, inputGradient: output, count: count)
        }
    }

    /// The element-by-element operations of two inputs.
    private enum BinaryOperation: String {
        case add, subtract, multiply
    }

    /// One loop per operation: a closure for the operation kept the loops from vectorising
    /// (4x slower adds).
    private func binary(_ operation: BinaryOperation, _ a: DeviceStorage, _ b: DeviceStorage, output: DeviceStorage, count: Int) {
        let (x, y, z) = (host(a), host(b), host(output))
        profiler.measure(operation.rawValue) {
            Parallel.forEachChunk(count, grain: Self.elementGrain) { range in
                switch operation {
                case .add: for i in range { z[i] = x[i] + y[i] }
                case .subtract: for i in range { z[i] = x[i] - y[i] }
                case .multiply: for i in range { z[i] = x[i] * y[i] }
                }
            }
        }
    }

    private func scale(_ input: DeviceStorage, by alpha: Float, output: DeviceStorage, count: Int) {
        let (x, z) = (host(input), host(output))
        profiler.measure("scale") {
            Parallel.forEachChunk(count, grain: Self.elementGrain) { range in
                for i in range { z[i] = alpha * x[i] }
            }
        }
    }

    private func scaleByNorm(
        _ input: DeviceStorage, output: DeviceStorage, count: Int, squaredNorms: DeviceStorage, block: Int, numerator: Float,
        epsilon: Float, atMostOne: Bool
    ) {
        let (x, norms, z) = (host(input), host(squaredNorms), host(output))
        let block = max(block, 1)
        profiler.measure("scale_by_norm") {
            Parallel.forEachChunk((count + block - 1) / block, grain: max(1, Self.elementGrain / block)) { blocks in
                for index in blocks {
                    let ratio = numerator / (norms[index].squareRoot() + epsilon)
                    // Float.minimum is fmin: a NaN norm leaves the values as they are, as in the OpenCL kernel.
                    let factor = atMostOne ? Float.minimum(ratio, 1) : ratio
                    for i in (index * block)..<min((index + 1) * block, count) { z[i] = factor * x[i] }
                }
            }
        }
    }

    private func addBias(_ input: DeviceStorage, bias: DeviceStorage, output: DeviceStorage, rows: Int, columns: Int) {
        let (x, b, z) = (host(input), host(bias), host(output))
        profiler.measure("add_bias") {
            Parallel.forEachChunk(rows, grain: max(1, Self.elementGrain / max(columns, 1))) { range in
                for row in range {
                    // Row pointers, so that the inner loop indexes without overflow checks and vectorises.
                    let (source, target) = (x + row * columns, z + row * columns)
                    for column in 0..<columns { target[column] = source[column] + b[column] }
                }
            }
        }
    }

    /// GELU, exact erf form: y = x/2 (1 + erf(x / sqrt 2)). Blocks whose inputs all have
    /// |x / sqrt 2| < `erfSeriesBound` (|x| < 1.3: most of them while weights are small)
    /// take erf's series branch alone and skip the exponential; the results are the same.
    private func gelu(_ input: DeviceStorage, output: DeviceStorage, count: Int) {
        let (x, z) = (host(input), host(output))
        let rootHalf = Float(0.5).squareRoot()
        profiler.measure("gelu_forward") {
            Parallel.forEachChunk(count, grain: Self.elementGrain / 4) { range in
                for start in stride(from: range.lowerBound, to: range.upperBound, by: 64) {
                    let end = min(start + 64, range.upperBound)
                    if VectorMath.magnitudesBelow(x + start, count: end - start, scale: rootHalf, bound: VectorMath.erfSeriesBound) {
                        for i in start..<end { z[i] = 0.5 * x[i] * (1 + VectorMath.erfNearZero(x[i] * rootHalf)) }
                    } else {
                        for i in start..<end {
                            let value = x[i]
                            let gaussian = VectorMath.exp(-0.5 * value * value)
                            z[i] = 0.5 * value * (1 + VectorMath.erf(value * rootHalf, expMinusSquare: gaussian))
                        }
                    }
                }
            }
        }
    }

    /// dx = dy (Phi(x) + x phi(x)), Phi the normal CDF and phi its density; one exponential
    /// serves both.
    private func geluGradient(_ input: DeviceStorage, outputGradient: DeviceStorage, inputGradient: DeviceStorage, count: Int) {
        let (x, dy, dx) = (host(input), host(outputGradient), host(inputGradient))
        let (rootHalf, inverseRootTwoPi) = (Float(0.5).squareRoot(), 1 / Float(2 * Double.pi).squareRoot())
        profiler.measure("gelu_backward") {
            Parallel.forEachChunk(count, grain: Self.elementGrain / 4) { range in
                for i in range {
                    let value = x[i]
                    let gaussian = VectorMath.exp(-0.5 * value * value)
                    let cdf = 0.5 * (1 + VectorMath.erf(value * rootHalf, expMinusSquare: gaussian))
                    let pdf = gaussian * inverseRootTwoPi
                    dx[i] = dy[i] * (cdf + value * pdf)
                }
            }
        }
    }
}

/// Dropout from the counter-based stream (Kernels/dropout.cl).
extension CPUBackend: DropoutKernels {
    public func dropout(_ input: DeviceStorage, output: DeviceStorage, count: Int, probability: Float, seed: UInt32, offset: UInt32) throws {
        let (x, z) = (host(input), host(output))
        let key = CounterRandom.key(seed: seed, offset: offset)
        let keepScale = 1 / (1 - probability)
        profiler.measure("dropout") {
            Parallel.forEachChunk(count, grain: Self.elementGrain) { range in
                for i in range {
                    let keep = CounterRandom.uniform(key: key, index: UInt32(truncatingIfNeeded: i)) >= probability
                    z[i] = keep ? x[i] * keepScale : 0
                }
            }
        }
    }
}
