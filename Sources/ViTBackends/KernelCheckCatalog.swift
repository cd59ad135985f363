import Foundation
import ViTCore

/// The check cases of every kernel family (`KernelFamily.all` names them): odd sizes (1, 7,
/// 33, 129) that exercise the bounds checks of tiled and work-group kernels, and, in the full
/// scope, ViT sizes (256 x 65 x 48: the seed ViT's activations; 8 x 197 x 768: ViT-B/16's).
///
/// Tolerances follow from float32 arithmetic (unit roundoff u = 6e-8):
/// - the same formula evaluated in the same order: a few u, so 1e-6 relative;
/// - transcendental functions (erf, exp, log), where OpenCL allows 3-16 ulp: 1e-5 relative;
/// - sums of L terms evaluated in another order: error grows like sqrt(L) u |terms|,
///   so the absolute part scales with the reduction length.
public enum KernelCheckCatalog {
    static let oddCounts = [1, 7, 33, 129]
    static let vitCounts = [256 * 65 * 48, 8 * 197 * 768]

    // MARK: - GEMM

    static func gemm(_ scope: CheckScope) -> [KernelCheck] {
        var checks: [KernelCheck] = []
        let sizes: [(m: Int, n: Int, k: Int)] = scope.sizes(
            [(1, 1, 1), (7, 33, 129), (129, 7, 33)], large: [(256 * 65, 144, 48), (8 * 197, 768, 768)])
        for (m, n, k) in sizes {
            for (transposeA, transposeB) in [(false, false), (false, true), (true, false), (true, true)] {
                // Large sizes once, in the layouts a Linear layer uses (x W^T and the two gradients).
                if m * n > 100_000 && !((!transposeA && transposeB) || (!transposeA && !transposeB) || (transposeA && !transposeB)) { continue }
                let descriptor = GemmDescriptor(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, beta: 0)
                checks.append(gemmCheck(descriptor, label: "\(m)x\(n)x\(k) \(transposeA ? "T" : "N")\(transposeB ? "T" : "N")"))
            }
        }
        // alpha and beta, and the strided-batched form of attention (B*H products of N x N x D).
        checks.append(
            gemmCheck(GemmDescriptor(transposeA: false, transposeB: true, m: 33, n: 7, k: 129, alpha: 0.5, beta: 0.25), label: "33x7x129 NT a.5 b.25")
        )
        for (batch, n, d) in scope.sizes([(3, 7, 5)], large: [(256 * 4, 65, 12), (8 * 12, 197, 64)]) {
            checks.append(
                gemmCheck(
                    GemmDescriptor(
                        transposeA: false, transposeB: true, m: n, n: n, k: d, batchCount: batch,
                        strideA: n * d, strideB: n * d, strideC: n * n), label: "batched \(batch)x\(n)x\(n)x\(d) NT"))
            checks.append(
                gemmCheck(
                    GemmDescriptor(
                        transposeA: false, transposeB: false, m: n, n: d, k: n, batchCount: batch,
                        strideA: n * n, strideB: n * d, strideC: n * d), label: "batched \(batch)x\(n)x\(d)x\(n) NN"))
        }
        return checks
    }

    static func gemmCheck(_ d: GemmDescriptor, label: String) -> KernelCheck {
        let countA = d.m * d.k + (d.batchCount - 1) * d.strideA
        let countB = d.k * d.n + (d.batchCount - 1) * d.strideB
        let countC = d.m * d.n + (d.batchCount - 1) * d.strideC
        // Products of terms in [-1, 1] summed over k: rounding grows like sqrt(k) u.
        return KernelCheck(kernel: "gemm", size: label, absoluteTolerance: 2e-6 * Float(d.k).squareRoot() * 4, relativeTolerance: 1e-5) { backend in
            let a = try upload(values(countA, seed: 1), to: backend)
            let b = try upload(values(countB, seed: 2), to: backend)
            let c = try upload(values(countC, seed: 3), to: backend)
            try backend.gemm(d, a: a, b: b, c: c)
            return [try download(c, countC, from: backend)]
        }
    }

