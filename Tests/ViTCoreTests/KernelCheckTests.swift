import ViTBackends
import ViTCore
import XCTest

/// Every kernel on the OpenCL device (PoCL in CI) against the CPU backend, with the
/// tolerances of KernelCheckCatalog. `vit check` runs the same catalogue on any device.
final class KernelCheckTests: XCTestCase {
    private func runChecks(_ families: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let device = try TestDevices.openCL()
        let checks = KernelCheckCatalog.checks().filter { families.contains($0.family) }
        XCTAssertFalse(checks.isEmpty, "no checks for \(families)", file: file, line: line)
        for check in checks {
            let result = try check.run(on: device, reference: TestDevices.cpu)
            print(result)
            XCTAssertTrue(result.passed, "\(result)", file: file, line: line)
        }
    }

    func testGemm() throws { try runChecks(["gemm"]) }
    func testElementwise() throws { try runChecks(["add", "subtract", "multiply", "scale", "fill", "add_bias"]) }
    func testGelu() throws { try runChecks(["gelu"]) }
    func testLayerNorm() throws { try runChecks(["layernorm", "layernorm_backward"]) }
    func testSoftmax() throws { try runChecks(["softmax"]) }
    func testCrossEntropy() throws { try runChecks(["crossentropy"]) }
    func testSumAndBroadcast() throws { try runChecks(["sum", "broadcast"]) }
    func testPermute() throws { try runChecks(["permute"]) }
    func testCopyBlocksAndPatchify() throws { try runChecks(["copy_blocks", "patchify"]) }
    func testDropout() throws { try runChecks(["dropout"]) }
    func testOptimizers() throws { try runChecks(["adamw", "sgd"]) }
    func testSparseAttention() throws { try runChecks(["sparse_attention"]) }
    func testFeatureMaps() throws { try runChecks(["favor", "elu_features"]) }
    func testLinearAttention() throws { try runChecks(["linear_attention"]) }
    func testPseudoInverseStart() throws { try runChecks(["pinv_start"]) }
    func testSequenceConvolution() throws { try runChecks(["sequence_convolution"]) }

    /// Every family of the catalogue is covered by one of the tests above.
    func testEveryFamilyIsTested() {
        let tested: Set = ["gemm", "add", "subtract", "multiply", "scale", "fill", "add_bias", "gelu", "layernorm", "layernorm_backward",
                           "softmax", "crossentropy", "sum", "broadcast", "permute", "copy_blocks", "patchify", "dropout", "adamw", "sgd",
                           "sparse_attention", "favor", "elu_features", "linear_attention", "pinv_start", "sequence_convolution"]
        XCTAssertEqual(Set(KernelCheckCatalog.checks().map(\.family)), tested)
    }

    /// A check fails when the device disagrees: the comparison is not vacuous.
    func testCheckDetectsADifference() throws {
        var flip = false
        let check = KernelCheck(family: "probe", size: "3", absoluteTolerance: 1e-6, relativeTolerance: 1e-6) { _ in
            flip.toggle()
            return [[1, 2, flip ? 3 : 3.1]]
        }
        let result = try check.run(on: TestDevices.cpu, reference: TestDevices.cpu)
        XCTAssertFalse(result.passed)
        XCTAssertEqual(result.mismatchCount, 1)
        XCTAssertEqual(result.maximumDifference, 0.1, accuracy: 1e-6)
    }
}
