import Foundation
import ViTCore
import ViTData
import ViTNN
import ViTSerialization

/// One epoch's figures, one line of metrics.jsonl.
public struct EpochMetrics: Codable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainTop1: Double
    public var testLoss: Double
    public var testTop1: Double
    public var testTop5: Double
    public var learningRate: Float
    public var epochSeconds: Double
    public var imagesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case epoch
        case trainLoss = "train_loss"
        case trainTop1 = "train_top1"
        case testLoss = "test_loss"
        case testTop1 = "test_top1"
        case testTop5 = "test_top5"
        case learningRate = "lr"
        case epochSeconds = "epoch_seconds"
        case imagesPerSecond = "images_per_second"
    }
}

/// Trains a Vision Transformer on one device: data, model, optimizer, schedule, per-epoch
/// evaluation, and the output files of OUTPUT/EXP/ and OUTPUT/summary.csv. In a data-parallel
/// run each process trains on its shard of every global batch and evaluates its shard of the
/// test set; the figures are reduced over the processes and rank 0 writes every file.
public final class Trainer {
    public let options: TrainingOptions
    public let backend: Backend
    public let model: VisionTransformer
    public let optimizer: Optimizer
    public let trainLoader: BatchLoader
    public let testLoader: BatchLoader
    /// The processes training together (one, unless launched by mpirun).
    public let processes: ProcessGroup
    /// The optimisation step the epochs run.
    private let trainingStep: TrainingStep
    /// The first epoch to run (1-based; more than 1 after `--resume`).
    public private(set) var firstEpoch = 1
    /// Set by SIGINT or SIGTERM during `run()` (or by a caller): training stops after the step.
    public let stopRequest = StopRequest()
    /// The run's identifier, kept by a resumed run, written into every checkpoint.
    public let runIdentifier: String
    /// The checkpoint to resume from, if any.
    private let resumePoint: ResumePoint?
    /// The newest complete checkpoint of this run (the resumed one, until a save).
    public private(set) var lastCheckpoint: URL?
    private let log: (String) -> Void
    /// What the data's loading found, logged when the run starts.
    private let dataNotes: [String]

    /// Loads the data and builds the model; `resume` continues from a checkpoint, whose model
    /// `options` must not contradict (see `ResumePoint.check`). With several `processes`,
    /// `options.batchSize` is each process's share of the global batch.
    public init(
        options: TrainingOptions, backend: Backend, resume: ResumePoint? = nil, processes: ProcessGroup = SingleProcess(),
        log: @escaping (String) -> Void = { print($0) }
    ) throws {
        try options.validate()
        if let resume {
            let changes = try resume.check(options, processes: processes.size)
            if !changes.isEmpty { log("resuming with a changed recipe: " + changes.joined(separator: ", ")) }
        }
        self.options = options
        resumePoint = resume
        runIdentifier = resume?.runIdentifier ?? UUID().uuidString
        self.backend = backend
        self.processes = processes
        self.log = processes.isWriter ? log : { _ in }
        let configuration = options.model
        let shard = try DataShard(index: processes.rank, count: processes.size)
        let workers =
            options.workers ?? TrainingData.defaultWorkers(deviceComputesOnCPU: backend.device == .cpu, processes: processes.size)
        // On a device the batches are assembled in pinned memory it copies from directly; the
        // CPU backend's "pinned" memory is ordinary memory, so arrays serve it as well.
        let data = try TrainingData(
            options: options, shard: shard, processes: processes.size, workers: workers,
            pinnedMemory: backend.device == .cpu ? nil : { try backend.allocatePinnedHost(count: $0) })
        trainLoader = data.train
        testLoader = data.test
        dataNotes = data.notes
        // A batch is never larger than the training set (one short batch then).
        try MemoryEstimate.requireFits(
            configuration, batchSize: min(options.batchSize, data.train.source.count), on: backend, flag: "--batch-size")
        if processes.size > 1 { try Self.requireSameOptions(options, across: processes) }
        model = try VisionTransformer(configuration: configuration, on: backend, seed: options.seed)
        optimizer = try options.makeOptimizer(for: model.optimizedParameters)
        trainingStep = try TrainingStep(model: model, optimizer: optimizer, options: options, processes: processes)
        if let resume { try restore(from: resume) }
    }