    // MARK: - Element-by-element

    static func elementwise(_ scope: CheckScope) -> [KernelCheck] {
        var checks: [KernelCheck] = []
        for count in scope.sizes(oddCounts, large: vitCounts) {
            for operation in [BinaryOperation.add, .subtract, .multiply] {
                checks.append(
                    KernelCheck(kernel: operation.rawValue, size: "\(count)", absoluteTolerance: 1e-6, relativeTolerance: 1e-6) { backend in
                        let (a, b) = (try upload(values(count, seed: 4), to: backend), try upload(values(count, seed: 5), to: backend))
                        let output = try backend.allocate(count: count)
                        try backend.binary(operation, a, b, output: output, count: count)
                        return [try download(output, count, from: backend)]
                    })
            }
            checks.append(
                KernelCheck(kernel: "scale", size: "\(count)", absoluteTolerance: 1e-6, relativeTolerance: 1e-6) { backend in
                    let input = try upload(values(count, seed: 6), to: backend)
                    let output = try backend.allocate(count: count)
                    try backend.scale(input, by: -1.75, output: output, count: count)
                    return [try download(output, count, from: backend)]
                })
            // One norm (clipping), and one norm per block of 5 (a batch of matrices).
            for (numerator, atMostOne, block) in [(Float(0.5), true, count), (2, true, count), (1, false, 5)] {
                let size = "\(count) \(atMostOne ? "clip to" : "norm") \(numerator) block \(block)"
                checks.append(
                    KernelCheck(kernel: "scale_by_norm", size: size, absoluteTolerance: 1e-6, relativeTolerance: 1e-6) { backend in
                        let input = try upload(values(count, seed: 6), to: backend)
                        let blocks = (count + block - 1) / block
                        let squaredNorms = try upload((0..<blocks).map { Float(block * ($0 % 3 + 1)) / 3 }, to: backend)
                        let output = try backend.allocate(count: count)
                        try backend.scaleByNorm(
                            input, output: output, count: count, squaredNorms: squaredNorms, block: block, numerator: numerator,
                            epsilon: 1e-6, atMostOne: atMostOne)
                        return [try download(output, count, from: backend)]
                    })
            }
            checks.append(
                KernelCheck(kernel: "fill", size: "\(count)", absoluteTolerance: 0, relativeTolerance: 0) { backend in
                    let output = try backend.allocate(count: count)
                    try backend.fill(output, count: count, value: 0.375)
                    return [try download(output, count, from: backend)]
                })
        }
        for (rows, columns) in scope.sizes([(1, 1), (7, 33), (129, 7)], large: [(256 * 65, 48), (8 * 197, 768)]) {
            checks.append(
                KernelCheck(kernel: "add_bias", size: "\(rows)x\(columns)", absoluteTolerance: 1e-6, relativeTolerance: 1e-6) { backend in
                    let input = try upload(values(rows * columns, seed: 9), to: backend)
                    let bias = try upload(values(columns, seed: 10), to: backend)
                    let output = try backend.allocate(count: rows * columns)
                    try backend.addBias(input, bias: bias, output: output, rows: rows, columns: columns)
                    return [try download(output, rows * columns, from: backend)]
                })
        }
        for (length, count, sourceStride, destinationStride) in scope.sizes(
            [(1, 1, 1, 1), (7, 33, 9, 8)], large: [(48, 256, 65 * 48, 48), (64 * 48, 256, 64 * 48, 65 * 48)])
        {
            checks.append(
                KernelCheck(kernel: "copy_blocks", size: "\(count) blocks of \(length)", absoluteTolerance: 0, relativeTolerance: 0) { backend in
                    let input = try upload(values(count * sourceStride + 3, seed: 23), to: backend)
                    let output = try upload(values(count * destinationStride + 5, seed: 24), to: backend)
                    try backend.copyBlocks(
                        from: input, offset: 3, stride: sourceStride, to: output, offset: 5, stride: destinationStride, length: length, count: count)
                    return [try download(output, count * destinationStride + 5, from: backend)]
                })
        }
        return checks
    }

