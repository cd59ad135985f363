import Foundation
import ViTBackends
import ViTCore
import ViTData
import ViTNN
import ViTSerialization
import ViTTraining
import XCTest

/// What an interrupted, resumed, diverging or stopped run does to its files and figures
/// (issue 18): resume refuses what it cannot continue, never duplicates epochs and joins an
/// uninterrupted run exactly; a NaN loss or a signal stops training without a checkpoint.
final class ResumeAndStopTests: TrainingOutputTestCase {
    private let cpu = try! DeviceRegistry.shared.backend(for: .cpu)

    private func options(epochs: Int, name: String = "run") -> TrainingOptions {
        var options = TrainingOptions()
        options.experimentName = name
        options.outputDirectory = output.path
        options.epochs = epochs
        options.batchSize = 32
        options.trainingLimit = 96
        options.testLimit = 32
        options.saveModelEvery = 1
        options.model.numChannels = 1
        options.model.numHiddenLayers = 1
        return options
    }

    private func train(_ options: TrainingOptions, resume: URL? = nil) throws -> Trainer {
        let trainer =
            try resume.map { try Trainer(options: options, backend: cpu, resume: $0, log: { _ in }) }
            ?? Trainer(options: options, backend: cpu, log: { _ in })
        try trainer.run()
        return trainer
    }

    private func epochs(in folder: URL) throws -> [Int] {
        try String(contentsOf: folder.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode(EpochMetrics.self, from: Data($0.utf8)).epoch
        }
    }

    private func checkpoint(_ epoch: Int, of trainer: Trainer) -> URL {
        trainer.experimentFolder.appendingPathComponent("checkpoint_epoch_\(epoch).safetensors")
    }

    func testResumeAtOrPastTheLastEpochIsRefusedBeforeAnyWrite() throws {
        let first = try train(options(epochs: 2))
        let configuration = first.experimentFolder.appendingPathComponent("config.json")
        let before = try Data(contentsOf: configuration)
        for epochs in [1, 2] {
            XCTAssertThrowsError(try train(options(epochs: epochs), resume: checkpoint(2, of: first))) { error in
                XCTAssertTrue("\(error)".contains("is at epoch 2, so --epochs \(epochs) leaves nothing to train"), "\(error)")
            }
        }
        XCTAssertEqual(try Data(contentsOf: configuration), before, "config.json was rewritten by a refused resume")
    }

    func testResumeInPlaceKeepsOneLinePerEpoch() throws {
        let first = try train(options(epochs: 2))
        XCTAssertEqual(try epochs(in: first.experimentFolder), [1, 2])
        let again = try train(options(epochs: 3), resume: checkpoint(1, of: first))
        XCTAssertEqual(try epochs(in: again.experimentFolder), [1, 2, 3])
    }

