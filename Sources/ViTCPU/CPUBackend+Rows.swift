import Foundation
import ViTCore

/// Kernels that work row by row: layer norm, softmax, cross-entropy.
extension CPUBackend: LayerNormKernels, SoftmaxKernels, CrossEntropyKernels {
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
                    let average = VectorMath.sum(source, count: columns) / Float(columns)
                    var squares = FloatVector.zero
                    VectorMath.forEachVector(in: 0..<columns) { c, lanes in
                        // Padding with the mean adds nothing.
                        let centred = source.loadVector(at: c, lanes: lanes, padding: average) - average
                        squares += centred * centred
                    }
                    let inverse = 1 / (VectorMath.horizontalSum(squares) / Float(columns) + epsilon).squareRoot()
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
            Parallel.forEachIndexedChunk(rows, grain: grain) { chunk, range in
                let weightPartial = partials + chunk * 2 * columns
                let biasPartial = weightPartial + columns
                for row in range {
                    let (source, gradient, target) = (x + row * columns, dy + row * columns, dx + row * columns)
                    let (average, inverse) = (means[row], inverses[row])
                    var meanGradient = FloatVector.zero
                    var meanGradientTimesNormalized = FloatVector.zero
                    VectorMath.forEachVector(in: 0..<columns) { c, lanes in
                        // Padding lanes: dy = 0, so they add nothing.
                        let outputGradient = gradient.loadVector(at: c, lanes: lanes)
                        let normalized = (source.loadVector(at: c, lanes: lanes) - average) * inverse
                        let scaled = outputGradient * w.loadVector(at: c, lanes: lanes)
                        meanGradient += scaled
                        meanGradientTimesNormalized += scaled * normalized
                        weightPartial.storeVector(weightPartial.loadVector(at: c, lanes: lanes) + outputGradient * normalized, at: c, lanes: lanes)
                        biasPartial.storeVector(biasPartial.loadVector(at: c, lanes: lanes) + outputGradient, at: c, lanes: lanes)
                    }
                    let meanScaled = VectorMath.horizontalSum(meanGradient) / Float(columns)
                    let meanScaledTimesNormalized = VectorMath.horizontalSum(meanGradientTimesNormalized) / Float(columns)
                    for c in 0..<columns {
                        let normalized = (source[c] - average) * inverse
                        target[c] = inverse * (gradient[c] * w[c] - meanScaled - normalized * meanScaledTimesNormalized)
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
                    let (source, target) = (x + row * columns, y + row * columns)
                    let largest = VectorMath.maximum(source, count: columns)
                    for c in 0..<columns { target[c] = VectorMath.exp(source[c] - largest) }
                    let inverse = 1 / VectorMath.sum(target, count: columns)
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
                    let (probabilities, gradient, target) = (y + row * columns, dy + row * columns, dx + row * columns)
                    let dot = VectorMath.dot(probabilities, gradient, count: columns)
                    for c in 0..<columns { target[c] = probabilities[c] * (gradient[c] - dot) }
                }
            }
        }
    }

    public func crossEntropyForward(
        logits: DeviceStorage, labels: DeviceStorage, losses: DeviceStorage, rows: Int, classes: Int, labelSmoothing: Float, scale: Float
    ) throws {
        let (x, targets, loss) = (host(logits), host(labels), host(losses))
        profiler.measure("crossentropy_forward") {
            Parallel.forEachChunk(rows, grain: rowGrain(classes)) { range in
                // The exponentials are stored so that their sum can be vectorised too.
                let exponentials = UnsafeMutablePointer<Float>.allocate(capacity: classes)
                defer { exponentials.deallocate() }
                for row in range {
                    let source = x + row * classes
                    let largest = VectorMath.maximum(source, count: classes)
                    for c in 0..<classes { exponentials[c] = VectorMath.exp(source[c] - largest) }
                    let logSumExp = largest + logf(VectorMath.sum(exponentials, count: classes))
                    let logitSum = VectorMath.sum(source, count: classes)
                    let target = source[Int(targets[row])]
                    // -sum_c q_c log p_c with q = (1 - s) one_hot + s / C.
                    loss[row] = scale * (logSumExp - (1 - labelSmoothing) * target - labelSmoothing * logitSum / Float(classes))
                }
            }
        }
    }

    public func crossEntropyBackward(
        logits: DeviceStorage, labels: DeviceStorage, outputGradient: DeviceStorage, logitsGradient: DeviceStorage, rows: Int,
        classes: Int, labelSmoothing: Float, scale rowScale: Float
    ) throws {
        let (x, targets, dx) = (host(logits), host(labels), host(logitsGradient))
        let scale = host(outputGradient)[0] * rowScale
        profiler.measure("crossentropy_backward") {
            Parallel.forEachChunk(rows, grain: rowGrain(classes)) { range in
                for row in range {
                    let source = x + row * classes
                    let target = dx + row * classes
                    let largest = VectorMath.maximum(source, count: classes)
                    for c in 0..<classes { target[c] = VectorMath.exp(source[c] - largest) }
                    let inverse = 1 / VectorMath.sum(target, count: classes)
                    let label = Int(targets[row])
                    let uniform = labelSmoothing / Float(classes)
                    // Every class wants `uniform`; the label's class is corrected after.
                    let labelProbability = target[label] * inverse
                    for c in 0..<classes { target[c] = scale * (target[c] * inverse - uniform) }
                    target[label] = scale * (labelProbability - ((1 - labelSmoothing) + uniform))
                }
            }
        }
    }

    public func accumulateClassificationStatistics(
        logits: DeviceStorage, labels: DeviceStorage, loss: DeviceStorage, statistics: DeviceStorage, rows: Int, classes: Int
    ) throws {
        let (x, targets, total) = (host(logits), host(labels), host(statistics))
        var hits: Float = 0
        for row in 0..<rows {
            let source = x + row * classes
            let label = Int(targets[row])
            let target = source[label]
            var hit = !target.isNaN
            for c in 0..<classes where c != label && (source[c] >= target || source[c].isNaN) { hit = false }
            if hit { hits += 1 }
        }
        if total[3] == 0 {
            let batchLoss = host(loss)[0]
            if batchLoss.isFinite {
                total[0] += batchLoss * Float(rows)
                total[2] += 1
            } else {
                total[3] = 1
            }
        }
        total[1] += hits
    }
}