    static func gelu(_ scope: CheckScope) -> [KernelCheck] {
        scope.sizes(oddCounts, large: vitCounts).map { count in
            pointwiseCheck(
                "gelu", count: count, seed: 7, forward: { try $0.geluForward($1, output: $2, count: count) },
                backward: { try $0.geluBackward($1, outputGradient: $2, inputGradient: $3, count: count) })
        }
    }

    /// A pointwise kernel pair on `count` inputs in [-4, 4) (from `seed`) and output gradients
    /// in [-1, 1): its outputs and input gradients, within exp/erf's error (1e-5 relative).
    /// `forward(backend, input, output)`, `backward(backend, input, outputGradient, inputGradient)`.
    static func pointwiseCheck(
        _ kernel: String, count: Int, seed: UInt32, forward: @escaping (Backend, DeviceStorage, DeviceStorage) throws -> Void,
        backward: @escaping (Backend, DeviceStorage, DeviceStorage, DeviceStorage) throws -> Void
    ) -> KernelCheck {
        KernelCheck(kernel: kernel, size: "\(count)", absoluteTolerance: 1e-6, relativeTolerance: 1e-5) { backend in
            let input = try upload(values(count, seed: seed, scale: 4), to: backend)
            let gradient = try upload(values(count, seed: seed + 1), to: backend)
            let (output, inputGradient) = (try backend.allocate(count: count), try backend.allocate(count: count))
            try forward(backend, input, output)
            try backward(backend, input, gradient, inputGradient)
            return [try download(output, count, from: backend), try download(inputGradient, count, from: backend)]
        }
    }

    // MARK: - Row kernels

    static func layerNorm(_ scope: CheckScope) -> [KernelCheck] {
        var checks: [KernelCheck] = []
        for (rows, columns) in scope.sizes([(1, 1), (7, 33), (129, 129)], large: [(256 * 65, 48), (8 * 197, 768)]) {
            let count = rows * columns
            // Means and variances over `columns` terms; parameter gradients sum over `rows`.
            let rowTolerance = 1e-6 * Float(columns).squareRoot() * 8
            checks.append(
                KernelCheck(kernel: "layernorm", size: "\(rows)x\(columns)", absoluteTolerance: max(rowTolerance, 2e-6), relativeTolerance: 1e-5) {
                    backend in
                    let input = try upload(values(count, seed: 11, scale: 3, shift: 0.5), to: backend)
                    let (weight, bias) = (
                        try upload(values(columns, seed: 12, shift: 1), to: backend), try upload(values(columns, seed: 13), to: backend)
                    )
                    let output = try backend.allocate(count: count)
                    let (mean, inverse) = (try backend.allocate(count: rows), try backend.allocate(count: rows))
                    try backend.layerNormForward(
                        input, weight: weight, bias: bias, output: output, mean: mean, inverseStandardDeviation: inverse,
                        rows: rows, columns: columns, epsilon: 1e-5)
                    return [
                        try download(output, count, from: backend), try download(mean, rows, from: backend),
                        try download(inverse, rows, from: backend),
                    ]
                })
            checks.append(
                KernelCheck(
                    kernel: "layernorm_backward", size: "\(rows)x\(columns)",
                    absoluteTolerance: max(rowTolerance, 1e-6 * Float(rows).squareRoot() * 8), relativeTolerance: 1e-4
                ) { backend in
                    let input = try upload(values(count, seed: 11, scale: 3, shift: 0.5), to: backend)
                    let (weight, bias) = (
                        try upload(values(columns, seed: 12, shift: 1), to: backend), try upload(values(columns, seed: 13), to: backend)
                    )
                    let gradient = try upload(values(count, seed: 14), to: backend)
                    let output = try backend.allocate(count: count)
                    let (mean, inverse) = (try backend.allocate(count: rows), try backend.allocate(count: rows))
                    try backend.layerNormForward(
                        input, weight: weight, bias: bias, output: output, mean: mean, inverseStandardDeviation: inverse,
                        rows: rows, columns: columns, epsilon: 1e-5)
                    let inputGradient = try backend.allocate(count: count)
                    let (weightGradient, biasGradient) = (try backend.allocate(count: columns), try backend.allocate(count: columns))
                    try backend.layerNormBackward(
                        outputGradient: gradient, input: input, weight: weight, mean: mean, inverseStandardDeviation: inverse,
                        inputGradient: inputGradient, weightGradient: weightGradient, biasGradient: biasGradient, rows: rows, columns: columns)
                    return [
                        try download(inputGradient, count, from: backend), try download(weightGradient, columns, from: backend),
                        try download(biasGradient, columns, from: backend),
                    ]
                })
        }
        return checks
    }