    /// Refuses to train when the processes were given different options (a rank launched
    /// with other flags would silently train another recipe): each hashes its options as
    /// config.json encodes them, and the smallest and largest hash over the ranks must agree.
    static func requireSameOptions(_ options: TrainingOptions, across processes: ProcessGroup) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // FNV-1a, 64 bits, sent as two 32-bit halves (exact in a Double).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in try encoder.encode(options) { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let halves = [Double(hash >> 32), Double(hash & 0xffff_ffff)]
        let smallest = try processes.minimized(halves)
        let largest = try processes.minimized(halves.map { -$0 }).map { -$0 }
        guard smallest == largest else {
            throw TrainingError.mismatch(
                "the \(processes.size) processes were given different options (flags or configuration); launch every rank with the same ones")
        }
    }

    /// Reads `url` as a checkpoint to resume from, then builds the trainer.
    public convenience init(
        options: TrainingOptions, backend: Backend, resume url: URL, processes: ProcessGroup = SingleProcess(),
        log: @escaping (String) -> Void = { print($0) }
    ) throws {
        try self.init(options: options, backend: backend, resume: ResumePoint(url: url), processes: processes, log: log)
    }

    /// The output folder of this experiment.
    public var experimentFolder: URL {
        URL(fileURLWithPath: options.outputDirectory).appendingPathComponent(options.experimentName)
    }

    private func restore(from point: ResumePoint) throws {
        try Checkpoint.load(point.model, into: model.stateTensors, source: point.url.lastPathComponent)
        try Checkpoint.load(point.optimizerState, into: optimizer.stateTensors, source: Checkpoint.optimizerURL(for: point.url).lastPathComponent)
        optimizer.restore(stepCount: point.step)
        firstEpoch = point.epoch + 1
        lastCheckpoint = point.url
        log("resumed from \(point.url.path) at epoch \(firstEpoch), step \(optimizer.stepCount)")
    }

    /// Runs the remaining epochs and writes every output; returns each epoch's metrics.
    /// SIGINT or SIGTERM stops it after the current step with `TrainingError.interrupted`; a
    /// NaN or infinite loss stops it with `TrainingError.diverged`. Neither writes a checkpoint.
    @discardableResult
    public func run() throws -> [EpochMetrics] {
        try stopRequest.catchingSignals { try runEpochs() }
    }

    private func runEpochs() throws -> [EpochMetrics] {
        let folder = experimentFolder
        let writes = processes.isWriter
        let metricsURL = folder.appendingPathComponent("metrics.jsonl")
        if writes {
            try FileSystem.createFolder(folder)
            let stale = AtomicFile.removeStaleTemporaryFiles(in: folder)
            if !stale.isEmpty { log("removed \(stale.count) temporary file(s) an interrupted run left in \(folder.path)") }
            try writeConfiguration(to: folder.appendingPathComponent("config.json"))
            try AtomicFile.write(try earlierMetrics(in: metricsURL), to: metricsURL)
        }
        let stepsPerEpoch = trainLoader.batchesPerEpoch
        let schedule = LearningRateSchedule(
            peakRate: options.learningRate, minimumRate: options.minimumLearningRate,
            warmupSteps: Int(options.warmupEpochs * Float(stepsPerEpoch)), totalSteps: options.epochs * stepsPerEpoch)
        log(
            "model: \(model.parameterCount) parameters, \(model.multiplyAccumulates) MACs per image, attention \(options.model.attention.kind.rawValue), device \(backend.device) (\(backend.info.name))"
        )
        log(
            "data: \(trainLoader.source.name), \(trainLoader.samplesPerEpoch) training and \(testLoader.source.count) test images, \(stepsPerEpoch) steps per epoch"
        )
        dataNotes.forEach(log)
        if processes.size > 1 {
            log(
                "data parallel: \(processes.size) processes, batch \(options.batchSize) each, global batch \(trainLoader.globalBatchSize)"
            )
        }
        backend.memory.resetPeak()
        let progress = ProgressLine(shown: writes)
        var history: [EpochMetrics] = []
        let trainingStart = DispatchTime.now().uptimeNanoseconds
        for epoch in firstEpoch...options.epochs {
            let epochStart = DispatchTime.now().uptimeNanoseconds
            let statistics = trainingStep.statistics
            try statistics.reset()
            var learningRate: Float = 0
            var lastCheck = 0.0
            let batches = trainLoader.epoch(epoch - 1)
            while let batch = try batches.nextBatch() {
                learningRate = schedule.rate(at: optimizer.stepCount)
                try trainingStep(batch, learningRate: learningRate)
                if let signal = try stopSignal() {
                    progress.finish()
                    throw TrainingError.interrupted(
                        signal: signal, epoch: epoch, step: batch.index + 1, of: stepsPerEpoch, lastCheckpoint: lastCheckpoint)
                }
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - epochStart) * 1e-9
                // The figures are read from the device (one wait) only when the line is printed
                // or a divergence check is due.
                let printing = progress.isDue(elapsed: elapsed)
                guard printing || elapsed - lastCheck >= Self.divergenceCheckInterval else { continue }
                lastCheck = elapsed
                // Within the epoch each process checks and shows its own figures: the processes
                // reach these reads at different steps, so they cannot reduce them.
                let figures = try checkedFigures(statistics, epoch: epoch, stepsPerEpoch: stepsPerEpoch, progress: progress, across: SingleProcess())
                guard printing else { continue }
                let seen = statistics.seen * processes.size
                let rate = Double(seen) / max(elapsed, 1e-9)
                let remaining = Double(trainLoader.samplesPerEpoch - seen) / max(rate, 1e-9)
                progress.update(
                    "epoch \(epoch)/\(options.epochs) step \(batch.index + 1)/\(stepsPerEpoch) "
                        + String(format: "loss %.4f acc %.2f%% %.0f img/s ETA %@", figures.loss, figures.top1, rate, ProgressLine.clock(remaining)),
                    elapsed: elapsed)
            }
            // Reading the totals waits for the epoch's last step, so the time below is the device's too.
            let figures = try checkedFigures(statistics, epoch: epoch, stepsPerEpoch: stepsPerEpoch, progress: progress, across: processes)
            let seen = statistics.seen * processes.size
            let trainSeconds = Double(DispatchTime.now().uptimeNanoseconds - epochStart) * 1e-9
            let evaluation = try model.evaluate(on: testLoader, processes: processes)
            guard evaluation.loss.isFinite else {
                throw TrainingError.diverged(
                    "the test loss after epoch \(epoch) is \(evaluation.loss): the model's outputs are not finite; "
                        + "stopped without a checkpoint of this epoch (lower --lr, or clip with --clip-gradient-norm)")
            }
            let metrics = EpochMetrics(
                epoch: epoch, trainLoss: figures.loss, trainTop1: figures.top1,
                testLoss: evaluation.loss, testTop1: evaluation.top1, testTop5: evaluation.top5, learningRate: learningRate,
                epochSeconds: trainSeconds, imagesPerSecond: Double(seen) / max(trainSeconds, 1e-9))
            progress.update(
                "epoch \(epoch)/\(options.epochs) "
                    + String(
                        format: "train loss %.4f top-1 %.2f%% | test loss %.4f top-1 %.2f%% top-5 %.2f%% | %.1f s, %.0f img/s",
                        metrics.trainLoss, metrics.trainTop1, metrics.testLoss, metrics.testTop1, metrics.testTop5, trainSeconds,
                        metrics.imagesPerSecond), elapsed: trainSeconds, final: true)
            history.append(metrics)
            log(
                String(
                    format: "data: the steps waited %.2f s for batches after the first (the first took %.2f s), %d worker thread(s)",
                    batches.laterBatchesWaitSeconds, batches.firstBatchWaitSeconds, trainLoader.workers))
            if let first = batches.skipped.first {
                log("warning: \(batches.skipped.count) image(s) skipped this epoch (--skip-bad-images); the first: \(first.reason)")
            }
            if let communication = trainingStep.communication {
                log(
                    String(
                        format: "allreduce: %.2f MB per step in %d buckets, %.2f ms per step waited after the backward pass (rank 0)",
                        Double(communication.bytesPerStep) / 1e6, communication.buckets, communication.exposedMillisecondsPerStep))
                trainingStep.resetCommunication()
            }
            guard writes else { continue }
            try appendLine(try JSONEncoder().encode(metrics), to: metricsURL)
            if options.saveModelEvery > 0 && epoch % options.saveModelEvery == 0 {
                try save(epoch: epoch, to: folder.appendingPathComponent("checkpoint_epoch_\(epoch).safetensors"))
            }
        }
        let totalSeconds = Double(DispatchTime.now().uptimeNanoseconds - trainingStart) * 1e-9
        guard writes else { return history }
        try save(epoch: options.epochs, to: folder.appendingPathComponent("model_final.safetensors"))
        if let last = history.last { try writeSummary(last, totalSeconds: totalSeconds) }
        return history
    }

    /// The signal that asked this process, or with several processes any of them, to stop.
    /// The processes agree after every step (a one-value allreduce): one leaving alone would
    /// leave the others waiting in the next step's collectives.
    private func stopSignal() throws -> Int32? {
        guard processes.size > 1 else { return stopRequest.signal }
        let largest = -(try processes.minimized([-Double(stopRequest.signal ?? 0)])[0])
        return largest > 0 ? Int32(largest) : nil
    }

    /// Seconds between reads of the loss that catch a NaN or infinite one: a diverged run
    /// stops within this time of the step that diverged, which the error names.
    static let divergenceCheckInterval = 2.0

    /// The statistics so far over `processes`, or `TrainingError.diverged` naming the first
    /// step whose loss was not finite.
    private func checkedFigures(
        _ statistics: TrainingStatistics, epoch: Int, stepsPerEpoch: Int, progress: ProgressLine, across processes: ProcessGroup
    ) throws -> TrainingFigures {
        let figures = try statistics.read(across: processes)
        if let batch = figures.firstNonFiniteBatch {
            progress.finish()
            let kept = lastCheckpoint.map { "the last checkpoint, \($0.path), is untouched" } ?? "no checkpoint was written"
            throw TrainingError.diverged(
                "the training loss became NaN or infinite at epoch \(epoch), step \(batch + 1)/\(stepsPerEpoch) "
                    + "(lr \(options.learningRate)); training stopped and \(kept); lower --lr, or clip with --clip-gradient-norm")
        }
        return figures
    }

    /// Writes a checkpoint of the current model and optimizer, which becomes the last one.
    private func save(epoch: Int, to url: URL) throws {
        try Checkpoint.save(
            model: model, optimizer: optimizer, epoch: epoch, run: runIdentifier, options: options, processes: processes.size,
            normalization: trainLoader.normalization, classNames: trainLoader.source.classNames,
            preparation: InputPreparation(options: options, normalization: trainLoader.normalization, classNames: trainLoader.source.classNames),
            to: url)
        lastCheckpoint = url
    }

    /// metrics.jsonl's lines of the epochs before `firstEpoch`: from the file itself, or on
    /// resuming into another folder from the checkpoint's folder; later epochs of an earlier
    /// attempt are dropped, so no epoch appears twice.
    private func earlierMetrics(in url: URL) throws -> Data {
        guard firstEpoch > 1 else { return Data() }
        let candidates = [url] + (resumePoint.map { [$0.url.deletingLastPathComponent().appendingPathComponent("metrics.jsonl")] } ?? [])
        guard let source = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else { return Data() }
        let text = try FileSystem.readText(source)
        let kept = text.split(separator: "\n").filter { line in
            guard let metrics = try? JSONDecoder().decode(EpochMetrics.self, from: Data(line.utf8)) else { return false }
            return metrics.epoch < firstEpoch
        }
        return Data(kept.map { $0 + "\n" }.joined().utf8)
    }

    private func writeConfiguration(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var object = try JSONSerialization.jsonObject(with: encoder.encode(options)) as? [String: Any] ?? [:]
        object["device"] = "\(backend.device)"
        object["device_name"] = backend.info.name
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(data, to: url)
    }

    private func appendLine(_ data: Data, to url: URL) throws {
        try FileSystem.append(data + Data("\n".utf8), to: url)
    }

    /// Appends this run's row to OUTPUT/summary.csv (with a header when the file is new).
    private func writeSummary(_ last: EpochMetrics, totalSeconds: Double) throws {
        let url = URL(fileURLWithPath: options.outputDirectory).appendingPathComponent("summary.csv")
        let header =
            "experiment,attention,device,params,macs_per_image,peak_memory_bytes,latency_ms_per_image,latency_std_ms,top1,top5,training_seconds\n"
        if !FileManager.default.fileExists(atPath: url.path) { try AtomicFile.write(Data(header.utf8), to: url) }
        let sample = try testLoader.makeBatch(0, epoch: 0, order: testLoader.order(epoch: 0))
        let images = try Tensor(sample.images, shape: Shape(sample.imageShape), on: backend)
        let latency = try model.inferenceLatency(images: images)
        let row = [
            options.experimentName, options.model.attention.kind.rawValue, "\(backend.device)", "\(model.parameterCount)",
            "\(model.multiplyAccumulates)",
            "\(backend.memory.peak)", String(format: "%.4f", latency.mean), String(format: "%.4f", latency.standardDeviation),
            String(format: "%.2f", last.testTop1), String(format: "%.2f", last.testTop5), String(format: "%.1f", totalSeconds),
        ]
        try appendLine(Data(row.joined(separator: ",").utf8), to: url)
        log(
            String(
                format: "final test top-1 %.2f%% top-5 %.2f%%, %.1f s; latency %.3f ms/image; peak memory %.1f MiB; outputs in %@",
                last.testTop1, last.testTop5, totalSeconds, latency.mean, Double(backend.memory.peak) / 1_048_576, experimentFolder.path))
    }
}
