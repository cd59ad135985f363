import Foundation
import ViTBackends
import ViTData
import ViTSerialization
import ViTTraining
import XCTest

/// `mpirun -np 2 vit train --batch-size 64` against one process at batch 128 (issue 20): the
/// two ranks read disjoint halves of every global batch and average their gradients, so 20
/// steps end at the same loss and parameters up to float32 rounding, with the default recipe's
/// label smoothing and gradient clipping and without dropout (the model's default).
final class DataParallelTests: TrainingOutputTestCase {

    /// The `vit` executable that `swift test` built beside the test bundle.
    private var vitExecutable: URL {
        let testBundle = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        return testBundle.deletingLastPathComponent().appendingPathComponent("vit")
    }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    }

    private func mpirun() throws -> URL {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent("mpirun") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
        guard let path else { throw XCTSkip("mpirun not installed (Tools/setup.sh installs openmpi-bin): the data-parallel test is skipped") }
        return path
    }

    /// A small model, so that the four debug-build runs take seconds.
    private let configuration = """
        {"image_size": 32, "patch_size": 8, "num_channels": 1, "num_classes": 10, "hidden_size": 16,
         "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32}
        """
    private static let globalBatch = 128
    private static let steps = 20

    /// Runs `mpirun -np PROCESSES vit ARGUMENTS`; returns its status and its output.
    private func launch(processes: Int, _ arguments: [String]) throws -> (status: Int32, log: String) {
        try launch(["-np", "\(processes)", vitExecutable.path] + arguments)
    }

    /// Runs `mpirun MPIRUN-ARGUMENTS` (one rank or more per `:`-separated part).
    private func launch(_ mpirunArguments: [String]) throws -> (status: Int32, log: String) {
        let process = Process()
        process.executableURL = try mpirun()
        process.arguments = ["--oversubscribe", "--allow-run-as-root"] + mpirunArguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, log)
    }

    /// Trains `epochs` epochs of `steps` global batches in all with `processes` ranks into
    /// the experiment `name` (`arguments` added to vit train's); returns the last metrics
    /// line and the final model that rank 0 wrote.
    private func train(
        processes: Int, optimizer: String, device: String, epochs: Int = 1, name: String? = nil, _ arguments: [String] = []
    ) throws -> (metrics: EpochMetrics, model: SafeTensorsFile, log: String) {
        let configurationURL = output.appendingPathComponent("config-input.json")
        try Data(configuration.utf8).write(to: configurationURL)
        let name = name ?? "\(optimizer)-\(device)-\(processes)"
        let run = try launch(
            processes: processes,
            ["train", "--config", configurationURL.path, "--optimizer", optimizer, "--device", device, "--epochs", "\(epochs)"]
                + ["--batch-size", "\(Self.globalBatch / processes)", "--train-limit", "\(Self.globalBatch * Self.steps / epochs)"]
                + ["--test-limit", "100", "--output-dir", output.path, "--exp-name", name] + arguments)
        XCTAssertEqual(run.status, 0, run.log)
        let folder = output.appendingPathComponent(name)
        let lines = try String(contentsOf: folder.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, epochs, "one metrics line per epoch, from rank 0 only")
        if processes > 1 {
            XCTAssertTrue(run.log.contains("global batch \(Self.globalBatch)"), run.log)
            XCTAssertTrue(run.log.contains("allreduce: "), "no communication figures in the log:\n\(run.log)")
        }
        let metrics = try JSONDecoder().decode(EpochMetrics.self, from: Data(try XCTUnwrap(lines.last).utf8))
        return (metrics, try Checkpoint.read(folder.appendingPathComponent("model_final.safetensors")), run.log)
    }

    /// The bound on the difference: a float32 sum of n terms is within (n - 1) u of the exact
    /// sum's magnitudes (u = 2^-24, Higham's bound); the gradients' sums over the 128 rows of
    /// a batch are where one process and two differ, and the difference may add up over the
    /// 20 steps: n u times the steps, relative to each tensor's largest magnitude.
    private static let tolerance = Double(globalBatch) * Double(Float.ulpOfOne / 2) * Double(steps)

    private func assertTwoRanksMatchOne(optimizer: String, device: String) throws {
        let one = try train(processes: 1, optimizer: optimizer, device: device)
        let two = try train(processes: 2, optimizer: optimizer, device: device)
        XCTAssertEqual(two.metrics.trainLoss, one.metrics.trainLoss, accuracy: Self.tolerance * one.metrics.trainLoss, "train loss")
        XCTAssertEqual(two.metrics.trainTop1, one.metrics.trainTop1, "train top-1")
        try assertSameEvaluationAndParameters(one, two, "\(optimizer) on \(device)")
    }

    /// The test figures of two runs agree and their parameters match to `tolerance`.
    private func assertSameEvaluationAndParameters(
        _ one: (metrics: EpochMetrics, model: SafeTensorsFile, log: String), _ two: (metrics: EpochMetrics, model: SafeTensorsFile, log: String),
        _ label: String
    ) throws {
        XCTAssertEqual(two.metrics.testLoss, one.metrics.testLoss, accuracy: Self.tolerance * one.metrics.testLoss, "test loss")
        XCTAssertEqual(two.metrics.testTop1, one.metrics.testTop1, "test top-1 (the sharded evaluation covers every test image)")
        XCTAssertEqual(one.model.sortedNames, two.model.sortedNames)
        var worst = (relative: 0.0, name: "")
        for name in one.model.sortedNames {
            var (expected, actual) = (try XCTUnwrap(one.model.tensors[name]).values, try XCTUnwrap(two.model.tensors[name]).values)
            if name.hasSuffix("attn.qkv.bias") {
                // The key bias adds q . b_k to every score of a query's row, which softmax
                // ignores: its exact gradient is zero and AdamW turns the rounding noise in
                // its place into steps of the learning rate's size, so it is not compared.
                let width = expected.count / 3
                expected.removeSubrange(width..<(2 * width))
                actual.removeSubrange(width..<(2 * width))
            }
            let scale = Double(expected.map(abs).max() ?? 0)
            let difference = Double(zip(expected, actual).map { abs($0 - $1) }.max() ?? 0)
            let relative = difference / max(scale, Double(Float.leastNormalMagnitude))
            if relative > worst.relative { worst = (relative, name) }
            XCTAssertLessThanOrEqual(relative, Self.tolerance, "\(name): largest difference \(difference) of largest value \(scale)")
        }
        print("\(label): largest relative parameter difference \(worst.relative) (\(worst.name)), tolerance \(Self.tolerance)")
    }

    /// A one-process run's checkpoint, resumed by two ranks at half the batch (the same
    /// global batches), ends where the uninterrupted run ends.
    func testTwoRanksResumeAOneProcessRun() throws {
        let uninterrupted = try train(processes: 1, optimizer: "adamw", device: "cpu", epochs: 2, ["--save-model-every", "1"])
        let checkpoint = output.appendingPathComponent("adamw-cpu-1/checkpoint_epoch_1.safetensors")
        let resumed = try train(processes: 2, optimizer: "adamw", device: "cpu", epochs: 2, name: "resumed", ["--resume", checkpoint.path])
        XCTAssertTrue(resumed.log.contains("processes 1 -> 2 (global batch 128 -> 128, the same batches)"), resumed.log)
        XCTAssertFalse(resumed.log.contains("batch_size"), "the per-process batch is not a recipe change here:\n\(resumed.log)")
        XCTAssertEqual(resumed.metrics.trainLoss, uninterrupted.metrics.trainLoss, accuracy: Self.tolerance * uninterrupted.metrics.trainLoss)
        try assertSameEvaluationAndParameters(uninterrupted, resumed, "resumed by 2 ranks")
    }

    func testTwoRanksMatchOneProcessWithAdamW() throws {
        try assertTwoRanksMatchOne(optimizer: "adamw", device: "cpu")
    }

    func testTwoRanksMatchOneProcessWithMuon() throws {
        try assertTwoRanksMatchOne(optimizer: "muon", device: "cpu")
    }

    func testTwoRanksMatchOneProcessOnOpenCL() throws {
        guard !DeviceRegistry.shared.openCLDevices.isEmpty else {
            throw XCTSkip("no OpenCL device (Tools/setup.sh installs PoCL): the OpenCL data-parallel test is skipped")
        }
        for optimizer in ["adamw", "muon"] { try assertTwoRanksMatchOne(optimizer: optimizer, device: "opencl") }
    }

    /// SIGTERM to one rank stops every rank after the same step: they agree on it, so none is
    /// left waiting in a collective, and the job ends with the signal's status and rank 0's
    /// message.
    func testASignalToOneRankStopsEveryRank() throws {
        let folder = output.appendingPathComponent("stopped")
        let configurationURL = output.appendingPathComponent("config-input.json")
        try Data(configuration.utf8).write(to: configurationURL)
        let train =
            [vitExecutable.path, "train", "--config", configurationURL.path, "--device", "cpu", "--batch-size", "64"]
            + ["--train-limit", "60000", "--test-limit", "32", "--output-dir", output.path, "--exp-name", "stopped"]
        // Rank 1 signals itself once training has begun (rank 0 has created the metrics file).
        let script = """
            "$@" & pid=$!
            if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then
              while [ ! -f '\(folder.path)/metrics.jsonl' ]; do sleep 0.2; done
              sleep 1; kill -TERM $pid
            fi
            wait $pid
            """
        let run = try launch(["-np", "2", "/bin/sh", "-c", script, "sh"] + train)
        XCTAssertEqual(run.status, 128 + SIGTERM, run.log)
        XCTAssertTrue(run.log.contains("SIGTERM: stopped at epoch 1, step "), run.log)
        XCTAssertFalse(run.log.contains("MPI_ABORT"), "a stop is not an abort:\n\(run.log)")
    }

    /// A rank that fails ends every rank (MPI_Abort) with its message, instead of leaving the
    /// others waiting in a collective.
    func testAFailingRankEndsTheJobWithItsMessage() throws {
        let missing = output.appendingPathComponent("no-data-here").path
        let run = try launch(processes: 2, ["train", "--device", "cpu", "--data-dir", missing, "--output-dir", output.path])
        XCTAssertNotEqual(run.status, 0, run.log)
        XCTAssertTrue(run.log.contains("of 2: ") && run.log.contains(missing), run.log)
    }

    /// Ranks launched with different flags are refused by every rank, before training.
    func testRanksWithDifferentOptionsAreRefused() throws {
        let common = ["train", "--device", "cpu", "--train-limit", "256", "--test-limit", "32", "--batch-size", "64", "--output-dir", output.path]
        let run = try launch(["-np", "1", vitExecutable.path] + common + ["--lr", "0.001", ":", "-np", "1", vitExecutable.path] + common)
        XCTAssertNotEqual(run.status, 0, run.log)
        XCTAssertTrue(run.log.contains("the 2 processes were given different options"), run.log)
    }

    /// A rank whose device is missing ends the job with the device error, naming the rank.
    func testAMissingDeviceIsAClearError() throws {
        let run = try launch(processes: 2, ["train", "--device", "opencl:99", "--output-dir", output.path])
        XCTAssertNotEqual(run.status, 0, run.log)
        XCTAssertTrue(run.log.contains("of 2: ") && run.log.contains("opencl:99"), run.log)
    }

    /// A training set smaller than one global batch would leave a process without images.
    func testTooFewImagesForOneGlobalBatchAreRefused() throws {
        var options = TrainingOptions()
        options.batchSize = 64
        options.trainingLimit = 100
        options.testLimit = 10
        options.model.numChannels = 1
        let backend = try DeviceRegistry.shared.backend(for: .cpu)
        XCTAssertThrowsError(try Trainer(options: options, backend: backend, processes: RankOfTwo())) { error in
            XCTAssertTrue("\(error)".contains("need at least one global batch of 128 training images"), "\(error)")
        }
    }
}

/// Rank 1 of two processes, for checks that fail before any collective.
private final class RankOfTwo: ProcessGroup {
    var rank: Int { 1 }
    var size: Int { 2 }
    func sum(_ values: UnsafeMutableBufferPointer<Float>) throws { XCTFail("no collective expected") }
    func sum(_ values: UnsafeMutableBufferPointer<Double>) throws { XCTFail("no collective expected") }
    func minimum(_ values: UnsafeMutableBufferPointer<Double>) throws { XCTFail("no collective expected") }
    func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingCollective {
        XCTFail("no collective expected")
        return try SingleProcess().startSum(values)
    }
}
