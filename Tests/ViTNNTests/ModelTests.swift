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
        configuration = ViTConfiguration()
        configuration.attentionType = "magic"
        XCTAssertThrowsError(try VisionTransformer(configuration: configuration, on: backend)) { XCTAssertTrue("\($0)".contains("unknown attention_type 'magic'")) }
        configuration = ViTConfiguration()
        configuration.globalPool = "max"
        XCTAssertThrowsError(try VisionTransformer(configuration: configuration, on: backend)) {
            XCTAssertTrue("\($0)".contains("unknown global_pool 'max'; choose one of token, avg"), "\($0)")
        }
    }
}
