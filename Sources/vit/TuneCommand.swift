import ArgumentParser
import Foundation
import ViTBackends
import ViTCore
import ViTOpenCL

/// `vit tune`: tries each tunable kernel's configurations on an OpenCL device, keeps the
/// fastest that matches the CPU reference per shape class and stores the choices beside the
/// compiled-kernel cache, where every later run on that device finds them.
struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Choose the fastest correct kernel configurations for an OpenCL device and store them for later runs."
    )

    @Option(name: .long, help: "opencl or opencl:N (default: $VIT_DEVICE, else the first OpenCL device).")
    var device: String?

    @Option(
        name: .long, help: "Only families whose name contains this text (tunable: \(KernelTuner.families.map { $0.name }.joined(separator: ", "))).")
    var family: String?

    @Option(name: .long, help: "Comma-separated head sizes to tune, each in 1...256.")
    var headSizes = "32,64"

    @Option(name: .long, help: "Comma-separated token counts to tune (one per shape class), each in 1...16384.")
    var tokens = "65,257,1025"

    @Option(name: .long, help: "Minimum seconds of timed runs per configuration, in (0, 60].")
    var seconds = 0.2

    func validate() throws {
        guard seconds > 0, seconds <= 60 else { throw ValidationError("--seconds must be in (0, 60], got \(seconds)") }
        _ = try Self.list(headSizes, flag: "--head-sizes", range: 1...256)
        _ = try Self.list(tokens, flag: "--tokens", range: 1...16384)
    }

    /// The comma-separated positive integers of `text`, each within `range`.
    static func list(_ text: String, flag: String, range: ClosedRange<Int>) throws -> [Int] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { item in
            guard let value = Int(item), range.contains(value) else {
                throw ValidationError("\(flag): '\(item)' is not an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }
    }

    func run() throws {
        let registry = DeviceRegistry.shared
        var target = try registry.resolve(device)
        if target == .cpu && device == nil { target = try registry.device(for: "opencl") }
        guard target != .cpu, let backend = try registry.backend(for: target) as? OpenCLBackend else {
            throw ValidationError("--device: only OpenCL kernels are tuned; choose an OpenCL device with --device opencl:N")
        }
        let families = KernelTuner.families.filter { family.map($0.name.contains) ?? true }
        guard !families.isEmpty else {
            throw ValidationError("--family \(family ?? ""): no tunable family has that name (tunable: \(KernelTuner.families.map { $0.name }))")
        }
        let (headSizeList, tokenList) = (
            try Self.list(headSizes, flag: "--head-sizes", range: 1...256), try Self.list(tokens, flag: "--tokens", range: 1...16384)
        )
        let tuner = KernelTuner(device: backend, reference: try registry.backend(for: .cpu), seconds: seconds)
        print("tuning \(target) (\(backend.info.name), driver \(backend.info.driverVersion))")
        var tuned = Set<String>()
        for declaration in families {
            for tuningCase in declaration.tuningCases(headSizes: headSizeList, tokens: tokenList) where tuned.insert(tuningCase.key).inserted {
                let (trials, choice) = try tuner.tune(tuningCase)
                print("\(tuningCase.family) \(tuningCase.kernel) \(tuningCase.shapeClass) (checked at \(tuningCase.check.size)):")
                for trial in trials {
                    let time = trial.passed ? String(format: "%9.3f ms", trial.seconds * 1e3) : "  mismatch  "
                    print(
                        "  \(trial.configuration == choice ? "*" : " ") \(trial.configuration.padding(toLength: 16, withPad: " ", startingAt: 0)) \(time)"
                    )
                }
                print("  chose \(choice ?? "nothing (no configuration matched the CPU reference; the heuristic stays)")")
            }
        }
        try backend.tuning.save(for: backend.info)
        print("stored in \(KernelTuning.file(for: backend.info).path)")
    }
}
