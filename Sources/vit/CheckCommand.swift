import ArgumentParser
import Foundation
import ViTBackends
import ViTCore

/// `vit check`: runs every kernel on a device and on the CPU backend (the reference) and
/// compares them, so a user on a new GPU can see that each kernel is right there.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Compare every OpenCL kernel against the CPU reference on a device (default: the first OpenCL device)."
    )

    @Option(name: .long, help: "opencl or opencl:N (default: $VIT_DEVICE, else the first OpenCL device).")
    var device: String?

    @Option(name: .long, help: "Only kernel families or kernels whose name contains this text (e.g. gemm, layernorm).")
    var family: String?

    @Flag(name: .long, help: "Only small and odd shapes: every family in seconds, and fast enough for a simulator such as Oclgrind.")
    var small = false

    @Flag(name: .long, help: "Print only failures and the summary.")
    var quiet = false

    func run() throws {
        let registry = DeviceRegistry.shared
        var target = try registry.resolve(device)
        if target == .cpu && device == nil {
            target = try registry.device(for: "opencl")
        }
        guard target != .cpu else {
            throw ValidationError("the CPU backend is the reference; choose an OpenCL device with --device opencl:N")
        }
        let backend = try registry.backend(for: target)
        let reference = try registry.backend(for: .cpu)
        print("checking \(target) (\(backend.info.name)) against the CPU backend")
        let scope: CheckScope = small ? .small : .full
        var (total, failures) = (0, 0)
        for kernelFamily in KernelFamily.all {
            let checks = KernelFamily.checks(scope, matching: family).filter { $0.family == kernelFamily.name }
            guard !checks.isEmpty else { continue }
            var familyFailures = 0
            for check in checks {
                let result = try check.run(on: backend, reference: reference)
                if !result.passed { familyFailures += 1 }
                if !quiet || !result.passed { print(result) }
            }
            print(
                "\(familyFailures == 0 ? "ok  " : "FAIL") family \(kernelFamily.name) (\(kernelFamily.origin)): \(checks.count - familyFailures) of \(checks.count) checks passed"
            )
            total += checks.count
            failures += familyFailures
        }
        guard total > 0 else { throw ValidationError("--family \(family ?? ""): no kernel family or kernel has that name") }
        print("\(total - failures) passed, \(failures) failed")
        if failures > 0 { throw ExitCode.failure }
    }
}
