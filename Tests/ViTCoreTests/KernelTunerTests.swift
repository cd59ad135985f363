import Foundation
import ViTBackends
import ViTCore
import ViTOpenCL
import XCTest

/// `vit tune`'s machinery on the OpenCL device (PoCL in CI): every configuration is checked
/// and timed, the fastest correct one is chosen and used by the backend, and the choices
/// survive a round trip through their file.
final class KernelTunerTests: XCTestCase {
    func testTunerChoosesTheFastestCorrectConfigurationAndTheBackendUsesIt() throws {
        guard let device = try TestDevices.openCL() as? OpenCLBackend else { throw XCTSkip("the OpenCL device is not an OpenCLBackend") }
        let saved = device.tuning
        defer { device.tuning = saved }
        let families = KernelTuner.families
        XCTAssertTrue(families.contains { $0.name == "flash_attention" })
        let tuner = KernelTuner(device: device, reference: TestDevices.cpu, seconds: 0.01)
        for family in families {
            for tuningCase in family.tuningCases(headSizes: [16], tokens: [33]) {
                XCTAssertGreaterThanOrEqual(tuningCase.candidates.count, 3, "\(tuningCase.family) \(tuningCase.kernel)")
                let (trials, choice) = try tuner.tune(tuningCase)
                XCTAssertEqual(trials.map(\.configuration), tuningCase.candidates)
                XCTAssertTrue(trials.allSatisfy(\.passed), "every configuration computes the same attention: \(trials)")
                XCTAssertTrue(trials.allSatisfy { $0.seconds > 0 && $0.seconds.isFinite })
                let fastest = trials.min { $0.seconds < $1.seconds }
                XCTAssertEqual(choice, fastest?.configuration)
                XCTAssertEqual(device.tuning.choices[tuningCase.key], choice)
            }
        }
        XCTAssertTrue(families.contains { $0.name == "sparse_attention" })
        let shapeClass = KernelTuning.attentionShapeClass(tokens: 33, headSize: 16)
        let (forward, backward) = try (
            XCTUnwrap(device.tuning.choices[KernelTuning.key(family: "flash_attention", kernel: "forward_tiled", shapeClass: shapeClass)]),
            XCTUnwrap(device.tuning.choices[KernelTuning.key(family: "flash_attention", kernel: "backward_tiled", shapeClass: shapeClass)])
        )
        XCTAssertEqual(device.flashChoice(tokens: 33, headSize: 16), "forward \(forward) (tuned), backward \(backward) (tuned)")
        XCTAssertEqual(device.flashTiles(.backward, tokens: 33, headSize: 16).tiles.name, backward)
        XCTAssertEqual(
            device.flashChoice(tokens: 33, headSize: 24), "forward rows64-keys64 (heuristic), backward own64-other64 (heuristic)",
            "another head size is not tuned")
        let bandKey = KernelTuning.key(
            family: "sparse_attention", kernel: "bands_group", shapeClass: KernelTuning.attentionShapeClass(tokens: 33, headSize: 16))
        let bandChoice = try XCTUnwrap(device.tuning.choices[bandKey])
        XCTAssertEqual(
            device.sparseKernelChoice(tokens: 33, headSize: 16), (bandChoice == "lists" ? "index lists" : "bands \(bandChoice)") + " (tuned)")

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tuning-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try device.tuning.save(for: device.info, in: folder)
        XCTAssertEqual(try KernelTuning.load(for: device.info, in: folder), device.tuning)
    }

    /// A damaged file of choices is an error naming it, not silently ignored.
    func testUnreadableTuningFileIsAnErrorNamingIt() throws {
        guard let device = try TestDevices.openCL() as? OpenCLBackend else { throw XCTSkip("the OpenCL device is not an OpenCLBackend") }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tuning-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = KernelTuning.file(for: device.info, in: folder)
        try Data("{not json".utf8).write(to: file)
        XCTAssertThrowsError(try KernelTuning.load(for: device.info, in: folder)) { error in
            XCTAssertTrue("\(error)".contains(file.path), "\(error)")
        }
    }
}
