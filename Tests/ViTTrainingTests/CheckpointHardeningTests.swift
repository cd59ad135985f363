import Foundation
import ViTBackends
import ViTCore
import ViTData
import ViTNN
import ViTSerialization
import ViTTraining
import XCTest

/// Checkpoints a user can break: non-finite weights, an optimizer that cannot continue
/// another's state, and the order in which a save puts its two files in place.
final class CheckpointHardeningTests: XCTestCase {
    private var folder: URL!
    private let cpu = try! DeviceRegistry.shared.backend(for: .cpu)

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vit-checkpoints-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    private func save(optimizer name: String = "muon") throws -> (url: URL, options: TrainingOptions, model: VisionTransformer) {
        var options = TrainingOptions()
        options.optimizer = name
        options.model.numHiddenLayers = 1
        let model = try VisionTransformer(configuration: options.model, on: cpu)
        let optimizer = try options.makeOptimizer(for: model.optimizedParameters)
        let url = folder.appendingPathComponent("checkpoint_epoch_1.safetensors")
        try Checkpoint.save(model: model, optimizer: optimizer, epoch: 1, run: "run", options: options, to: url)
        return (url, options, model)
    }

    func testNonFiniteWeightsAreRefusedByName() throws {
        let (url, _, model) = try save()
        var file = try SafeTensorsFile.read(from: url)
        file.tensors["blocks.0.mlp.fc1.weight"]?.values[7] = .nan
        XCTAssertThrowsError(try Checkpoint.load(file, into: model.stateTensors, source: "broken.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("broken.safetensors: tensor 'blocks.0.mlp.fc1.weight' holds nan at element 7"), "\(error)")
        }
        file.tensors["blocks.0.mlp.fc1.weight"]?.values[7] = 0
        file.tensors["head.bias"]?.values[0] = -.infinity
        XCTAssertThrowsError(try Checkpoint.load(file, into: model.stateTensors, source: "broken.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("tensor 'head.bias' holds -inf"), "\(error)")
        }
    }

    func testResumingWithAnotherOptimizerNamesTheStoredOne() throws {
        let (url, options, _) = try save(optimizer: "muon")
        var requested = options
        requested.epochs = 2
        requested.optimizer = "adamw"
        XCTAssertThrowsError(try ResumePoint(url: url).check(requested)) { error in
            XCTAssertTrue("\(error)".contains("was trained with --optimizer muon"), "\(error)")
            XCTAssertTrue("\(error)".contains("resume with --optimizer muon"), "\(error)")
        }
        requested.optimizer = "muon"
        XCTAssertNoThrow(try ResumePoint(url: url).check(requested))
    }

    /// The optimizer file is in place before the model file: its modification time is not
    /// later (a kill between the two renames leaves an optimizer file without its model,
    /// which no resume picks, never a model without its optimizer state).
    func testTheOptimizerFileIsWrittenBeforeTheModelFile() throws {
        let (url, _, _) = try save()
        let optimizerURL = Checkpoint.optimizerURL(for: url)
        func modified(_ url: URL) throws -> Date {
            try XCTUnwrap(FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date)
        }
        XCTAssertLessThanOrEqual(try modified(optimizerURL), try modified(url))
    }

    /// A checkpoint whose tensor was relabelled I32 (the same bytes, read as other numbers)
    /// is refused on resume, naming the tensor and its type.
    func testResumingAFileWithAnotherElementTypeIsRefused() throws {
        let (url, options, _) = try save()
        var bytes = [UInt8](try Data(contentsOf: url))
        let from = Array(#""head.bias":{"dtype":"F32""#.utf8)
        let to = Array(#""head.bias":{"dtype":"I32""#.utf8)
        let start = try XCTUnwrap((0...(bytes.count - from.count)).first { Array(bytes[$0..<($0 + from.count)]) == from })
        bytes.replaceSubrange(start..<(start + from.count), with: to)
        try Data(bytes).write(to: url)
        var requested = options
        requested.epochs = 2
        XCTAssertThrowsError(try ResumePoint(url: url).check(requested)) { error in
            XCTAssertTrue("\(error)".contains("tensor 'head.bias' is stored as I32, but vit train writes F32"), "\(error)")
        }
    }

    /// A split of 0 images (a well-formed IDX file can have them) is refused before a run
    /// prints figures of nothing; before, training ran and the summary trapped.
    func testEmptySplitsAreRefused() throws {
        let empty = try Dataset(name: "fashion-mnist/test", images: [], labels: [], channels: 1, height: 28, width: 28, classCount: 10)
        let samples = try InMemorySamples(
            dataset: empty, normalizer: Normalizer(statistics: ChannelStatistics(mean: [0.5], standardDeviation: [0.5])))
        XCTAssertThrowsError(try TrainingData.requireImages(samples, for: "evaluate on")) { error in
            XCTAssertEqual("\(error)", "fashion-mnist/test has no images: there is nothing to evaluate on")
        }
    }
}
