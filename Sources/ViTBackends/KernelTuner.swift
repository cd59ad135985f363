import Foundation
import ViTCore
import ViTOpenCL

/// A kernel family with configurations to choose among per device (`vit tune`).
public protocol TunableKernelFamily: KernelFamilyDeclaration {
    /// The cases to tune for these head sizes and token counts.
    static func tuningCases(headSizes: [Int], tokens: [Int]) -> [TuningCase]
}

/// One kernel at one shape class: the configurations to try, the check that each must pass
/// against the CPU reference (its computation is also what is timed) and the kernels whose
/// device time counts.
public struct TuningCase {
    /// The family, the kernel and the shape class (one stored choice each).
    public let family: String
    public let kernel: String
    public let shapeClass: String
    /// The configurations' names, as `KernelTuning` stores them.
    public let candidates: [String]
    /// The kernels (profiler names) whose event times make a configuration's time.
    public let timedKernelPrefix: String
    /// The computation, compared with the CPU reference and timed.
    public let check: KernelCheck

    public init(family: String, kernel: String, shapeClass: String, candidates: [String], timedKernelPrefix: String, check: KernelCheck) {
        (self.family, self.kernel, self.shapeClass, self.candidates) = (family, kernel, shapeClass, candidates)
        (self.timedKernelPrefix, self.check) = (timedKernelPrefix, check)
    }

    /// Its key in `KernelTuning`.
    public var key: String { KernelTuning.key(family: family, kernel: kernel, shapeClass: shapeClass) }

    /// The cases of an attention kernel: one per head size and token count (their shape class,
    /// `KernelTuning.attentionShapeClass`), each checked on one batch item of 8 heads by
    /// `compute`, within `tolerance(N)` (absolute and relative).
    static func attention(
        family: String, kernel: String, candidates: [String], timedKernelPrefix: String, headSizes: [Int], tokens: [Int],
        tolerance: @escaping (Int) -> (absolute: Float, relative: Float), compute: @escaping (AttentionSize, Backend) throws -> [[Float]]
    ) -> [TuningCase] {
        headSizes.flatMap { headSize in
            tokens.map { count in
                let size = AttentionSize(batch: 1, heads: 8, tokens: count, headSize: headSize, scale: 1 / Float(headSize).squareRoot())
                let (absolute, relative) = tolerance(count)
                let check = KernelCheck(
                    kernel: "\(family) \(kernel)", size: "1x8x\(count)x\(headSize)", absoluteTolerance: absolute, relativeTolerance: relative
                ) {
                    try compute(size, $0)
                }
                return TuningCase(
                    family: family, kernel: kernel, shapeClass: KernelTuning.attentionShapeClass(tokens: count, headSize: headSize),
                    candidates: candidates, timedKernelPrefix: timedKernelPrefix, check: check)
            }
        }
    }
}

/// What the tuner measured of one configuration.
public struct TuningTrial: Sendable {
    public let configuration: String
    /// Whether it matched the CPU reference.
    public let passed: Bool
    /// Device seconds per run, from the kernels' events.
    public let seconds: Double
}

/// Tries every configuration of every tuning case on one OpenCL device, keeps the fastest
/// that matches the CPU reference, and stores the choices beside the compiled-kernel cache.
public struct KernelTuner {
    /// Every tunable family.
    public static var families: [any TunableKernelFamily.Type] {
        KernelFamilies.declarations.compactMap { $0 as? any TunableKernelFamily.Type }
    }

    let device: OpenCLBackend
    let reference: Backend
    /// Seconds of timed runs per configuration (at least 3 runs).
    let seconds: Double

    public init(device: OpenCLBackend, reference: Backend, seconds: Double) {
        (self.device, self.reference, self.seconds) = (device, reference, seconds)
    }

    /// Tunes `tuningCase`: tries each configuration, records the fastest that passed in the
    /// device's `tuning` (not saved) and returns the trials and the choice (nil when none passed).
    public func tune(_ tuningCase: TuningCase) throws -> (trials: [TuningTrial], choice: String?) {
        let key = tuningCase.key
        let previous = device.tuning.choices[key]
        var trials: [TuningTrial] = []
        for configuration in tuningCase.candidates {
            device.tuning.choices[key] = configuration
            let passed = try tuningCase.check.run(on: device, reference: reference).passed
            let seconds = passed ? try time(tuningCase) : .infinity
            trials.append(TuningTrial(configuration: configuration, passed: passed, seconds: seconds))
        }
        let best = trials.filter(\.passed).min { $0.seconds < $1.seconds }
        device.tuning.choices[key] = best?.configuration ?? previous
        return (trials, best?.configuration)
    }

    /// Device seconds per run of the case's computation, summed from the events of its kernels.
    private func time(_ tuningCase: TuningCase) throws -> Double {
        let profiler = Profiler.shared
        let wasEnabled = profiler.isEnabled
        profiler.isEnabled = true
        defer { profiler.isEnabled = wasEnabled }
        _ = try tuningCase.check.compute(device)
        try device.synchronize()
        profiler.reset()
        let start = DispatchTime.now().uptimeNanoseconds
        var runs = 0
        repeat {
            _ = try tuningCase.check.compute(device)
            runs += 1
        } while runs < 3 || Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 < seconds
        try device.synchronize()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        let total = profiler.entries().filter { $0.name.hasPrefix(tuningCase.timedKernelPrefix) }.reduce(0) { $0 + $1.totalSeconds }
        profiler.reset()
        // A driver without event times records none: the whole runs' wall time then.
        return (total > 0 ? total : wall) / Double(runs)
    }
}
