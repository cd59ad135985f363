import Foundation
import ViTBackends
import ViTCore
import ViTData
import ViTNN
import ViTSerialization
import ViTTraining
import XCTest

/// Training on an image folder of JPEG and PNG files written at run time: the same batches
/// on the CPU backend and on OpenCL (PoCL in CI), the same losses to float32 rounding, the
/// class names in the checkpoint, and a resumed run equal to an uninterrupted one.
final class ImageFolderTrainingTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vit-images-\(UUID().uuidString)")
        try SyntheticImageFolder.write(to: folder.appendingPathComponent("data").path, classes: 3, trainPerClass: 8, validationPerClass: 3)
    }

    override func tearDownWithError() throws {
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    private func options(epochs: Int = 1, name: String = "images") -> TrainingOptions {
        var options = TrainingOptions()
        options.dataset = DatasetKind.imageFolder.rawValue
        options.dataDirectory = folder.appendingPathComponent("data").path
        options.outputDirectory = folder.appendingPathComponent("outputs").path
        options.experimentName = name
        options.epochs = epochs
        options.batchSize = 8
        options.workers = 2
        options.horizontalFlip = true
        options.saveModelEvery = 1
        options.model = ViTConfiguration.trainingDefault(for: .imageFolder, classCount: 3)
        options.model.numHiddenLayers = 2
        return options
    }

    func testTrainsOnBothBackendsWithIdenticalBatches() throws {
        let cpu = try Trainer(options: options(name: "cpu"), backend: DeviceRegistry.shared.backend(for: .cpu), log: { _ in })
        XCTAssertEqual(cpu.trainLoader.source.name, "imagefolder/train")
        XCTAssertEqual(cpu.testLoader.source.count, 9)
        let cpuHistory = try cpu.run()
        let checkpoint = try SafeTensorsFile.read(from: cpu.experimentFolder.appendingPathComponent("model_final.safetensors"))
        XCTAssertEqual(try Checkpoint.classNames(in: checkpoint), ["class_0", "class_1", "class_2"])
        XCTAssertEqual(try Checkpoint.normalization(in: checkpoint)?.mean, ImagePreprocessing.imageNetMean.map { Float($0) })
        guard !DeviceRegistry.shared.openCLDevices.isEmpty else { throw XCTSkip("no OpenCL platform found: the device half is skipped") }
        let device = try DeviceRegistry.shared.backend(for: DeviceRegistry.shared.device(for: "opencl"))
        let openCL = try Trainer(options: options(name: "opencl"), backend: device, log: { _ in })
        // On a device the batches are assembled in pinned memory that the step copies from.
        XCTAssertNil(cpu.trainLoader.memoryPool)
        XCTAssertNotNil(try openCL.trainLoader.epoch(0).nextBatch()?.pinnedImages)
        for epoch in 0..<2 {
            let expected = try cpu.trainLoader.epoch(epoch).collect()
            let actual = try openCL.trainLoader.epoch(epoch).collect()
            XCTAssertEqual(actual.map(\.sampleIndices), expected.map(\.sampleIndices), "epoch \(epoch)")
            XCTAssertEqual(actual.map(\.images), expected.map(\.images), "epoch \(epoch): the same crops and flips")
        }
        let openCLHistory = try openCL.run()
        // Three steps from the same start: the kernels agree to about 1e-6 relative per step.
        XCTAssertEqual(openCLHistory[0].trainLoss, cpuHistory[0].trainLoss, accuracy: 1e-5)
        XCTAssertEqual(openCLHistory[0].testLoss, cpuHistory[0].testLoss, accuracy: 1e-5)
    }

    /// The checkpoint says how its inputs were prepared (timm's pretrained_cfg), and
    /// classifying the validation files with it gives the probabilities of the evaluation
    /// loader's logits: the same pixels, the same model.
    func testPredictionsAgreeWithTheEvaluationPipeline() throws {
        let cpu = try DeviceRegistry.shared.backend(for: .cpu)
        let trainer = try Trainer(options: options(name: "predict"), backend: cpu, log: { _ in })
        _ = try trainer.run()
        let checkpoint = try SafeTensorsFile.read(from: trainer.experimentFolder.appendingPathComponent("model_final.safetensors"))
        let preparation = try XCTUnwrap(try InputPreparation.stored(in: checkpoint))
        XCTAssertEqual(preparation.inputSize, [3, 32, 32])
        XCTAssertEqual(preparation.interpolation, "bicubic")
        XCTAssertEqual(preparation.cropFraction, 0.875)
        XCTAssertEqual(preparation.classNames, ["class_0", "class_1", "class_2"])
        XCTAssertEqual(preparation.mean, ImagePreprocessing.imageNetMean.map { Double(Float($0)) })
        let source = try XCTUnwrap(trainer.testLoader.source as? ImageFileSamples)
        let predictions = try ImageClassifier.classify(
            files: source.split.files, model: trainer.model, preprocessing: preparation.imagePreprocessing, classNames: preparation.classNames,
            top: 3, batchSize: 4)
        let batch = try trainer.testLoader.makeBatch(0, epoch: 0, order: trainer.testLoader.order(epoch: 0))
        let logits = try GradientMode.withoutGradient {
            try trainer.model(Tensor(batch.images, shape: Shape(batch.imageShape), on: cpu), context: ForwardContext(training: false)).toArray()
        }
        XCTAssertEqual(predictions.map(\.file), source.split.files)
        XCTAssertEqual(batch.sampleIndices, Array(0..<batch.count), "evaluation reads the files in order")
        for (row, prediction) in predictions.prefix(batch.count).enumerated() {
            let probabilities = ImageClassifier.softmax(Array(logits[(row * 3)..<((row + 1) * 3)]))
            XCTAssertEqual(prediction.classes.count, 3)
            XCTAssertEqual(prediction.classes.map(\.index), probabilities.indices.sorted { probabilities[$0] > probabilities[$1] })
            for entry in prediction.classes {
                XCTAssertEqual(entry.probability, probabilities[entry.index], accuracy: 1e-12)
                XCTAssertEqual(entry.name, "class_\(entry.index)")
            }
        }
    }

    func testResumingGivesTheUninterruptedRun() throws {
        let cpu = try DeviceRegistry.shared.backend(for: .cpu)
        let straight = try Trainer(options: options(epochs: 2, name: "straight"), backend: cpu, log: { _ in })
        let expected = try straight.run()
        let first = try Trainer(options: options(epochs: 1, name: "resumed"), backend: cpu, log: { _ in })
        _ = try first.run()
        let resumed = try Trainer(
            options: options(epochs: 2, name: "resumed"), backend: cpu,
            resume: first.experimentFolder.appendingPathComponent("checkpoint_epoch_1.safetensors"), log: { _ in })
        let actual = try resumed.run()
        XCTAssertEqual(actual.last?.trainLoss, expected.last?.trainLoss)
        XCTAssertEqual(actual.last?.testLoss, expected.last?.testLoss)
        let reference = try SafeTensorsFile.read(from: straight.experimentFolder.appendingPathComponent("model_final.safetensors"))
        let continued = try SafeTensorsFile.read(from: resumed.experimentFolder.appendingPathComponent("model_final.safetensors"))
        XCTAssertEqual(continued.tensors, reference.tensors, "the same weights, bit for bit")
    }

    func testImageFolderOptionsAreChecked() throws {
        var missingFolder = options()
        missingFolder.dataDirectory = nil
        XCTAssertThrowsError(try missingFolder.validate()) { XCTAssertTrue("\($0)".contains("needs --data-dir"), "\($0)") }
        var padded = options()
        padded.cropPadding = 4
        XCTAssertThrowsError(try padded.validate()) { XCTAssertTrue("\($0)".contains("--crop-padding must be 0"), "\($0)") }
        var badMean = options()
        badMean.imagePreprocessing = ImagePreprocessing()
        badMean.imagePreprocessing?.mean = [0.5]
        XCTAssertThrowsError(try badMean.validate()) { XCTAssertTrue("\($0)".contains("--mean must have 3"), "\($0)") }
        var otherData = TrainingOptions()
        otherData.imagePreprocessing = ImagePreprocessing()
        XCTAssertThrowsError(try otherData.validate()) { XCTAssertTrue("\($0)".contains("imagefolder only"), "\($0)") }
        var workers = options()
        workers.workers = 0
        XCTAssertThrowsError(try workers.validate()) { XCTAssertTrue("\($0)".contains("--workers must be in 1...256, got 0"), "\($0)") }
        var classes = options()
        classes.model.numClasses = 5
        XCTAssertThrowsError(try Trainer(options: classes, backend: DeviceRegistry.shared.backend(for: .cpu), log: { _ in })) {
            XCTAssertTrue("\($0)".contains("expects 5 classes, but imagefolder/train has 3"), "\($0)")
        }
    }
}
