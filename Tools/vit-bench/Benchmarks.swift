import ArgumentParser
import COpenBLAS
import Foundation
import ViTBackends
import ViTCore

/// Benchmarks that print figures. Build in release: `swift run -c release vit-bench ...`.
@main
struct Benchmarks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vit-bench",
        abstract: "Kernel and training benchmarks.",
        subcommands: [KernelBenchmark.self, TrainingBenchmark.self, AttentionBenchmark.self],
        defaultSubcommand: KernelBenchmark.self
    )

    /// ArgumentParser's `main`, with `DeviceRegistry.prepareForExit()` before the process
    /// ends, whether the command succeeded or threw.
    static func main() {
        let error = DeviceRegistry.runThenPrepareForExit {
            var command = try parseAsRoot()
            try command.run()
        }
        if let error { exit(withError: error) }
    }
}

/// Checks a `--seconds` value: a finite, positive duration of at most an hour (an infinite
/// one would never end).
func requireDuration(_ seconds: Double, flag: String) throws {
    guard seconds > 0, seconds <= 3600 else { throw ValidationError("\(flag) must be in (0, 3600] seconds, got \(seconds)") }
}

/// Kernel benchmarks: time and achieved GFLOP/s (GEMM) or GB/s (memory-bound kernels) at
/// ViT sizes on each backend, and OpenBLAS called directly as the CPU GEMM's yardstick.
struct KernelBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Time GEMM and the elementwise/norm kernels at ViT sizes on each backend."
    )

    @Option(name: .long, help: "cpu, opencl:N, or all (every device).")
    var device = "all"

    @Option(name: .long, help: "Minimum seconds of timed runs per kernel.")
    var seconds = 0.5

    @Option(name: .long, help: "Only rows whose kernel name contains this text.")
    var filter: String?

    func validate() throws {
        try requireDuration(seconds, flag: "--seconds")
    }

    func run() throws {
        let registry = DeviceRegistry.shared
        let devices = device == "all" ? registry.devices.map(\.device) : [try registry.device(for: device)]
        print("kernel             size                          device     ms/call      rate")
        for target in devices {
            let backend = try registry.backend(for: target)
            for row in BenchmarkRow.catalogue(direct: target == .cpu) where filter.map({ row.name.contains($0) }) ?? true {
                let seconds = try row.time(on: backend, minimumSeconds: self.seconds)
                print(row.format(seconds: seconds, device: "\(target)"))
                fflush(stdout)
            }
        }
    }
}

/// One benchmark: a kernel at one size, with the work it does.
struct BenchmarkRow {
    let name: String
    let size: String
    /// Floating-point operations per call (GEMM) or 0.
    let flops: Double
    /// Bytes read and written per call (memory-bound kernels) or 0.
    let bytes: Double
    /// Prepares inputs on a backend and returns the call to time.
    let prepare: (Backend) throws -> () throws -> Void

