import ArgumentParser
import Foundation
import ViTBackends
import ViTCore
import ViTNN
import ViTOpenCL
import ViTReports
import ViTSerialization

/// Attention cores on given Q, K, V [batch, heads, tokens, headSize]: forward and
/// forward+backward time, achieved GFLOP/s and peak device memory, per mechanism, token
/// count and backend; printed and optionally written as CSV.
struct AttentionBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Time attention cores (forward, forward+backward) and their peak memory versus the token count."
    )

    @Option(name: .long, help: "cpu, opencl:N, or all.")
    var device = "cpu"
    @Option(name: .long, help: "Comma-separated token counts.")
    var tokens = "65,257,1025,2049,4097"
    @Option(name: .long, help: "Comma-separated mechanisms (default: every one).")
    var attention: String?
    @Option(name: .long) var batch = 8
    @Option(name: .long) var heads = 8
    @Option(name: .long) var headSize = 32
    @Option(name: .long, help: "Largest N for cores that store N x N (their memory grows as N^2).")
    var quadraticLimit = 2049
    @Option(name: .long, help: "Minimum seconds of timed runs per figure.")
    var seconds = 1.0
    @Option(name: .long, help: "Also write the rows to this CSV file.")
    var csv: String?
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Also draw time and peak memory against the token count (log-log, forward and forward+backward) into this PNG (needs gnuplot).",
            valueName: "file.png"))
    var plot: String?

    @Option(
        name: .long,
        help:
            "The OpenCL kernels of Fibottention, dilated and axial attention: bands (staged blocks per band), lists (index lists) or auto (vit tune's choice, else bands on GPUs and lists on CPU devices)."
    )
    var sparseKernels = SparseKernels.auto

    func validate() throws {
        try requireDuration(seconds, flag: "--seconds")
        for (flag, value, limit) in [("--batch", batch, 4096), ("--heads", heads, 1024), ("--head-size", headSize, 4096)] {
            guard (1...limit).contains(value) else { throw ValidationError("\(flag) must be in 1...\(limit), got \(value)") }
        }
        if let plot, !plot.hasSuffix(".png") { throw ValidationError("--plot '\(plot)' must name a .png file") }
        guard quadraticLimit >= 1 else { throw ValidationError("--quadratic-limit must be at least 1, got \(quadraticLimit)") }
        // The largest tensors of a run: N x N probabilities for quadratic cores (up to the
        // limit), else a few N x D activations; both must fit in memory.
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        for count in try tokenCounts() {
            let rows = Double(batch) * Double(heads) * Double(count)
            let bytes = 4 * rows * max(3 * Double(min(count, quadraticLimit)), 8 * Double(headSize))
            guard bytes <= available else {
                throw ValidationError(
                    String(
                        format: "N %d needs about %.1f GiB at this batch and head count; this machine has %.1f GiB", count, bytes / 1_073_741_824,
                        available / 1_073_741_824))
            }
        }
    }

    /// The token counts of `--tokens`.
    private func tokenCounts() throws -> [Int] {
        try tokens.split(separator: ",", omittingEmptySubsequences: false).map { text -> Int in
            guard let value = Int(text), (1...(1 << 20)).contains(value) else {
                throw ValidationError("--tokens: '\(text)' is not a token count in 1...\(1 << 20)")
            }
            return value
        }
    }

    func run() throws {
        // A missing gnuplot or an unwritable CSV or PNG is reported before minutes of measuring.
        if let csv { try FileSystem.checkWritable(URL(fileURLWithPath: csv)) }
        let plotter = try plot.map { file in
            try FileSystem.checkWritable(URL(fileURLWithPath: file))
            return try Gnuplot()
        }
        let registry = DeviceRegistry.shared
        let devices = device == "all" ? registry.devices.map(\.device) : [try registry.device(for: device)]
        let kinds =
            try attention.map { list in
                try list.split(separator: ",").map { name -> AttentionKind in
                    guard let kind = AttentionKind(rawValue: String(name)) else {
                        throw ValidationError(
                            "unknown attention '\(name)'; choose from \(AttentionKind.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    return kind
                }
            } ?? AttentionKind.allCases.filter { $0 != .standardSeparate }
        let counts = try tokenCounts()
        var rows = [
            "device,attention,batch,heads,tokens,head_size,forward_ms,forward_backward_ms,forward_gflops,peak_memory_bytes,forward_peak_memory_bytes"
        ]
        var measurements: [AttentionMeasurement] = []
        print("device    attention            N     forward ms   fwd+bwd ms   fwd GFLOP/s   peak MiB")
        for target in devices {
            let backend = try registry.backend(for: target)
            (backend as? OpenCLBackend)?.sparseBandKernels = sparseKernels.bandKernels
            for kind in kinds {
                for count in counts {
                    if Self.isQuadratic(kind) && count > quadraticLimit { continue }
                    let figures: Figures
                    do {
                        figures = try measure(kind, tokens: count, on: backend)
                    } catch let error as ViTError {
                        // Mechanisms that need a square patch grid (or a fixed length) cannot run every N.
                        print("\(target) \(kind.rawValue) N=\(count): skipped: \(error)")
                        continue
                    }
                    // Exact attention's work (Q K^T and P V: 4 B H N^2 d): the yardstick for every core.
                    let flops = 4 * Double(batch * heads * headSize) * Double(count) * Double(count)
                    let line = String(
                        format: "%-9@ %-16@ %6d %12.2f %12.2f %13.1f %10.1f", "\(target)" as NSString, kind.rawValue as NSString, count,
                        figures.forward * 1e3, figures.both * 1e3, flops / figures.forward * 1e-9, Double(figures.peak) / 1_048_576)
                    print(line)
                    if let openCL = backend as? OpenCLBackend, kind == .standard {
                        print("          flash blocks: \(openCL.flashChoice(tokens: count, headSize: headSize))")
                    }
                    if let openCL = backend as? OpenCLBackend, [.fibottention, .dilated, .axial].contains(kind) {
                        print("          sparse kernels: \(openCL.sparseKernelChoice(tokens: count, headSize: headSize))")
                    }
                    fflush(stdout)
                    rows.append(
                        "\(target),\(kind.rawValue),\(batch),\(heads),\(count),\(headSize),\(figures.forward * 1e3),\(figures.both * 1e3),"
                            + "\(flops / figures.forward * 1e-9),\(figures.peak),\(figures.forwardPeak)")
                    measurements.append(
                        AttentionMeasurement(
                            device: "\(target)", mechanism: kind.rawValue, tokens: count, forwardMilliseconds: figures.forward * 1e3,
                            forwardBackwardMilliseconds: figures.both * 1e3, forwardPeakBytes: figures.forwardPeak,
                            forwardBackwardPeakBytes: figures.peak))
                }
            }
        }
        if let csv { try AtomicFile.write(Data((rows.joined(separator: "\n") + "\n").utf8), to: URL(fileURLWithPath: csv)) }
        if let plot, let plotter {
            let setup =
                "random Q, K, V [batch \(batch), \(heads) heads, N tokens, head size \(headSize)] on "
                + devices.map { "\($0)" }.joined(separator: ", ") + ", mean over at least \(seconds) s per point"
            let grid = AttentionScalingPlot.grid(for: measurements, setup: setup, fileName: plot)
            guard !grid.isEmpty else { throw ValidationError("--plot \(plot): no mechanism ran at these token counts, so there is nothing to draw") }
            try plotter.render(grid, to: URL(fileURLWithPath: plot))
            print("wrote \(plot)")
        }
    }

    /// One core's seconds per forward and forward+backward call, and their peak device memory in bytes.
    private typealias Figures = (forward: Double, both: Double, peak: Int, forwardPeak: Int)

    /// Cores that hold an N x N matrix per head.
    static func isQuadratic(_ kind: AttentionKind) -> Bool {
        kind == .naive
    }

    private func measure(_ kind: AttentionKind, tokens: Int, on backend: Backend) throws -> Figures {
        var configuration = ViTConfiguration()
        configuration.numAttentionHeads = heads
        configuration.hiddenSize = heads * headSize
        configuration.attention.kind = kind
        // The configuration describes the token sequence as a square grid of 1-pixel patches
        // plus the class token. When N - 1 is not a square it describes no grid (1 patch):
        // cores that need the grid or a fixed length reject the mismatch and the row is skipped.
        let side = Int(Double(tokens - 1).squareRoot().rounded())
        configuration.patchSize = 1
        configuration.imageSize = side * side == tokens - 1 ? side : 1
        var generator = SeededRandomGenerator(seed: 1)
        let core = try AttentionFactory.makeCore(kind, configuration: configuration, on: backend, generator: &generator)
        let shape: Shape = [batch, heads, tokens, headSize]
        let inputs = try (0..<3).map {
            try Tensor(KernelFamilies.values(shape.elementCount, seed: UInt32(10 + $0)), shape: shape, on: backend, requiresGradient: true)
        }
        let seed = try Tensor.full(shape, value: 1, on: backend)
        let context = ForwardContext(training: false)
        let forwardBaseline = backend.memory.live
        backend.memory.resetPeak()
        let forward = try time(on: backend) {
            _ = try GradientMode.withoutGradient { try core(query: inputs[0], key: inputs[1], value: inputs[2], context: context) }
        }
        try backend.synchronize()
        let forwardPeak = backend.memory.peak - forwardBaseline
        let baseline = backend.memory.live
        backend.memory.resetPeak()
        let both = try time(on: backend) {
            for input in inputs { input.zeroGradient() }
            try core(query: inputs[0], key: inputs[1], value: inputs[2], context: context).backward(seed)
        }
        return (forward, both, backend.memory.peak - baseline, forwardPeak)
    }

    /// Mean seconds of `body` over runs lasting at least `seconds`, after one warm-up run.
    private func time(on backend: Backend, _ body: () throws -> Void) throws -> Double {
        try body()
        try backend.synchronize()
        var runs = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            try body()
            try backend.synchronize()
            runs += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        } while elapsed < seconds
        return elapsed / Double(runs)
    }
}

/// `--sparse-kernels`: which OpenCL kernels run the sparse patterns given as bands.
enum SparseKernels: String, CaseIterable, ExpressibleByArgument {
    case auto, bands, lists

    /// `OpenCLBackend.sparseBandKernels` for this choice.
    var bandKernels: Bool? { self == .auto ? nil : self == .bands }
}
