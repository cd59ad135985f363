import Foundation
import ViTBackends
import ViTCore
import ViTNN
import ViTSerialization
import ViTTraining
import XCTest

/// The timm presets against timm itself: Tools/make_preset_fixture.py saved, per name, the
/// state dict's names and shapes of `timm.create_model(NAME, num_classes=5)` (a strict load
/// needs exactly these) and the logits of the architecture cut to one block, with weights
/// and an input given by a formula both sides compute.
final class ModelPresetTests: XCTestCase {
    private struct Fixture: Decodable {
        struct Preset: Decodable {
            let stateDict: [String: [Int]]
            let logitsAtDepthOne: [Float]

            enum CodingKeys: String, CodingKey {
                case stateDict = "state_dict"
                case logitsAtDepthOne = "logits_depth_1"
            }
        }
        let classes: Int
        let presets: [String: Preset]
    }

    private let fixture: Fixture = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/timm_presets.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    private let cpu = try! DeviceRegistry.shared.backend(for: .cpu)

    func testEveryTimmNameIsInTheFixture() {
        XCTAssertEqual(Set(ModelPreset.names).subtracting([ModelPreset.seedName]), Set(fixture.presets.keys))
    }

    /// Our tensors have timm's names and shapes, all of them and no others. The model is
    /// built with two blocks (twelve cost minutes in a debug build); timm's twelve must be
    /// copies of block 0's names and shapes, and the rest must match exactly.
    func testStateDictsMatchTimmsForAStrictLoad() throws {
        for (name, expected) in fixture.presets {
            let preset = try XCTUnwrap(ModelPreset.named(name))
            var configuration = preset.configuration(channels: 3, classes: fixture.classes)
            configuration.numHiddenLayers = 2
            let model = try VisionTransformer(configuration: configuration, on: cpu)
            var ours: [String: [Int]] = [:]
            for (key, tensor) in model.stateTensors {
                guard key.hasPrefix("blocks.") else {
                    ours[key] = tensor.shape.dimensions
                    continue
                }
                guard key.hasPrefix("blocks.0.") else { continue }
                for block in 0..<preset.depth { ours["blocks.\(block)." + key.dropFirst("blocks.0.".count)] = tensor.shape.dimensions }
            }
            XCTAssertEqual(ours, expected.stateDict, name)
            XCTAssertEqual(model.stateTensors.filter { $0.name.hasPrefix("blocks.1.") }.count, ours.keys.filter { $0.hasPrefix("blocks.1.") }.count)
        }
    }

    /// One block of each architecture gives timm's logits for the same weights and input.
    /// Both compute in float32 in different orders; over a 768-wide block of 577 tokens the
    /// differences stay within 1e-4 of the logits' scale.
    func testLogitsMatchTimmAtReducedDepth() throws {
        for (name, expected) in fixture.presets.sorted(by: { $0.key < $1.key }) {
            var configuration = try XCTUnwrap(ModelPreset.named(name)).configuration(channels: 3, classes: fixture.classes)
            configuration.numHiddenLayers = 1
            let model = try VisionTransformer(configuration: configuration, on: cpu)
            var tensors: [String: NamedTensor] = [:]
            for (index, entry) in model.stateTensors.sorted(by: { $0.name < $1.name }).enumerated() {
                let shape = entry.tensor.shape.dimensions
                let values = (0..<shape.reduce(1, *)).map { Float(0.02 * sin(0.37 * Double($0) + 1.3 * Double(index))) }
                tensors[entry.name] = NamedTensor(shape: shape, values: values)
            }
            try Checkpoint.load(SafeTensorsFile(tensors: tensors), into: model.stateTensors, source: name)
            let side = configuration.imageSize
            let input = (0..<(2 * 3 * side * side)).map { Float(sin(0.11 * Double($0))) }
            let logits = try GradientMode.withoutGradient {
                try model(Tensor(input, shape: [2, 3, side, side], on: cpu), context: ForwardContext(training: false)).toArray()
            }
            let scale = max(expected.logitsAtDepthOne.map(abs).max() ?? 1, 1e-3)
            let worst = zip(logits, expected.logitsAtDepthOne).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertEqual(logits.count, expected.logitsAtDepthOne.count, name)
            XCTAssertLessThanOrEqual(worst, 1e-4 * scale, "\(name): max difference \(worst) (scale \(scale))")
        }
    }

    /// timm's parameter counts (1000 classes), and MACs that count every product of the
    /// blocks: qkv and projection 4 T D^2, scores and mixing 2 T^2 D, the MLP 2 T D M.
    func testParametersAndMultiplyAccumulates() throws {
        let expectedParameters = ["vit_tiny_patch16_224": 5_717_416, "vit_small_patch16_224": 22_050_664, "vit_base_patch16_224": 86_567_656]
        for (name, parameters) in expectedParameters {
            let configuration = try XCTUnwrap(ModelPreset.named(name)).configuration(channels: 3, classes: 1000)
            XCTAssertEqual(configuration.estimatedParameterCount, Double(parameters), name)
        }
        let tiny = try XCTUnwrap(ModelPreset.named("vit_tiny_patch16_224"))
        let model = try VisionTransformer(configuration: tiny.configuration(channels: 3, classes: 1000), on: cpu)
        XCTAssertEqual(model.parameterCount, expectedParameters["vit_tiny_patch16_224"])
        let (tokens, width, hidden) = (197, tiny.hiddenSize, tiny.intermediateSize)
        let block = 4 * tokens * width * width + 2 * tokens * tokens * width + 2 * tokens * width * hidden
        XCTAssertEqual(model.multiplyAccumulates, 196 * 3 * 16 * 16 * width + 12 * block + width * 1000)
        XCTAssertEqual(ModelPreset.named("deit_small_patch16_224"), ModelPreset.named("vit_small_patch16_224"))
        XCTAssertNil(ModelPreset.named("vit_huge_patch14_224"))
    }
}
