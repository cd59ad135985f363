import ViTBackends
import ViTCore
import ViTNN
import ViTTraining
import XCTest

/// Gradients that land in an optimizer's arena (written in place by the backward rules, or
/// copied there) equal the gradients of the same model without an arena, step after step.
final class ParameterArenaTests: XCTestCase {
    private func gradients(of model: VisionTransformer, images: Tensor, labels: Tensor, step: Int) throws -> [String: [Float]] {
        let logits = try model(images, context: ForwardContext(training: true, seed: 3, step: step))
        try crossEntropy(logits: logits, labels: labels, labelSmoothing: 0.1).backward()
        return Dictionary(uniqueKeysWithValues: try model.namedParameters.map { ($0.name, try XCTUnwrap($0.tensor.gradient).toArray()) })
    }

    func testArenaGradientsEqualPlainGradients() throws {
        for backend in try SmallModelFixture.backends() {
            var configuration = SmallModelFixture.configuration
            configuration.hiddenDropoutProb = 0.1
            let (images, labels) = try SmallModelFixture.batch(on: backend)
            let plain = try VisionTransformer(configuration: configuration, on: backend, seed: 5)
            let arenaModel = try VisionTransformer(configuration: configuration, on: backend, seed: 5)
            let optimizer = try Muon(parameters: arenaModel.optimizedParameters)
            for step in 0..<2 {
                for parameter in plain.namedParameters { parameter.tensor.zeroGradient() }
                try optimizer.zeroGradients()
                let expected = try gradients(of: plain, images: images, labels: labels, step: step)
                let actual = try gradients(of: arenaModel, images: images, labels: labels, step: step)
                XCTAssertEqual(Set(actual.keys), Set(expected.keys))
                for (name, values) in expected {
                    XCTAssertEqual(actual[name], values, "\(name) on \(backend.device), step \(step)")
                }
            }
        }
    }
}