    static func softmax(_ scope: CheckScope) -> [KernelCheck] {
        scope.sizes([(1, 1), (7, 33), (33, 129)], large: [(256 * 4 * 65, 65), (8 * 12 * 197 / 4, 197)]).map { rows, columns in
            let count = rows * columns
            return KernelCheck(kernel: "softmax", size: "\(rows)x\(columns)", absoluteTolerance: 1e-6, relativeTolerance: 1e-5) { backend in
                let input = try upload(values(count, seed: 15, scale: 6), to: backend)
                let gradient = try upload(values(count, seed: 16), to: backend)
                let (output, inputGradient) = (try backend.allocate(count: count), try backend.allocate(count: count))
                try backend.softmaxForward(input, output: output, rows: rows, columns: columns)
                try backend.softmaxBackward(output: output, outputGradient: gradient, inputGradient: inputGradient, rows: rows, columns: columns)
                return [try download(output, count, from: backend), try download(inputGradient, count, from: backend)]
            }
        }
    }

    static func crossEntropy(_ scope: CheckScope) -> [KernelCheck] {
        var checks: [KernelCheck] = []
        for (rows, classes) in scope.sizes([(1, 1), (7, 10)], large: [(256, 10), (33, 1000)]) {
            for smoothing: Float in [0, 0.1] {
                checks.append(
                    KernelCheck(kernel: "crossentropy", size: "\(rows)x\(classes) s=\(smoothing)", absoluteTolerance: 1e-5, relativeTolerance: 1e-5) {
                        backend in
                        let logits = try upload(values(rows * classes, seed: 17, scale: 5), to: backend)
                        let labels = try upload((0..<rows).map { Float(($0 * 7 + 3) % classes) }, to: backend)
                        let losses = try backend.allocate(count: rows)
                        let gradient = try backend.allocate(count: rows * classes)
                        let outputGradient = try upload([0.75], to: backend)
                        try backend.crossEntropyForward(
                            logits: logits, labels: labels, losses: losses, rows: rows, classes: classes, labelSmoothing: smoothing,
                            scale: 1 / Float(rows))
                        try backend.crossEntropyBackward(
                            logits: logits, labels: labels, outputGradient: outputGradient, logitsGradient: gradient,
                            rows: rows, classes: classes, labelSmoothing: smoothing, scale: 1 / Float(rows))
                        return [try download(losses, rows, from: backend), try download(gradient, rows * classes, from: backend)]
                    })
            }
        }
        // Top-1 statistics over three batches, with ties, a NaN logit and a NaN label logit, and
        // a NaN loss in the middle (it ends the loss sum and the count of finite batches):
        // counts are exact, the loss sum is one product and one addition.
        for (rows, classes) in scope.sizes([(1, 1), (7, 10), (33, 3)], large: [(256, 10), (129, 1000)]) {
            checks.append(
                KernelCheck(kernel: "crossentropy_statistics", size: "\(rows)x\(classes)", absoluteTolerance: 0, relativeTolerance: 1e-6) { backend in
                    var logits = values(rows * classes, seed: 27, scale: 5).map { ($0 * 4).rounded() / 4 }
                    if rows > 2 { logits[classes + 1] = .nan }
                    if rows > 4 { logits[4 * classes + (4 * 7 + 3) % classes] = .nan }
                    let (logitsBuffer, labels) = (
                        try upload(logits, to: backend), try upload((0..<rows).map { Float(($0 * 7 + 3) % classes) }, to: backend)
                    )
                    let statistics = try upload([0.5, 2, 0, 0], to: backend)
                    for loss: Float in [0.25, .nan, 1.75] {
                        try backend.accumulateClassificationStatistics(
                            logits: logitsBuffer, labels: labels, loss: try upload([loss], to: backend),
                            statistics: statistics, rows: rows, classes: classes)
                    }
                    return [try download(statistics, 4, from: backend)]
                })
        }
        return checks
    }

