import Foundation
import ViTBackends
import ViTCore
import ViTNN
import ViTSerialization
import ViTTraining
import XCTest

/// The model against PyTorch + timm: Tools/make_parity_fixture.py saved a tiny timm
/// VisionTransformer's weights, an input batch, its logits, loss and every gradient. The
/// same weights loaded by name must give the same numbers on every backend. A second
/// fixture holds the model with global_pool='avg' (its final norm is `fc_norm`).
final class ModelParityTests: XCTestCase {
    private static let fixtures = ["timm_vit_parity", "timm_vit_parity_avg"].map {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\($0).safetensors")
    }

    private func check(on backend: Backend) throws {
        for fixture in Self.fixtures {
            try check(fixture, on: backend)
        }
    }

    private func check(_ fixture: URL, on backend: Backend) throws {
        let file = try SafeTensorsFile.read(from: fixture)
        let configuration = try JSONDecoder().decode(ViTConfiguration.self, from: Data(file.metadata["config"]!.utf8))
        let smoothing = Float(file.metadata["label_smoothing"]!)!
        let model = try VisionTransformer(configuration: configuration, on: backend)
        let weights = SafeTensorsFile(
            tensors: file.tensors.filter { !$0.key.hasPrefix("grad.") && !["input", "labels", "logits", "loss"].contains($0.key) })
        try Checkpoint.load(weights, into: model.stateTensors, source: "fixture")
        // `vit eval` on a file timm wrote (no stored configuration) infers the same model.
        XCTAssertEqual(try Checkpoint.inferConfiguration(from: weights, heads: configuration.numAttentionHeads), configuration)
        let input = try XCTUnwrap(file["input"])
        let images = try Tensor(input.values, shape: Shape(input.shape), on: backend)
        let labels = try Tensor(file["labels"]!.values, shape: [input.shape[0]], on: backend)
        let logits = try model(images, context: ForwardContext(training: false))
        let loss = try crossEntropy(logits: logits, labels: labels, labelSmoothing: smoothing)
        try loss.backward()
        // Both sides compute in float32 with different summation orders: 1e-5 relative.
        assertClose(try logits.toArray(), file["logits"]!.values, "logits", tolerance: 1e-5)
        assertClose([try loss.item()], file["loss"]!.values, "loss", tolerance: 1e-5)
        for (name, parameter) in model.namedParameters {
            let expected = try XCTUnwrap(file["grad." + name], "fixture lacks the gradient of \(name)")
            assertClose(
                try XCTUnwrap(parameter.gradient, "\(name) got no gradient").toArray(), expected.values, "gradient of \(name)", tolerance: 1e-4)
        }
    }

    private func assertClose(_ actual: [Float], _ expected: [Float], _ what: String, tolerance: Float, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, what, line: line)
        let scale = max(expected.map(abs).max() ?? 1, 1e-3)
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance * scale, "\(what): max difference \(worst) (scale \(scale))", line: line)
    }

    func testMatchesTimmOnTheCPU() throws {
        try check(on: DeviceRegistry.shared.backend(for: .cpu))
    }

    func testMatchesTimmOnOpenCL() throws {
        guard !DeviceRegistry.shared.openCLDevices.isEmpty else { throw XCTSkip("no OpenCL platform found: OpenCL parity skipped") }
        try check(on: DeviceRegistry.shared.backend(for: DeviceRegistry.shared.device(for: "opencl")))
    }
}
