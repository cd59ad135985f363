import Foundation
import ViTBackends
import ViTCore
import ViTData
import ViTNN
import ViTSerialization
import ViTTraining
import XCTest

/// A short run on a slice of Fashion-MNIST: every output file, resuming, and the errors a
/// user meets first.
final class TrainerTests: TrainingOutputTestCase {
    private let cpu = try! DeviceRegistry.shared.backend(for: .cpu)

    private func smallOptions(epochs: Int = 1) -> TrainingOptions {
        var options = TrainingOptions()
        options.experimentName = "small"
        options.outputDirectory = output.path
        options.epochs = epochs
        options.batchSize = 32
        options.trainingLimit = 128
        options.testLimit = 64
        options.saveModelEvery = 1
        options.model.numChannels = 1
        options.model.numHiddenLayers = 1
        return options
    }

    func testOutputsOfARun() throws {
        let trainer = try Trainer(options: smallOptions(epochs: 2), backend: cpu, log: { _ in })
        let history = try trainer.run()
        XCTAssertEqual(history.map(\.epoch), [1, 2])
        let folder = trainer.experimentFolder
        let lines = try String(contentsOf: folder.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        for key in ["epoch", "train_loss", "train_top1", "test_loss", "test_top1", "test_top5", "lr", "epoch_seconds", "images_per_second"] {
            XCTAssertNotNil(first?[key], "metrics.jsonl lacks \(key)")
        }
        let configuration = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("config.json"))) as? [String: Any]
        XCTAssertEqual(configuration?["batch_size"] as? Int, 32)
        XCTAssertEqual((configuration?["model"] as? [String: Any])?["hidden_size"] as? Int, 48)
        for name in [
            "checkpoint_epoch_1.safetensors", "checkpoint_epoch_2.safetensors", "model_final.safetensors", "model_final.optimizer.safetensors",
        ] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path), "\(name) missing")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(".") || $0.contains("tmp") }
        XCTAssertEqual(leftovers, [], "temporary files left behind")
        // timm's names and shapes, and the configuration in the metadata.
        let checkpoint = try SafeTensorsFile.read(from: folder.appendingPathComponent("model_final.safetensors"))
        XCTAssertEqual(checkpoint["patch_embed.proj.weight"]?.shape, [48, 1, 4, 4])
        XCTAssertEqual(checkpoint["blocks.0.attn.qkv.weight"]?.shape, [144, 48])
        XCTAssertEqual(checkpoint["pos_embed"]?.shape, [1, 65, 48])
        XCTAssertEqual(checkpoint["cls_token"]?.shape, [1, 1, 48])
        XCTAssertEqual(try Checkpoint.configuration(in: checkpoint)?.numHiddenLayers, 1)
        // The preprocessing travels with the model: evaluation normalises as training did.
        XCTAssertEqual(try Checkpoint.normalization(in: checkpoint), trainer.trainLoader.normalization)
        let summary = try String(contentsOf: output.appendingPathComponent("summary.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(summary.count, 2)
        XCTAssertTrue(summary[0].hasPrefix("experiment,attention,device,params,macs_per_image,peak_memory_bytes,latency_ms_per_image"))
        XCTAssertTrue(summary[1].hasPrefix("small,standard,cpu,\(trainer.model.parameterCount),"))
    }

    func testResumeContinuesAndRejectsAnotherShape() throws {
        let first = try Trainer(options: smallOptions(epochs: 1), backend: cpu, log: { _ in })
        try first.run()
        let checkpoint = first.experimentFolder.appendingPathComponent("checkpoint_epoch_1.safetensors")
        let resumed = try Trainer(options: smallOptions(epochs: 2), backend: cpu, resume: checkpoint, log: { _ in })
        XCTAssertEqual(resumed.firstEpoch, 2)
        XCTAssertEqual(resumed.optimizer.stepCount, first.optimizer.stepCount)
        XCTAssertEqual(try resumed.model.head.weight.toArray(), try first.model.head.weight.toArray())
        for ((name, expected), (_, actual)) in zip(first.optimizer.stateTensors, resumed.optimizer.stateTensors) {
            XCTAssertEqual(try actual.toArray(), try expected.toArray(), name)
        }
        XCTAssertTrue(first.optimizer.stateTensors.contains { $0.name == "momentum_buffer.blocks.0.attn.qkv.weight" }, "Muon is the default")
        XCTAssertEqual(try resumed.run().map(\.epoch), [2])
        // AdamW's moments come back as well.
        var adam = smallOptions(epochs: 1)
        adam.optimizer = "adamw"
        adam.experimentName = "adamw"
        let adamRun = try Trainer(options: adam, backend: cpu, log: { _ in })
        try adamRun.run()
        let adamCheckpoint = adamRun.experimentFolder.appendingPathComponent("model_final.safetensors")
        adam.epochs = 2
        let adamResumed = try Trainer(options: adam, backend: cpu, resume: adamCheckpoint, log: { _ in })
        XCTAssertTrue(adamRun.optimizer.stateTensors.contains { $0.name == "exp_avg_sq.blocks.0.attn.qkv.weight" })
        for ((name, expected), (_, actual)) in zip(adamRun.optimizer.stateTensors, adamResumed.optimizer.stateTensors) {
            XCTAssertEqual(try actual.toArray(), try expected.toArray(), name)
        }

        var wider = smallOptions(epochs: 2)
        wider.model.intermediateSize = 96
        XCTAssertThrowsError(try Trainer(options: wider, backend: cpu, resume: checkpoint, log: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("intermediate_size 96 (the checkpoint has 192)"), "\(error)")
        }
    }

    /// Without --config, `vit train` builds the seed architecture for the data set with the
    /// documented recipe's initialisation and image fit; a config file keeps the seed's own.
    func testTrainingDefaultModel() throws {
        let model = ViTConfiguration.trainingDefault(for: .fashionMNIST)
        XCTAssertEqual(model.numChannels, 1)
        XCTAssertEqual(model.numClasses, 10)
        XCTAssertEqual(model.weightInit, .mimetic)
        XCTAssertEqual(model.imageFit, .resize)
        var seed = ViTConfiguration()
        (seed.numChannels, seed.weightInit, seed.imageFit) = (1, .timm, .pad)
        XCTAssertEqual(
            try VisionTransformer(configuration: model, on: cpu).parameterCount,
            try VisionTransformer(configuration: seed, on: cpu).parameterCount)
        XCTAssertEqual(ViTConfiguration.trainingDefault(for: .cifar100).numClasses, 100)
        XCTAssertEqual(ViTConfiguration.trainingDefault(for: .cifar10).numChannels, 3)
        XCTAssertEqual(ViTConfiguration().weightInit, .timm)
        XCTAssertEqual(ViTConfiguration().imageFit, .pad)
        XCTAssertEqual(TrainingOptions().optimizer, "muon")
    }

    func testBadInputIsReportedBeforeTraining() throws {
        var options = smallOptions()
        options.dataDirectory = output.appendingPathComponent("nowhere").path
        XCTAssertThrowsError(try Trainer(options: options, backend: cpu, log: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("dataset-fashion-mnist"), "\(error)")
        }
        options = smallOptions()
        options.model.hiddenSize = 50
        XCTAssertThrowsError(try Trainer(options: options, backend: cpu, log: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("not divisible by num_attention_heads"), "\(error)")
        }
        options = smallOptions()
        options.model.numChannels = 3
        XCTAssertThrowsError(try Trainer(options: options, backend: cpu, log: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("3 channels"), "\(error)")
        }
        options = smallOptions()
        options.batchSize = 0
        XCTAssertThrowsError(try Trainer(options: options, backend: cpu, log: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("--batch-size"), "\(error)")
        }
        options = smallOptions()
        options.adamBeta2 = 1
        XCTAssertThrowsError(try Trainer(options: options, backend: cpu, log: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("--adam-beta2 must be in [0, 1), got 1"), "\(error)")
        }
        options = smallOptions()
        options.optimizer = "lamb"
        XCTAssertThrowsError(try Trainer(options: options, backend: cpu, log: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("unknown --optimizer 'lamb'; choose one of adamw, sgd, muon"), "\(error)")
        }
        XCTAssertThrowsError(try options.makeOptimizer(for: [])) { error in
            XCTAssertTrue("\(error)".contains("unknown --optimizer 'lamb'"), "\(error)")
        }
        let ranges: [(String, (inout TrainingOptions) -> Void)] = [
            ("--warmup-epochs must not be negative, got -1.0", { $0.warmupEpochs = -1 }),
            ("--clip-gradient-norm must not be negative (0: no clipping), got -0.5", { $0.gradientClipNorm = -0.5 }),
            ("--train-limit must be a positive number of images, got 0", { $0.trainingLimit = 0 }),
            ("--test-limit must be a positive number of images, got -3", { $0.testLimit = -3 }),
        ]
        for (message, change) in ranges {
            var options = smallOptions()
            change(&options)
            XCTAssertThrowsError(try options.validate(), message) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
    }

    func testCorruptCheckpointNamesTheFile() throws {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let broken = output.appendingPathComponent("broken.safetensors")
        try Data([1, 2, 3]).write(to: broken)
        XCTAssertThrowsError(try Checkpoint.read(broken)) { XCTAssertTrue("\($0)".contains("broken.safetensors"), "\($0)") }
    }
}
