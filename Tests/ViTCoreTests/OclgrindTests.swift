import Foundation
import ViTBackends
import ViTKernels
import XCTest

/// `vit check --small` under Oclgrind, a second, strict OpenCL implementation: a simulated
/// device that reports out-of-bounds accesses, data races between work-items and invalid
/// API use. Any report, or a family that does not pass, fails the test.
final class OclgrindTests: XCTestCase {
    /// The `vit` executable that `swift test` built beside the test bundle.
    private var vitExecutable: URL {
        let testBundle = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        return testBundle.deletingLastPathComponent().appendingPathComponent("vit")
    }

    private func oclgrind() throws -> URL {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent("oclgrind") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
        guard let path else { throw XCTSkip("oclgrind not installed (Tools/setup.sh installs it): the Oclgrind check is skipped") }
        return path
    }

    /// Runs `vit ARGUMENTS` (or another executable beside it) under `oclgrind OPTIONS`;
    /// returns its status, its output and Oclgrind's report.
    private func runUnderOclgrind(
        _ options: [String], _ arguments: [String], executable: String = "vit", environment: [String: String] = [:], logging: Bool = true
    ) throws -> (status: Int32, output: String, report: String) {
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("oclgrind-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: report) }
        let process = Process()
        process.executableURL = try oclgrind()
        let program = vitExecutable.deletingLastPathComponent().appendingPathComponent(executable)
        process.arguments = options + (logging ? ["--log", report.path] : []) + [program.path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let log = (try? String(contentsOf: report, encoding: .utf8)) ?? ""
        return (process.terminationStatus, output, log.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func testEveryFamilyIsCleanUnderOclgrind() throws {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: vitExecutable.path), "no vit executable at \(vitExecutable.path)")
        let run = try runUnderOclgrind(["--data-races", "--check-api"], ["check", "--small", "--device", "opencl", "--quiet"])
        print(run.output)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertEqual(run.report, "", "Oclgrind reported:\n\(run.report.prefix(4000))")
        XCTAssertTrue(run.output.contains("Oclgrind"), "the check did not run on Oclgrind's device:\n\(run.output)")
        for family in KernelFamily.all {
            XCTAssertTrue(run.output.contains("ok   family \(family.name) ("), "family \(family.name) did not pass under Oclgrind")
        }
    }

    /// The report is not vacuous: a sum kernel that reads one row past its input is caught.
    func testOclgrindReportsAnOutOfBoundsRead() throws {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: vitExecutable.path), "no vit executable at \(vitExecutable.path)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("broken-kernels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for family in ["common", "reduce"] {
            let source = try XCTUnwrap(KernelSources.source(family: family))
            let broken = family == "reduce" ? source.replacingOccurrences(of: "a < axis; a++", with: "a <= axis; a++") : source
            XCTAssertTrue(family == "common" || broken != source, "the reduce kernel's loop was not found")
            try broken.write(to: folder.appendingPathComponent("\(family).cl"), atomically: true, encoding: .utf8)
        }
        let run = try runUnderOclgrind(
            ["--check-api"], ["check", "--small", "--device", "opencl", "--family", "reduce", "--quiet"],
            environment: [KernelSources.overrideVariable: folder.path])
        XCTAssertTrue(run.report.contains("Invalid read"), "Oclgrind did not report the out-of-bounds read:\n\(run.report.prefix(2000))")
    }

    /// A device too small for the step (Oclgrind's device shrunk to 8 MB; the seed ViT's step
    /// at batch 256 needs at least 175 MiB) is refused with both figures before anything is
    /// allocated, not a crash.
    func testOutOfMemoryIsAClearError() throws {
        let run = try runUnderOclgrind(
            ["--global-mem-size", "8000000"], ["training", "--device", "opencl", "--steps", "1", "--batch-size", "256"],
            executable: "vit-bench", logging: false)
        XCTAssertEqual(run.status, 1, run.output)
        XCTAssertTrue(
            run.output.contains("a training step at --batch-size 256 needs at least 175.4 MiB, but Oclgrind Simulator has 7.6 MiB"), run.output)
    }
}