    // MARK: - Layout: sums, broadcasts, permutes, patches

    static func reduce(_ scope: CheckScope) -> [KernelCheck] {
        var checks: [KernelCheck] = []
        // (1, 4097, 16) splits the summed axis into two uneven halves on two cores; (1, 17000, 2)
        // is long enough for the OpenCL backend's two-stage sum.
        let shapes = scope.sizes(
            [(1, 1, 1), (7, 33, 1), (1, 129, 7), (129, 7, 33), (1, 4097, 16), (1, 9000, 1), (2, 5000, 3), (1, 17000, 2)],
            large: [(1, 256 * 65, 48), (8, 197, 768)])
        for (outer, axis, inner) in shapes {
            checks.append(
                KernelCheck(
                    kernel: "sum", size: "\(outer)x\(axis)x\(inner)", absoluteTolerance: 1e-6 * Float(axis).squareRoot() * 8, relativeTolerance: 1e-5
                ) { backend in
                    let input = try upload(values(outer * axis * inner, seed: 18), to: backend)
                    let output = try backend.allocate(count: outer * inner)
                    try backend.sum(input, output: output, outer: outer, axis: axis, inner: inner)
                    return [try download(output, outer * inner, from: backend)]
                })
            checks.append(
                KernelCheck(kernel: "broadcast", size: "\(outer)x\(axis)x\(inner)", absoluteTolerance: 0, relativeTolerance: 0) { backend in
                    let input = try upload(values(outer * inner, seed: 19), to: backend)
                    let output = try backend.allocate(count: outer * axis * inner)
                    try backend.broadcast(input, output: output, outer: outer, axis: axis, inner: inner)
                    return [try download(output, outer * axis * inner, from: backend)]
                })
        }
        return checks
    }

    static func permute(_ scope: CheckScope) -> [KernelCheck] {
        let permutes: [([Int], [Int])] = scope.sizes(
            [([1], [0]), ([7, 33], [1, 0]), ([7, 1, 33, 2], [3, 0, 2, 1]), ([2, 3, 5, 7, 1, 3], [5, 4, 3, 2, 1, 0])],
            large: [([256, 65, 4, 12], [0, 2, 1, 3]), ([256, 4, 65, 12], [0, 2, 1, 3]), ([8, 197, 3, 12, 64], [2, 0, 3, 1, 4])])
        return permutes.map { shape, permutation in
            let count = shape.reduce(1, *)
            return KernelCheck(kernel: "permute", size: "\(shape) by \(permutation)", absoluteTolerance: 0, relativeTolerance: 0) { backend in
                let input = try upload(values(count, seed: 20), to: backend)
                let output = try backend.allocate(count: count)
                try backend.permute(input, output: output, shape: shape, permutation: permutation)
                return [try download(output, count, from: backend)]
            }
        }
    }

    static func patchify(_ scope: CheckScope) -> [KernelCheck] {
        scope.sizes([(1, 1, 1, 1), (3, 3, 14, 7)], large: [(256, 1, 32, 4), (8, 3, 224, 16)]).map { batch, channels, side, patch in
            let count = batch * channels * side * side
            return KernelCheck(kernel: "patchify", size: "\(batch)x\(channels)x\(side)x\(side) p\(patch)", absoluteTolerance: 0, relativeTolerance: 0)
            { backend in
                let images = try upload(values(count, seed: 25), to: backend)
                let (patches, restored) = (try backend.allocate(count: count), try backend.allocate(count: count))
                try backend.patchify(images, output: patches, batch: batch, channels: channels, height: side, width: side, patch: patch)
                try backend.unpatchify(patches, output: restored, batch: batch, channels: channels, height: side, width: side, patch: patch)
                return [try download(patches, count, from: backend), try download(restored, count, from: backend)]
            }
        }
    }

