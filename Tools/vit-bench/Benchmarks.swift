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
        abstract: "Kernel, training, attention and data-pipeline benchmarks.",
        subcommands: [KernelBenchmark.self, TrainingBenchmark.self, AttentionBenchmark.self, DataBenchmark.self],
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

/// Kernel benchmarks: every kernel family's rows (`KernelFamilyDeclaration.benchmarks`), time
/// and achieved GFLOP/s (GEMM) or GB/s (memory-bound kernels) at ViT sizes on each backend,
/// and OpenBLAS called directly as the CPU GEMM's yardstick.
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
            let familyRows = KernelFamily.all.flatMap(\.benchmarks)
            let rows = familyRows + (target == .cpu ? OpenBLASDirect.rows : [])
            for row in rows where filter.map({ row.name.contains($0) }) ?? true {
                let seconds = try row.time(on: backend, minimumSeconds: self.seconds)
                print(row.format(seconds: seconds, device: "\(target)"))
                fflush(stdout)
            }
        }
    }
}

/// The CPU GEMM's yardstick: OpenBLAS called directly on preallocated memory, with its own
/// threads, at the GEMM family's unbatched sizes.
enum OpenBLASDirect {
    static var rows: [BenchmarkRow] {
        // Unbatched products only: OpenBLAS has no batched call.
        return KernelFamilies.Gemm.products.filter { $0.descriptor.batchCount == 1 }.map { size, d in
            BenchmarkRow(name: "openblas direct", size: size, flops: d.flops, bytes: 0) { _ in
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
            }
        }
    }
}
