import Foundation
import ViTCore

/// Kernels that work row by row: layer norm, softmax, cross-entropy.
extension CPUBackend {
    private func rowGrain(_ columns: Int) -> Int { max(1, Self.elementGrain / 4 / max(columns, 1)) }

    public func layerNormForward(
        _ input: DeviceStorage, weight: DeviceStorage, bias: DeviceStorage, output: DeviceStorage,
        mean: DeviceStorage, inverseStandardDeviation: DeviceStorage, rows: Int, columns: Int, epsilon: Float
    ) throws {
        let (x, w, b, y, means, inverses) = (host(input), host(weight), host(bias), host(output), host(mean), host(inverseStandardDeviation))
        profiler.measure("layernorm_forward") {
            Parallel.forEachChunk(rows, grain: rowGrain(columns)) { range in
                for row in range {
                    let source = x + row * columns
                    let target = y + row * columns
                    var sum: Float = 0
                    for c in 0..<columns { sum += source[c] }
                    let average = sum / Float(columns)
                    var squares: Float = 0
                    for c in 0..<columns {
                        let centred = source[c] - average
                        squares += centred * centred
                    }
                    let inverse = 1 / (squares / Float(columns) + epsilon).squareRoot()
                    for c in 0..<columns { target[c] = (source[c] - average) * inverse * w[c] + b[c] }
                    means[row] = average
                    inverses[row] = inverse
                }
            }
        }
    }

    public func layerNormBackward(
        outputGradient: DeviceStorage, input: DeviceStorage, weight: DeviceStorage, mean: DeviceStorage,
        inverseStandardDeviation: DeviceStorage, inputGradient: DeviceStorage, weightGradient: DeviceStorage,
        biasGradient: DeviceStorage, rows: Int, columns: Int
    ) throws {
        let (dy, x, w, means, inverses) = (host(outputGradient), host(input), host(weight), host(mean), host(inverseStandardDeviation))
        let (dx, dw, db) = (host(inputGradient), host(weightGradient), host(biasGradient))
        profiler.measure("layernorm_backward") {
            let grain = rowGrain(columns)
            let chunks = Parallel.chunkCount(rows, grain: grain)
            // Each chunk sums its rows' weight and bias gradients; the partials are added after.
            let partials = UnsafeMutablePointer<Float>.allocate(capacity: chunks * 2 * columns)
            partials.initialize(repeating: 0, count: chunks * 2 * columns)
            defer { partials.deallocate() }
            Parallel.forEachChunk(rows, grain: grain) { range in
                let chunk = range.lowerBound * chunks / max(rows, 1)
                let weightPartial = partials + chunk * 2 * columns
                let biasPartial = weightPartial + columns
                for row in range {
                    let offset = row * columns
                    let (average, inverse) = (means[row], inverses[row])
                    var meanGradient: Float = 0
                    var meanGradientTimesNormalized: Float = 0
                    for c in 0..<columns {
                        let normalized = (x[offset + c] - average) * inverse
                        let gradient = dy[offset + c] * w[c]
                        meanGradient += gradient
                        meanGradientTimesNormalized += gradient * normalized
                        weightPartial[c] += dy[offset + c] * normalized
                        biasPartial[c] += dy[offset + c]
                    }
                    meanGradient /= Float(columns)
                    meanGradientTimesNormalized /= Float(columns)
                    for c in 0..<columns {
                        let normalized = (x[offset + c] - average) * inverse
                        dx[offset + c] = inverse * (dy[offset + c] * w[c] - meanGradient - normalized * meanGradientTimesNormalized)
                    }
                }
            }
            for c in 0..<columns {
                var weightSum: Float = 0
                var biasSum: Float = 0
                for chunk in 0..<chunks {
                    weightSum += partials[chunk * 2 * columns + c]
                    biasSum += partials[chunk * 2 * columns + columns + c]
                }
                dw[c] = weightSum
                db[c] = biasSum
            }
        }
    }

    public func softmaxForward(_ input: DeviceStorage, output: DeviceStorage, rows: Int, columns: Int) throws {
        let (x, y) = (host(input), host(output))
        profiler.measure("softmax_forward") {
            Parallel.forEachChunk(rows, grain: rowGrain(columns)) { range in
                for row in range {
                    let source = x + row * columns
                    let target = y + row * columns
                    var largest = -Float.infinity
                    for c in 0..<columns { largest = max(largest, source[c]) }
                    var total: Float = 0
                    for c in 0..<columns {
                        let value = expf(source[c] - largest)
                        target[c] = value
                        total += value
                    }
                    let inverse = 1 / total
                    for c in 0..<columns { target[c] *= inverse }
                }
            }
        }
    }

    public func softmaxBackward(output: DeviceStorage, outputGradient: DeviceStorage, inputGradient: DeviceStorage, rows: Int, columns: Int) throws {
        let (y, dy, dx) = (host(output), host(outputGradient), host(inputGradient))
        profiler.measure("softmax_backward") {
            Parallel.forEachChunk(rows, grain: rowGrain(columns)) { range in
                for row in range {
                    let offset = row * columns
                    var dot: Float = 0
                    for c in 0..<columns { dot += y[offset + c] * dy[offset + c] }
                    for c in 0..<columns { dx[offset + c] = y[offset + c] * (dy[offset + c] - dot) }
                }
            }
        }
    }

    public func crossEntropyForward(logits: DeviceStorage, labels: DeviceStorage, losses: DeviceStorage, rows: Int, classes: Int, labelSmoothing: Float) throws {
        let (x, targets, loss) = (host(logits), host(labels), host(losses))
        profiler.measure("crossentropy_forward") {
            Parallel.forEachChunk(rows, grain: rowGrain(classes)) { range in
                for row in range {
                    let source = x + row * classes
                    var largest = -Float.infinity
                    for c in 0..<classes { largest = max(largest, source[c]) }
                    var total: Float = 0
                    var logitSum: Float = 0
                    for c in 0..<classes {
                        total += expf(source[c] - largest)
                        logitSum += source[c]
                    }
                    let logSumExp = largest + logf(total)
                    let target = source[Int(targets[row])]
                    // -sum_c q_c log p_c with q = (1 - s) one_hot + s / C.
                    loss[row] = logSumExp - (1 - labelSmoothing) * target - labelSmoothing * logitSum / Float(classes)
                }
            }
        }
    }

    public func crossEntropyBackward(
        logits: DeviceStorage, labels: DeviceStorage, logitsGradient: DeviceStorage, rows: Int, classes: Int,
        labelSmoothing: Float, scale: Float
    ) throws {
        let (x, targets, dx) = (host(logits), host(labels), host(logitsGradient))
        profiler.measure("crossentropy_backward") {
            Parallel.forEachChunk(rows, grain: rowGrain(classes)) { range in
                for row in range {
                    let source = x + row * classes
                    let target = dx + row * classes
                    var largest = -Float.infinity
                    for c in 0..<classes { largest = max(largest, source[c]) }
                    var total: Float = 0
                    for c in 0..<classes {
                        let value = expf(source[c] - largest)
                        target[c] = value
                        total += value
                    }
                    let label = Int(targets[row])
                    let uniform = labelSmoothing / Float(classes)
                    for c in 0..<classes {
                        let wanted = (c == label ? 1 - labelSmoothing : 0) + uniform
                        target[c] = scale * (target[c] / total - wanted)
                    }
                }
            }
        }
    }
}
