import ViTBackends
import ViTCore
import XCTest

/// Backends shared by the tests: the CPU backend always, the OpenCL device when one exists.
enum TestDevices {
    static let cpu: Backend = try! DeviceRegistry.shared.backend(for: .cpu)

    /// The first OpenCL device (PoCL in CI), or a skip that says no platform exists.
    static func openCL() throws -> Backend {
        guard !DeviceRegistry.shared.openCLDevices.isEmpty else {
            throw XCTSkip("no OpenCL platform found: OpenCL kernel checks skipped (install pocl-opencl-icd to run them on the CPU)")
        }
        return try DeviceRegistry.shared.backend(for: DeviceRegistry.shared.device(for: "opencl"))
    }
}

/// Asserts that `body` throws a `ViTError` whose message contains `fragment`.
func assertThrowsViTError(_ fragment: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error containing '\(fragment)'", file: file, line: line)
    } catch let error as ViTError {
        XCTAssertTrue(error.description.contains(fragment), "'\(error.description)' does not contain '\(fragment)'", file: file, line: line)
    } catch {
        XCTFail("expected a ViTError, got \(error)", file: file, line: line)
    }
}
