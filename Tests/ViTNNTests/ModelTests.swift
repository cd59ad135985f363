import ViTBackends
import ViTCore
import ViTNN
import XCTest

final class ModelTests: XCTestCase {
    private let backend = try! DeviceRegistry.shared.backend(for: .cpu)

    func testSeedDefaultHas119194Parameters() throws {
        let model = try VisionTransformer(configuration: ViTConfiguration(), on: backend)
        XCTAssertEqual(model.parameterCount, 119_194)
    }

    func testForwardShapeAndBackwardReachesEveryParameter() throws {
        var configuration = ViTConfiguration()
        configuration.numHiddenLayers = 2
        let model = try VisionTransformer(configuration: configuration, on: backend)
        let images = try Tensor([Float](repeating: 0.5, count: 2 * 3 * 32 * 32), shape: [2, 3, 32, 32], on: backend)
        let logits = try model(images, context: ForwardContext(training: true))
        XCTAssertEqual(logits.shape, [2, 10])
        try crossEntropy(logits: logits, labels: Tensor([1, 7], shape: [2], on: backend)).backward()
        for (name, parameter) in model.namedParameters {
            XCTAssertNotNil(parameter.gradient, "\(name) got no gradient")
        }
    }

    /// The stem's MACs per image: 16 x 16 x 24 x 27 and 8 x 8 x 48 x 216 for the two 3 x 3
    /// convolutions of the seed model (3 channels), 64 x 48 x 48 for the 1 x 1, in place of the
    /// patchify projection's 64 x 48 x 48.
    func testConvolutionalStemsMultiplyAccumulatesAndSizeEstimate() throws {
        var configuration = ViTConfiguration()
        let patch = try VisionTransformer(configuration: configuration, on: backend)
        configuration.patchEmbedding = .convolutionalStem
        let stem = try VisionTransformer(configuration: configuration, on: backend)
        XCTAssertEqual(patch.patchEmbedding.multiplyAccumulates, 64 * 48 * 48)
        XCTAssertEqual(stem.patchEmbedding.multiplyAccumulates, 256 * 24 * 27 + 64 * 48 * 216 + 64 * 48 * 48)
        XCTAssertEqual(
            stem.multiplyAccumulates - patch.multiplyAccumulates, stem.patchEmbedding.multiplyAccumulates - patch.patchEmbedding.multiplyAccumulates)
        // The size estimate that guards memory before a model is built counts the stem.
        XCTAssertEqual(stem.configuration.estimatedParameterCount, Double(stem.parameterCount))
        XCTAssertEqual(patch.configuration.estimatedParameterCount, Double(patch.parameterCount))
    }

    func testAttentionMapsOnRequest() throws {
        var configuration = ViTConfiguration()
        configuration.numHiddenLayers = 2
        let model = try VisionTransformer(configuration: configuration, on: backend)
        let images = try Tensor([Float](repeating: 0.25, count: 2 * 3 * 32 * 32), shape: [2, 3, 32, 32], on: backend)
        let maps = try model.attentionMaps(images)
        XCTAssertEqual(maps.map(\.shape), [[2, 4, 65, 65], [2, 4, 65, 65]])
        let rowSums = try maps[1].sum(axis: 3).toArray()
        XCTAssertEqual(rowSums.count, 2 * 4 * 65)
        for sum in rowSums { XCTAssertEqual(sum, 1, accuracy: 1e-5) }
        XCTAssertThrowsError(try model(try Tensor.zeros([2, 3, 28, 28], on: backend), context: ForwardContext(training: false))) {
            XCTAssertTrue("\($0)".contains("must be [batch, 3, 32, 32]"), "\($0)")
        }
    }

    func testInvalidConfigurationsAreRejectedBeforeAnyWork() {
        var configuration = ViTConfiguration()
        configuration.numAttentionHeads = 5
        XCTAssertThrowsError(try configuration.validate()) { XCTAssertTrue("\($0)".contains("not divisible by num_attention_heads")) }
        configuration = ViTConfiguration()
        configuration.imageSize = 30
        XCTAssertThrowsError(try configuration.validate()) { XCTAssertTrue("\($0)".contains("not divisible by patch_size")) }
        XCTAssertThrowsError(try decodeConfiguration(#"{"attention_type": "magic"}"#)) {
            XCTAssertTrue("\($0)".contains("unknown attention_type 'magic'"))
        }
        XCTAssertThrowsError(try decodeConfiguration(#"{"global_pool": "max"}"#)) {
            XCTAssertTrue("\($0)".contains("unknown global_pool 'max'; choose one of token, avg"), "\($0)")
        }
    }

    /// Each layer names its tensors once; the optimizer's list and the checkpoint derive from
    /// that. Whatever the mechanism, every trainable tensor the model holds (found by
    /// reflection through its layers) is among the named parameters, each name is unique,
    /// and the checkpoint holds exactly the named parameters plus a fixed position embedding;
    /// with either patch embedding (the convolutional stem's stages included).
    func testEveryTrainableTensorTheModelHoldsIsNamed() throws {
        for kind in AttentionKind.allCases {
            for (positionEmbedding, patchEmbedding) in [
                (PositionEmbeddingKind.learned, PatchEmbeddingKind.patch), (.sinusoidal2D, .patch), (.learned, .convolutionalStem),
            ] {
                var configuration = ViTConfiguration()
                configuration.numHiddenLayers = 1
                configuration.attention.kind = kind
                configuration.attention.nystromformer.convolutionTaps = 3
                configuration.positionEmbedding = positionEmbedding
                configuration.patchEmbedding = patchEmbedding
                let model = try VisionTransformer(configuration: configuration, on: backend)
                let named = Set(model.namedParameters.map { ObjectIdentifier($0.tensor) })
                let held = Set(Self.trainableTensors(in: model).map(ObjectIdentifier.init))
                XCTAssertTrue(
                    held == named,
                    "\(kind): \(held.subtracting(named).count) trainable tensors without a name, "
                        + "\(named.subtracting(held).count) named tensors not held")
                let names = model.stateTensors.map(\.name)
                XCTAssertEqual(names.count, Set(names).count, "\(kind): a name is used twice")
                // Fixed: the position embedding when it is not learned, and Performer's directions (buffers).
                let fixed = model.stateTensors.filter { !$0.tensor.requiresGradient }.map(\.name)
                let buffers = fixed.filter { $0.hasSuffix(".projection_matrix") }
                XCTAssertEqual(fixed.filter { !buffers.contains($0) }, positionEmbedding == .learned ? [] : ["pos_embed"], "\(kind)")
                let drawsFeatures = kind == .performer || (kind == .hybrid && configuration.attention.hybrid.global == .performer)
                XCTAssertEqual(buffers, drawsFeatures ? ["blocks.0.attn.core.projection_matrix"] : [], "\(kind)")
            }
        }
    }

    /// Every tensor that requires a gradient reachable from `root` through stored properties
    /// (objects, structs, enums, collections, tuples); backends and tensors are not entered.
    private static func trainableTensors(in root: Any) -> [Tensor] {
        var visited = Set<ObjectIdentifier>()
        var found: [Tensor] = []
        func visit(_ value: Any) {
            if let tensor = value as? Tensor {
                if tensor.requiresGradient { found.append(tensor) }
                return
            }
            guard !(value is Backend) else { return }
            var mirror: Mirror? = Mirror(reflecting: value)
            if mirror?.displayStyle == .class, !visited.insert(ObjectIdentifier(value as AnyObject)).inserted { return }
            while let current = mirror {
                for child in current.children { visit(child.value) }
                mirror = current.superclassMirror
            }
        }
        visit(root)
        return found
    }
}
