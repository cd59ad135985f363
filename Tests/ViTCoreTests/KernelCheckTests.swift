import ViTBackends
import ViTCore
import ViTKernels
import XCTest

/// Every kernel family on the OpenCL device (PoCL in CI) against the CPU backend, with the
/// tolerances of its checks. `vit check` runs the same families on any device; both
/// enumerate `KernelFamily.all`, so a family registered there is tested here.
final class KernelCheckTests: XCTestCase {
    func testEveryFamilyAtEverySize() throws {
        let device = try TestDevices.openCL()
        for family in KernelFamily.all {
            let checks = family.checks(.full)
            XCTAssertFalse(checks.isEmpty, "family \(family.name) has no checks")
            var failures = 0
            for check in checks {
                let result = try check.run(on: device, reference: TestDevices.cpu)
                if !result.passed { failures += 1 }
                XCTAssertTrue(result.passed, "\(result)")
            }
            print("family \(family.name) (\(family.origin)): \(checks.count - failures) of \(checks.count) checks passed")
        }
    }

    /// The small scope is a subset of the full one that still covers every family.
    func testSmallScopeCoversEveryFamily() {
        for family in KernelFamily.all {
            let small = family.checks(.small)
            let full = Set(family.checks(.full).map { "\($0.kernel) \($0.size)" })
            XCTAssertFalse(small.isEmpty, "family \(family.name) has no small checks")
            XCTAssertTrue(small.allSatisfy { full.contains("\($0.kernel) \($0.size)") }, "family \(family.name)")
            XCTAssertTrue(small.allSatisfy { $0.family == family.name })
        }
    }

    /// Every Kernels/<family>.cl except the shared common.cl belongs to a registered family,
    /// and every family that names a kernel file has one.
    func testEveryKernelFileHasAFamily() throws {
        let folder = try XCTUnwrap(KernelSources.searchFolders().first)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".cl") }
        let kernelFiles = Set(files.map { String($0.dropLast(3)) }).subtracting(["common"])
        let registered = Set(KernelFamily.all.filter { $0.deviceCode == .kernelFile }.map(\.name))
        XCTAssertEqual(kernelFiles, registered)
        XCTAssertEqual(Set(KernelFamily.all.map(\.name)).count, KernelFamily.all.count, "a family is registered twice")
    }

    /// A check fails when the device disagrees: the comparison is not vacuous.
    func testCheckDetectsADifference() throws {
        var flip = false
        let check = KernelCheck(kernel: "probe", size: "3", absoluteTolerance: 1e-6, relativeTolerance: 1e-6) { _ in
            flip.toggle()
            return [[1, 2, flip ? 3 : 3.1]]
        }
        let result = try check.run(on: TestDevices.cpu, reference: TestDevices.cpu)
        XCTAssertFalse(result.passed)
        XCTAssertEqual(result.mismatchCount, 1)
        XCTAssertEqual(result.maximumDifference, 0.1, accuracy: 1e-6)
    }
}
