import Foundation
import ViTCore
import ViTData
import ViTNN

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
/// evaluation, and the output files of OUTPUT/EXP/ and OUTPUT/summary.csv.
public final class Trainer {
    public let options: TrainingOptions
    public let backend: Backend
    public let model: VisionTransformer
    public let optimizer: Optimizer
    public let trainLoader: BatchLoader
    public let testLoader: BatchLoader
    /// The optimisation step the epochs run.
    private let trainingStep: TrainingStep
    /// The first epoch to run (1-based; more than 1 after `--resume`).
    public private(set) var firstEpoch = 1
    private let log: (String) -> Void

    /// Loads the data and builds the model; `resume` continues from a checkpoint.
    public init(options: TrainingOptions, backend: Backend, resume: URL? = nil, log: @escaping (String) -> Void = { print($0) }) throws {
        try options.validate()
        self.options = options
        self.backend = backend
        self.log = log
        let kind = DatasetKind(rawValue: options.dataset)!
        var train = try kind.load(split: .train, directory: options.dataDirectory)
        var test = try kind.load(split: .test, directory: options.dataDirectory)
        if let limit = options.trainingLimit { train = try train.prefix(limit) }
        if let limit = options.testLimit { test = try test.prefix(limit) }
        let configuration = options.model
        guard configuration.numChannels == train.channels, configuration.numClasses == train.classCount else {
            throw TrainingError.mismatch(
                "the model expects \(configuration.numChannels) channels and \(configuration.numClasses) classes, "
                    + "but \(train.name) has \(train.channels) and \(train.classCount)")
        }
        guard configuration.imageSize >= train.height, configuration.imageSize >= train.width else {
            throw TrainingError.mismatch(
                "image_size \(configuration.imageSize) is smaller than the \(train.height)x\(train.width) images of \(train.name)")
        }
        // Smaller images (Fashion-MNIST's 28 px for a 32 px model) are padded or resized.
        train = try train.fitted(to: configuration)
        test = try test.fitted(to: configuration)
        let normalizer = Normalizer(statistics: ChannelStatistics(computedOver: train))
        trainLoader = try BatchLoader(
            dataset: train, normalizer: normalizer, batchSize: options.batchSize, shuffle: true, seed: options.seed,
            augmentation: Augmentation(cropPadding: options.cropPadding, horizontalFlip: options.horizontalFlip),
            dropLast: train.count >= options.batchSize)
        testLoader = try BatchLoader(dataset: test, normalizer: normalizer, batchSize: options.batchSize)
        model = try VisionTransformer(configuration: configuration, on: backend, seed: options.seed)
        optimizer = try options.makeOptimizer(for: model.optimizedParameters)
        trainingStep = try TrainingStep(model: model, optimizer: optimizer, options: options)
        if let resume { try restore(from: resume) }
    }

    /// The output folder of this experiment.
    public var experimentFolder: URL {
        URL(fileURLWithPath: options.outputDirectory).appendingPathComponent(options.experimentName)
    }

    private func restore(from url: URL) throws {
        let file = try Checkpoint.read(url)
        try Checkpoint.load(file, into: model.stateTensors, source: url.lastPathComponent)
        let optimizerURL = Checkpoint.optimizerURL(for: url)
        guard FileManager.default.fileExists(atPath: optimizerURL.path) else {
            throw TrainingError.mismatch("--resume needs the optimizer state \(optimizerURL.lastPathComponent) beside \(url.lastPathComponent)")
        }
        let state = try Checkpoint.read(optimizerURL)
        try Checkpoint.load(state, into: optimizer.stateTensors, source: optimizerURL.lastPathComponent)
        optimizer.restore(stepCount: Int(state.metadata[Checkpoint.stepKey] ?? "") ?? 0)
        firstEpoch = (Int(file.metadata[Checkpoint.epochKey] ?? "") ?? 0) + 1
        log("resumed from \(url.path) at epoch \(firstEpoch), step \(optimizer.stepCount)")
    }

