import Foundation
import ViTBackends
import ViTCore
import ViTNN
import ViTSerialization
import ViTTraining
import XCTest

/// A model with the convolutional stem, trained a few steps, saves and is rebuilt from the
/// checkpoint alone (as `vit eval` does) to the same outputs: the stem keeps no state
/// besides its parameters (layer norms, not BatchNorm's running statistics).
final class ConvolutionalStemCheckpointTests: XCTestCase {
    private let cpu = try! DeviceRegistry.shared.backend(for: .cpu)

    func testACheckpointEvaluatesToTheTrainedModelsOutputs() throws {
        var configuration = ViTConfiguration.trainingDefault(for: .fashionMNIST)
        configuration.numHiddenLayers = 1
        configuration.patchEmbedding = .convolutionalStem
        let model = try VisionTransformer(configuration: configuration, on: cpu, seed: 4)
        let optimizer = try AdamW(parameters: model.optimizedParameters)
        let images = try Tensor(KernelFamilies.values(8 * 32 * 32, seed: 9, scale: 2), shape: [8, 1, 32, 32], on: cpu)
        let labels = try Tensor((0..<8).map { Float($0 % 10) }, shape: [8], on: cpu)
        for step in 0..<3 {
            let loss = try crossEntropy(logits: model(images, context: ForwardContext(training: true, step: step)), labels: labels)
            try optimizer.zeroGradients()
            try loss.backward()
            try optimizer.step(learningRate: 1e-2)
        }
        let expected = try GradientMode.withoutGradient { try model(images, context: ForwardContext(training: false)).toArray() }

        let url = FileManager.default.temporaryDirectory.appendingPathComponent("stem-\(UUID().uuidString).safetensors")
        defer {
            try? FileManager.default.removeItem(at: url)
            try? FileManager.default.removeItem(at: Checkpoint.optimizerURL(for: url))
        }
        try Checkpoint.save(model: model, optimizer: optimizer, epoch: 1, to: url)
        let file = try Checkpoint.read(url)
        XCTAssertEqual(file["patch_embed.stem.0.conv.weight"]?.shape, [24, 1, 3, 3])
        XCTAssertEqual(file["patch_embed.stem.1.norm.bias"]?.shape, [48])
        XCTAssertEqual(file["patch_embed.proj.weight"]?.shape, [48, 48, 1, 1])
        let stored = try XCTUnwrap(Checkpoint.configuration(in: file))
        XCTAssertEqual(stored.patchEmbedding, .convolutionalStem)
        // Another seed: every value must come from the file.
        let restored = try VisionTransformer(configuration: stored, on: cpu, seed: 99)
        try Checkpoint.load(file, into: restored.stateTensors, source: url.lastPathComponent)
        let actual = try GradientMode.withoutGradient { try restored(images, context: ForwardContext(training: false)).toArray() }
        XCTAssertEqual(actual, expected)
        XCTAssertEqual(Set(file.tensors.keys), Set(model.stateTensors.map(\.name)))
    }
}