    // MARK: - Training kernels: dropout, AdamW, SGD

    static func dropout(_ scope: CheckScope) -> [KernelCheck] {
        var checks: [KernelCheck] = []
        for count in scope.sizes(oddCounts, large: vitCounts) {
            for probability: Float in [0.1, 0.5] {
                checks.append(
                    KernelCheck(kernel: "dropout", size: "\(count) p=\(probability)", absoluteTolerance: 0, relativeTolerance: 1e-6) { backend in
                        let input = try upload(values(count, seed: 21), to: backend)
                        let output = try backend.allocate(count: count)
                        try backend.dropout(input, output: output, count: count, probability: probability, seed: 1234, offset: 17)
                        return [try download(output, count, from: backend)]
                    })
            }
        }
        return checks
    }

    static func adamW(_ scope: CheckScope) -> [KernelCheck] {
        scope.sizes(oddCounts, large: [119_194]).map { count in
            KernelCheck(kernel: "adamw", size: "\(count) x3 steps", absoluteTolerance: 1e-6, relativeTolerance: 1e-5) { backend in
                let parameter = try upload(values(count, seed: 22), to: backend)
                let (first, second) = (try backend.allocate(count: count), try backend.allocate(count: count))
                try backend.fill(first, count: count, value: 0)
                try backend.fill(second, count: count, value: 0)
                for step in 1...3 {
                    let gradient = try upload(values(count, seed: 22 + UInt32(step)), to: backend)
                    try backend.adamW(
                        parameter: parameter, gradient: gradient, firstMoment: first, secondMoment: second, count: count,
                        step: AdamWStep(learningRate: 1e-3, weightDecay: 0.05, step: step))
                }
                return [
                    try download(parameter, count, from: backend), try download(first, count, from: backend),
                    try download(second, count, from: backend),
                ]
            }
        }
    }

    static func sgd(_ scope: CheckScope) -> [KernelCheck] {
        scope.sizes(oddCounts, large: [119_194]).map { count in
            KernelCheck(kernel: "sgd", size: "\(count) x3 steps", absoluteTolerance: 1e-6, relativeTolerance: 1e-5) { backend in
                let parameter = try upload(values(count, seed: 26), to: backend)
                let velocity = try backend.allocate(count: count)
                try backend.fill(velocity, count: count, value: 0)
                for step in 1...3 {
                    let gradient = try upload(values(count, seed: 26 + UInt32(step)), to: backend)
                    try backend.sgd(
                        parameter: parameter, gradient: gradient, velocity: velocity, count: count, learningRate: 0.05, momentum: 0.9,
                        weightDecay: 5e-4)
                }
                return [try download(parameter, count, from: backend), try download(velocity, count, from: backend)]
            }
        }
    }

    // MARK: - Inputs

    /// Deterministic pseudo-random values in [shift - scale, shift + scale).
    public static func values(_ count: Int, seed: UInt32, scale: Float = 1, shift: Float = 0) -> [Float] {
        let key = CounterRandom.key(seed: seed, offset: 0)
        return (0..<count).map { shift + scale * (2 * CounterRandom.uniform(key: key, index: UInt32(truncatingIfNeeded: $0)) - 1) }
    }

    static func upload(_ values: [Float], to backend: Backend) throws -> DeviceStorage {
        let storage = try backend.allocate(count: values.count)
        try values.withUnsafeBufferPointer { try backend.write($0, to: storage) }
        return storage
    }

    static func download(_ storage: DeviceStorage, _ count: Int, from backend: Backend) throws -> [Float] {
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBufferPointer { try backend.read(storage, into: $0) }
        return values
    }
}