    func time(on backend: Backend, minimumSeconds: Double) throws -> Double {
        let call = try prepare(backend)
        for _ in 0..<2 { try call() }
        try backend.synchronize()
        var calls = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            try call()
            calls += 1
            if calls % 4 == 0 || calls < 4 {
                try backend.synchronize()
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            }
        } while elapsed < minimumSeconds
        try backend.synchronize()
        elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return elapsed / Double(calls)
    }

    func format(seconds: Double, device: String) -> String {
        let rate = flops > 0 ? String(format: "%8.1f GFLOP/s", flops / seconds * 1e-9) : String(format: "%8.1f GB/s", bytes / seconds * 1e-9)
        return name.padding(toLength: 18, withPad: " ", startingAt: 0) + " " + size.padding(toLength: 29, withPad: " ", startingAt: 0)
            + " " + device.padding(toLength: 9, withPad: " ", startingAt: 0) + String(format: " %10.3f  ", seconds * 1e3) + rate
    }

    /// GEMMs of the seed ViT (256 images x 65 tokens, width 48, MLP 192) and of ViT-B/16
    /// (8 images x 197 tokens, width 768), attention's batched products, and the
    /// memory-bound kernels at the same activation sizes.
    static func catalogue(direct: Bool) -> [BenchmarkRow] {
        var rows: [BenchmarkRow] = []
        let gemms: [(String, GemmDescriptor)] = [
            ("qkv 16640x144x48", GemmDescriptor(transposeA: false, transposeB: true, m: 16640, n: 144, k: 48)),
            ("fc1 16640x192x48", GemmDescriptor(transposeA: false, transposeB: true, m: 16640, n: 192, k: 48)),
            ("fc2 16640x48x192", GemmDescriptor(transposeA: false, transposeB: true, m: 16640, n: 48, k: 192)),
            ("dW 192x48x16640", GemmDescriptor(transposeA: true, transposeB: false, m: 192, n: 48, k: 16640)),
            ("qkv 1576x2304x768", GemmDescriptor(transposeA: false, transposeB: true, m: 1576, n: 2304, k: 768)),
            ("fc1 1576x3072x768", GemmDescriptor(transposeA: false, transposeB: true, m: 1576, n: 3072, k: 768)),
            (
                "QK^T 1024x65x65x12",
                GemmDescriptor(
                    transposeA: false, transposeB: true, m: 65, n: 65, k: 12, batchCount: 1024,
                    strideA: 65 * 12, strideB: 65 * 12, strideC: 65 * 65)
            ),
            (
                "QK^T 96x197x197x64",
                GemmDescriptor(
                    transposeA: false, transposeB: true, m: 197, n: 197, k: 64, batchCount: 96,
                    strideA: 197 * 64, strideB: 197 * 64, strideC: 197 * 197)
            ),
        ]
        for (size, descriptor) in gemms {
            rows.append(
                BenchmarkRow(name: "gemm", size: size, flops: descriptor.flops, bytes: 0) { backend in
                    let (a, b, c) = try operands(descriptor, backend)
                    return { try backend.gemm(descriptor, a: a, b: b, c: c) }
                })
            if direct && descriptor.batchCount == 1 {
                // OpenBLAS called directly on preallocated memory: the yardstick for the backend's GEMM.
                rows.append(
                    BenchmarkRow(name: "openblas direct", size: size, flops: descriptor.flops, bytes: 0) { _ in
                        let d = descriptor
                        let a = UnsafeMutablePointer<Float>.allocate(capacity: d.m * d.k)
                        let b = UnsafeMutablePointer<Float>.allocate(capacity: d.k * d.n)
                        let c = UnsafeMutablePointer<Float>.allocate(capacity: d.m * d.n)
                        a.initialize(repeating: 0.5, count: d.m * d.k)
                        b.initialize(repeating: 0.25, count: d.k * d.n)
                        c.initialize(repeating: 0, count: d.m * d.n)
                        return {
                            // With OpenBLAS's own threads, as a program calling it directly runs it
                            // (the CPU backend keeps it at one thread and splits GEMMs itself).
                            openblas_set_num_threads(Int32(ProcessInfo.processInfo.activeProcessorCount))
                            defer { openblas_set_num_threads(1) }
                            cblas_sgemm(
                                CblasRowMajor, d.transposeA ? CblasTrans : CblasNoTrans, d.transposeB ? CblasTrans : CblasNoTrans,
                                Int32(d.m), Int32(d.n), Int32(d.k), 1, a, Int32(d.leadingDimensionA), b, Int32(d.leadingDimensionB),
                                0, c, Int32(d.leadingDimensionC))
                        }
                    })
            }
        }
        // Backend matmul through the tensor API, output allocated per call, as the model uses it.
        rows.append(
            BenchmarkRow(name: "matmul (tensor)", size: "qkv 16640x144x48", flops: 2 * 16640 * 144 * 48, bytes: 0) { backend in
                let x = try Tensor(KernelCheckCatalog.values(16640 * 48, seed: 1), shape: [256, 65, 48], on: backend)
                let w = try Tensor(KernelCheckCatalog.values(144 * 48, seed: 2), shape: [144, 48], on: backend)
                return { _ = try matmul(x, w, transposeB: true) }
            })
        let float = 4.0
        for (rowsCount, columns, label) in [(16640, 48, "256x65x48"), (1576, 768, "8x197x768")] {
            let count = rowsCount * columns
            rows.append(
                BenchmarkRow(name: "add", size: label, flops: 0, bytes: 3 * float * Double(count)) { backend in
                    let (a, b, c) = (try buffer(count, backend), try buffer(count, backend), try backend.allocate(count: count))
                    return { try backend.binary(.add, a, b, output: c, count: count) }
                })
            rows.append(
                BenchmarkRow(name: "add_bias", size: label, flops: 0, bytes: 2 * float * Double(count)) { backend in
                    let (a, bias, c) = (try buffer(count, backend), try buffer(columns, backend), try backend.allocate(count: count))
                    return { try backend.addBias(a, bias: bias, output: c, rows: rowsCount, columns: columns) }
                })
            rows.append(
                BenchmarkRow(name: "gelu_forward", size: label, flops: 0, bytes: 2 * float * Double(count)) { backend in
                    let (a, c) = (try buffer(count, backend), try backend.allocate(count: count))
                    return { try backend.geluForward(a, output: c, count: count) }
                })
            rows.append(
                BenchmarkRow(name: "gelu_backward", size: label, flops: 0, bytes: 3 * float * Double(count)) { backend in
                    let (a, g, c) = (try buffer(count, backend), try buffer(count, backend), try backend.allocate(count: count))
                    return { try backend.geluBackward(a, outputGradient: g, inputGradient: c, count: count) }
                })
            rows.append(
                BenchmarkRow(name: "layernorm_forward", size: label, flops: 0, bytes: 2 * float * Double(count)) { backend in
                    let (x, y) = (try buffer(count, backend), try backend.allocate(count: count))
                    let (w, b) = (try buffer(columns, backend), try buffer(columns, backend))
                    let (mean, inverse) = (try backend.allocate(count: rowsCount), try backend.allocate(count: rowsCount))
                    return {
                        try backend.layerNormForward(
                            x, weight: w, bias: b, output: y, mean: mean, inverseStandardDeviation: inverse,
                            rows: rowsCount, columns: columns, epsilon: 1e-5)
                    }
                })
            rows.append(
                BenchmarkRow(name: "layernorm_backward", size: label, flops: 0, bytes: 3 * float * Double(count)) { backend in
                    let (x, y, dy, dx) = (
                        try buffer(count, backend), try backend.allocate(count: count), try buffer(count, backend), try backend.allocate(count: count)
                    )
                    let (w, b) = (try buffer(columns, backend), try buffer(columns, backend))
                    let (dw, db) = (try backend.allocate(count: columns), try backend.allocate(count: columns))
                    let (mean, inverse) = (try backend.allocate(count: rowsCount), try backend.allocate(count: rowsCount))
                    try backend.layerNormForward(
                        x, weight: w, bias: b, output: y, mean: mean, inverseStandardDeviation: inverse,
                        rows: rowsCount, columns: columns, epsilon: 1e-5)
                    return {
                        try backend.layerNormBackward(
                            outputGradient: dy, input: x, weight: w, mean: mean, inverseStandardDeviation: inverse,
                            inputGradient: dx, weightGradient: dw, biasGradient: db, rows: rowsCount, columns: columns)
                    }
                })
        }
        // The reductions and step kernels of this session's GPU path: a bias gradient (column
        // sums of few columns), a whole gradient arena's sum (the clipping norm), clipping by
        // a norm on the device, and the on-device loss and top-1 count of a batch.
        for (outer, axis, inner, label) in [(1, 16640, 48, "bias grad 16640x48"), (1, 119_194, 1, "arena 119194")] {
            rows.append(
                BenchmarkRow(name: "sum", size: label, flops: 0, bytes: float * Double(outer * axis * inner)) { backend in
                    let (x, y) = (try buffer(outer * axis * inner, backend), try backend.allocate(count: outer * inner))
                    return { try backend.sum(x, output: y, outer: outer, axis: axis, inner: inner) }
                })
        }
        rows.append(
            BenchmarkRow(name: "scale_by_norm", size: "arena 119194", flops: 0, bytes: 2 * float * 119_194) { backend in
                let (x, norm) = (try buffer(119_194, backend), try buffer(1, backend))
                return {
                    try backend.scaleByNorm(
                        x, output: x, count: 119_194, squaredNorms: norm, block: 119_194, numerator: 1, epsilon: 1e-6, atMostOne: true)
                }
            })
        rows.append(
            BenchmarkRow(name: "crossentropy_stats", size: "256x10", flops: 0, bytes: float * 256 * 11) { backend in
                let (logits, loss, totals) = (try buffer(2560, backend), try buffer(1, backend), try buffer(4, backend))
                let labels = try backend.allocate(count: 256)
                try backend.fill(labels, count: 256, value: 3)
                return {
                    try backend.accumulateClassificationStatistics(
                        logits: logits, labels: labels, loss: loss, statistics: totals, rows: 256, classes: 10)
                }
            })
        for (rowsCount, columns, label) in [(256 * 4 * 65, 65, "1024x65 rows of 65"), (8 * 12 * 197, 197, "18912 rows of 197")] {
            let count = rowsCount * columns
            rows.append(
                BenchmarkRow(name: "softmax_forward", size: label, flops: 0, bytes: 2 * float * Double(count)) { backend in
                    let (x, y) = (try buffer(count, backend), try backend.allocate(count: count))
                    return { try backend.softmaxForward(x, output: y, rows: rowsCount, columns: columns) }
                })
            rows.append(
                BenchmarkRow(name: "softmax_backward", size: label, flops: 0, bytes: 3 * float * Double(count)) { backend in
                    let (y, dy, dx) = (try buffer(count, backend), try buffer(count, backend), try backend.allocate(count: count))
                    return { try backend.softmaxBackward(output: y, outputGradient: dy, inputGradient: dx, rows: rowsCount, columns: columns) }
                })
        }
        rows.append(
            BenchmarkRow(name: "permute", size: "256x65x3x4x12 heads", flops: 0, bytes: 2 * float * Double(16640 * 144)) { backend in
                let (x, y) = (try buffer(16640 * 144, backend), try backend.allocate(count: 16640 * 144))
                return { try backend.permute(x, output: y, shape: [256, 65, 3, 4, 12], permutation: [2, 0, 3, 1, 4]) }
            })
        // Nystromformer's convolution residual on the seed ViT: 256 images x 4 heads x 65 x 12, 33 taps.
        let (images, channels, tokens, width, taps) = (256, 4, 65, 12, 33)
        let convolutionCount = images * channels * tokens * width
        let convolutionFlops = 2 * Double(convolutionCount * taps)
        rows.append(
            BenchmarkRow(name: "seqconv_forward", size: "256x4x65x12 taps 33", flops: convolutionFlops, bytes: 0) { backend in
                let (x, w, y) = (
                    try buffer(convolutionCount, backend), try buffer(channels * taps, backend), try backend.allocate(count: convolutionCount)
                )
                return {
                    try backend.sequenceConvolutionForward(
                        x, weight: w, output: y, batch: images, channels: channels, tokens: tokens, width: width,
                        taps: taps, reversed: false)
                }
            })
        rows.append(
            BenchmarkRow(name: "seqconv_dweight", size: "256x4x65x12 taps 33", flops: convolutionFlops, bytes: 0) { backend in
                let (dy, x, dw) = (
                    try buffer(convolutionCount, backend), try buffer(convolutionCount + 1, backend), try backend.allocate(count: channels * taps)
                )
                return {
                    try backend.sequenceConvolutionWeightGradient(
                        outputGradient: dy, input: x, weightGradient: dw, batch: images, channels: channels,
                        tokens: tokens, width: width, taps: taps)
                }
            })
        rows.append(
            BenchmarkRow(name: "adamw", size: "119194 params", flops: 0, bytes: 7 * float * 119_194) { backend in
                let (p, g, m, v) = (
                    try buffer(119_194, backend), try buffer(119_194, backend), try buffer(119_194, backend), try buffer(119_194, backend)
                )
                try backend.fill(v, count: 119_194, value: 1)
                return {
                    try backend.adamW(
                        parameter: p, gradient: g, firstMoment: m, secondMoment: v, count: 119_194, step: AdamWStep(learningRate: 1e-3, step: 5))
                }
            })
        return rows
    }

    static func buffer(_ count: Int, _ backend: Backend) throws -> DeviceStorage {
        let storage = try backend.allocate(count: count)
        try KernelCheckCatalog.values(count, seed: UInt32(count % 1000)).withUnsafeBufferPointer { try backend.write($0, to: storage) }
        return storage
    }

    static func operands(_ d: GemmDescriptor, _ backend: Backend) throws -> (DeviceStorage, DeviceStorage, DeviceStorage) {
        (
            try buffer(d.m * d.k * d.batchCount, backend), try buffer(d.k * d.n * d.batchCount, backend),
            try backend.allocate(count: d.m * d.n * d.batchCount)
        )
    }
}