    func testResumeIntoAnotherFolderCarriesTheHistory() throws {
        let first = try train(options(epochs: 1))
        let other = try train(options(epochs: 2, name: "continued"), resume: checkpoint(1, of: first))
        XCTAssertEqual(try epochs(in: other.experimentFolder), [1, 2])
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint(2, of: other).path))
    }

    func testModelAndOptimizerFilesOfTwoSavesAreRefused() throws {
        let first = try train(options(epochs: 2))
        let pairFolder = output.appendingPathComponent("mixed")
        try FileManager.default.createDirectory(at: pairFolder, withIntermediateDirectories: true)
        let mixed = pairFolder.appendingPathComponent("model.safetensors")
        // A kill between the two renames of a save: the new model beside the old optimizer state.
        try FileManager.default.copyItem(at: checkpoint(2, of: first), to: mixed)
        try FileManager.default.copyItem(at: Checkpoint.optimizerURL(for: checkpoint(1, of: first)), to: Checkpoint.optimizerURL(for: mixed))
        XCTAssertThrowsError(try ResumePoint(url: mixed)) { error in
            XCTAssertTrue("\(error)".contains("are not one checkpoint"), "\(error)")
            XCTAssertTrue("\(error)".contains("step 6") && "\(error)".contains("step 3"), "\(error)")
        }
        // Two runs at the same step differ in their run identifier.
        let second = try train(options(epochs: 1, name: "second"))
        try FileManager.default.removeItem(at: Checkpoint.optimizerURL(for: mixed))
        try FileManager.default.removeItem(at: mixed)
        try FileManager.default.copyItem(at: checkpoint(1, of: first), to: mixed)
        try FileManager.default.copyItem(at: Checkpoint.optimizerURL(for: checkpoint(1, of: second)), to: Checkpoint.optimizerURL(for: mixed))
        XCTAssertThrowsError(try ResumePoint(url: mixed)) { error in
            XCTAssertTrue("\(error)".contains("run \(first.runIdentifier)") && "\(error)".contains("run \(second.runIdentifier)"), "\(error)")
        }
    }

    func testResumeRefusesAnotherModelAndLogsRecipeChanges() throws {
        let first = try train(options(epochs: 1))
        var linear = options(epochs: 2)
        linear.model.attention.kind = .linear
        XCTAssertThrowsError(try Trainer(options: linear, backend: cpu, resume: checkpoint(1, of: first), log: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("attention_type \"linear\" (the checkpoint has \"standard\")"), "\(error)")
        }
        var changed = options(epochs: 2)
        changed.learningRate = 1e-3
        var lines: [String] = []
        _ = try Trainer(options: changed, backend: cpu, resume: checkpoint(1, of: first), log: { lines.append($0) })
        let recipe = lines.first { $0.hasPrefix("resuming with a changed recipe") } ?? ""
        XCTAssertTrue(recipe.contains("epochs 1 -> 2") && recipe.contains("lr 0.004 -> 0.001"), recipe)
    }

    /// Performer redrawing its features every 2 steps, a warm-up of half an epoch and dropout:
    /// resuming the epoch-1 checkpoint of a two-epoch run ends with that run's bits.
    func testResumeJoinsAnUninterruptedRunExactly() throws {
        var recipe = options(epochs: 2)
        recipe.warmupEpochs = 0.5
        recipe.model.attention.kind = .performer
        recipe.model.attention.performer.redrawInterval = 2
        recipe.model.hiddenDropoutProb = 0.1
        let whole = try train(recipe)
        recipe.experimentName = "resumed"
        let resumed = try train(recipe, resume: checkpoint(1, of: whole))
        for ((name, expected), (_, actual)) in zip(whole.model.stateTensors, resumed.model.stateTensors) {
            let (wanted, got) = (try expected.toArray(), try actual.toArray())
            XCTAssertTrue(wanted == got, "\(name): \(zip(wanted, got).filter { $0 != $1 }.count) of \(wanted.count) values differ")
        }
        XCTAssertTrue(whole.model.stateTensors.contains { $0.name.hasSuffix("attn.core.projection_matrix") }, "the directions are saved")
    }

    /// Evaluating a Performer checkpoint (and a hybrid one with Performer heads) in a fresh
    /// model of another seed gives the figures the trained model had: its random directions
    /// are in the checkpoint.
    func testPerformerCheckpointEvaluatesAsTrained() throws {
        for kind in [AttentionKind.performer, .hybrid] {
            var recipe = options(epochs: 1, name: kind.rawValue)
            recipe.model.attention.kind = kind
            recipe.model.attention.hybrid.global = .performer
            let trainer = try train(recipe)
            let trained = try trainer.model.evaluate(on: trainer.testLoader)
            let url = trainer.experimentFolder.appendingPathComponent("model_final.safetensors")
            let file = try Checkpoint.read(url)
            let fresh = try VisionTransformer(configuration: try XCTUnwrap(Checkpoint.configuration(in: file)), on: cpu, seed: 7)
            try Checkpoint.load(file, into: fresh.stateTensors, source: url.lastPathComponent)
            let evaluated = try fresh.evaluate(on: trainer.testLoader)
            XCTAssertEqual(evaluated.top1, trained.top1, "\(kind)")
            XCTAssertEqual(evaluated.loss, trained.loss, "\(kind)")
            XCTAssertTrue(file.tensors.keys.contains { $0.hasSuffix("projection_matrix") }, "\(kind)")
        }
    }

    func testNaNWeightsScoreNoHits() throws {
        let trainer = try Trainer(options: options(epochs: 1), backend: cpu, log: { _ in })
        let head = trainer.model.head.weight
        try [Float](repeating: .nan, count: head.elementCount).withUnsafeBufferPointer { try cpu.write($0, to: head.storage) }
        let result = try trainer.model.evaluate(on: trainer.testLoader)
        XCTAssertEqual(result.top1, 0)
        XCTAssertEqual(result.top5, 0)
        XCTAssertTrue(result.loss.isNaN)
    }

    func testANaNLossStopsTrainingAtItsStep() throws {
        var recipe = options(epochs: 2)
        (recipe.learningRate, recipe.gradientClipNorm, recipe.optimizer, recipe.warmupEpochs) = (1e6, 0, "adamw", 0)
        recipe.trainingLimit = 512
        let trainer = try Trainer(options: recipe, backend: cpu, log: { _ in })
        XCTAssertThrowsError(try trainer.run()) { error in
            guard case TrainingError.diverged(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("NaN or infinite at epoch 1, step "), message)
            XCTAssertTrue(message.contains("no checkpoint was written"), message)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: trainer.experimentFolder.path)
        XCTAssertEqual(names.sorted(), ["config.json", "metrics.jsonl"])
        XCTAssertEqual(try epochs(in: trainer.experimentFolder), [])
    }

    func testAStopRequestEndsTheRunAfterItsStep() throws {
        let first = try train(options(epochs: 1))
        var trainer: Trainer?
        // The request comes while the run starts, as a signal would.
        trainer = try Trainer(
            options: options(epochs: 2), backend: cpu, resume: checkpoint(1, of: first),
            log: { line in if line.hasPrefix("data:") { trainer?.stopRequest.request(SIGINT) } })
        let run = try XCTUnwrap(trainer)
        XCTAssertThrowsError(try run.run()) { error in
            guard case TrainingError.interrupted(let signal, let epoch, let step, _, let last) = error else { return XCTFail("\(error)") }
            XCTAssertEqual([signal, Int32(epoch), Int32(step)], [SIGINT, 2, 1])
            XCTAssertEqual(last, self.checkpoint(1, of: first))
            XCTAssertTrue("\(error)".contains("SIGINT: stopped at epoch 2, step 1/3; the last complete checkpoint is"), "\(error)")
        }
        XCTAssertEqual(try epochs(in: run.experimentFolder), [1])
        XCTAssertFalse(FileManager.default.fileExists(atPath: checkpoint(2, of: run).path))
    }

    func testSignalsBecomeStopRequestsWhileCaught() throws {
        let request = StopRequest()
        let caught = request.catchingSignals { () -> Int32? in
            kill(getpid(), SIGTERM)
            let deadline = Date().addingTimeInterval(5)
            while request.signal == nil && Date() < deadline { usleep(1000) }
            return request.signal
        }
        XCTAssertEqual(caught, SIGTERM)
    }

    func testStaleTemporaryFilesAreRemovedByTheNextRun() throws {
        let folder = output.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let stale = [".model_final.safetensors.\(UUID().uuidString).tmp", ".config.json.\(UUID().uuidString).tmp"]
        for name in stale { try Data([1, 2]).write(to: folder.appendingPathComponent(name)) }
        let kept = ".notes.tmp"
        try Data([3]).write(to: folder.appendingPathComponent(kept))
        _ = try train(options(epochs: 1))
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        XCTAssertTrue(names.contains(kept), "a file that is not one of ours is kept")
        XCTAssertFalse(names.contains { stale.contains($0) }, "\(names)")
    }
}