    /// Runs the remaining epochs and writes every output; returns each epoch's metrics.
    @discardableResult
    public func run() throws -> [EpochMetrics] {
        let folder = experimentFolder
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try writeConfiguration(to: folder.appendingPathComponent("config.json"))
        let metricsURL = folder.appendingPathComponent("metrics.jsonl")
        if firstEpoch == 1 { try Data().write(to: metricsURL) }
        let stepsPerEpoch = trainLoader.batchesPerEpoch
        let schedule = LearningRateSchedule(
            peakRate: options.learningRate, minimumRate: options.minimumLearningRate,
            warmupSteps: Int(options.warmupEpochs * Float(stepsPerEpoch)), totalSteps: options.epochs * stepsPerEpoch)
        log(
            "model: \(model.parameterCount) parameters, \(model.multiplyAccumulates) MACs per image, attention \(options.model.attention.kind.rawValue), device \(backend.device) (\(backend.info.name))"
        )
        log(
            "data: \(trainLoader.dataset.name), \(trainLoader.samplesPerEpoch) training and \(testLoader.dataset.count) test images, \(stepsPerEpoch) steps per epoch"
        )
        backend.memory.resetPeak()
        let progress = ProgressLine()
        var history: [EpochMetrics] = []
        let trainingStart = DispatchTime.now().uptimeNanoseconds
        for epoch in max(firstEpoch, 1)...max(options.epochs, 1) where epoch >= firstEpoch {
            let epochStart = DispatchTime.now().uptimeNanoseconds
            let statistics = trainingStep.statistics
            try statistics.reset()
            var learningRate: Float = 0
            for batch in trainLoader.epoch(epoch - 1) {
                learningRate = schedule.rate(at: optimizer.stepCount)
                try trainingStep(batch, learningRate: learningRate)
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - epochStart) * 1e-9
                // The figures are read from the device only when the line is printed.
                guard progress.isDue(elapsed: elapsed) else { continue }
                let (loss, top1) = try statistics.read()
                let rate = Double(statistics.seen) / max(elapsed, 1e-9)
                let remaining = Double(trainLoader.samplesPerEpoch - statistics.seen) / max(rate, 1e-9)
                progress.update(
                    String(
                        format: "epoch %d/%d step %d/%d loss %.4f acc %.2f%% %.0f img/s ETA %@", epoch, options.epochs,
                        batch.index + 1, stepsPerEpoch, loss, top1, rate, ProgressLine.clock(remaining)), elapsed: elapsed)
            }
            // Reading the totals waits for the epoch's last step, so the time below is the device's too.
            let (trainLoss, trainTop1) = try statistics.read()
            let seen = statistics.seen
            let trainSeconds = Double(DispatchTime.now().uptimeNanoseconds - epochStart) * 1e-9
            let evaluation = try model.evaluate(on: testLoader)
            let metrics = EpochMetrics(
                epoch: epoch, trainLoss: trainLoss, trainTop1: trainTop1,
                testLoss: evaluation.loss, testTop1: evaluation.top1, testTop5: evaluation.top5, learningRate: learningRate,
                epochSeconds: trainSeconds, imagesPerSecond: Double(seen) / max(trainSeconds, 1e-9))
            progress.update(
                String(
                    format: "epoch %d/%d train loss %.4f top-1 %.2f%% | test loss %.4f top-1 %.2f%% top-5 %.2f%% | %.1f s, %.0f img/s",
                    epoch, options.epochs, metrics.trainLoss, metrics.trainTop1, metrics.testLoss, metrics.testTop1,
                    metrics.testTop5, trainSeconds, metrics.imagesPerSecond), elapsed: trainSeconds, final: true)
            history.append(metrics)
            try appendLine(try JSONEncoder().encode(metrics), to: metricsURL)
            if options.saveModelEvery > 0 && epoch % options.saveModelEvery == 0 {
                try Checkpoint.save(
                    model: model, optimizer: optimizer, epoch: epoch,
                    to: folder.appendingPathComponent("checkpoint_epoch_\(epoch).safetensors"))
            }
        }
        let totalSeconds = Double(DispatchTime.now().uptimeNanoseconds - trainingStart) * 1e-9
        try Checkpoint.save(model: model, optimizer: optimizer, epoch: options.epochs, to: folder.appendingPathComponent("model_final.safetensors"))
        if let last = history.last { try writeSummary(last, totalSeconds: totalSeconds) }
        return history
    }

    private func writeConfiguration(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var object = try JSONSerialization.jsonObject(with: encoder.encode(options)) as? [String: Any] ?? [:]
        object["device"] = "\(backend.device)"
        object["device_name"] = backend.info.name
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: url, options: .atomic)
    }

    private func appendLine(_ data: Data, to url: URL) throws {
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: data + Data("\n".utf8))
    }

    /// Appends this run's row to OUTPUT/summary.csv (with a header when the file is new).
    private func writeSummary(_ last: EpochMetrics, totalSeconds: Double) throws {
        let url = URL(fileURLWithPath: options.outputDirectory).appendingPathComponent("summary.csv")
        let header =
            "experiment,attention,device,params,macs_per_image,peak_memory_bytes,latency_ms_per_image,latency_std_ms,top1,top5,training_seconds\n"
        if !FileManager.default.fileExists(atPath: url.path) { try Data(header.utf8).write(to: url) }
        let sample = testLoader.makeBatch(0, epoch: 0, order: testLoader.order(epoch: 0))
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
