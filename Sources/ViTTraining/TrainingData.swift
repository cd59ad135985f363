import Foundation
import ViTCore
import ViTData
import ViTNN

/// The training and test loaders of a run: the in-memory data sets fitted to the model and
/// normalised by the training set's statistics, or an image folder decoded file by file and
/// normalised as its preprocessing says.
public struct TrainingData {
    public let train: BatchLoader
    public let test: BatchLoader
    /// What the log should say about the data (the split folders used, files ignored).
    public let notes: [String]

    /// The loaders `options` describe for shard `shard` of `processes` processes, with
    /// `workers` threads preparing each; with `pinnedMemory` (a device backend's
    /// `allocatePinnedHost`) the batches are assembled in pinned buffers the device copies from.
    public init(
        options: TrainingOptions, shard: DataShard, processes: Int, workers: Int, pinnedMemory: ((Int) throws -> PinnedHostMemory)? = nil
    ) throws {
        let kind = DatasetKind(rawValue: options.dataset) ?? .fashionMNIST
        let configuration = options.model
        let trainSource: any SampleSource
        let testSource: any SampleSource
        var notes: [String] = []
        if kind == .imageFolder {
            let root = options.dataDirectory ?? kind.defaultDirectory
            var train = try ImageFolder.scan(root: root, split: .train)
            var test = try ImageFolder.scan(root: root, split: .test)
            notes.append(
                "image folder \(root): \(train.count) training images in \(train.folder), \(test.count) test images in \(test.folder), "
                    + "\(train.classNames.count) classes; \(train.ignoredFiles + test.ignoredFiles) files without a .jpg, .jpeg or .png extension ignored"
            )
            if let limit = options.trainingLimit { train = Self.spread(train, keeping: limit) }
            if let limit = options.testLimit { test = Self.spread(test, keeping: limit) }
            let preprocessing = options.imagePreprocessing ?? ImagePreprocessing(channels: configuration.numChannels)
            trainSource = try ImageFileSamples(
                split: train, preprocessing: preprocessing, size: configuration.imageSize, channels: configuration.numChannels,
                training: true, horizontalFlip: options.horizontalFlip)
            testSource = try ImageFileSamples(
                split: test, preprocessing: preprocessing, size: configuration.imageSize, channels: configuration.numChannels,
                training: false)
        } else {
            var train = try kind.load(split: .train, directory: options.dataDirectory)
            var test = try kind.load(split: .test, directory: options.dataDirectory)
            if let limit = options.trainingLimit { train = try train.prefix(limit) }
            if let limit = options.testLimit { test = try test.prefix(limit) }
            guard configuration.numChannels == train.channels else {
                throw TrainingError.mismatch(
                    "the model expects \(configuration.numChannels) channels, but \(train.name) has \(train.channels)")
            }
            guard configuration.imageSize >= train.height, configuration.imageSize >= train.width else {
                throw TrainingError.mismatch(
                    "image_size \(configuration.imageSize) is smaller than the \(train.height)x\(train.width) images of \(train.name)")
            }
            // Smaller images (Fashion-MNIST's 28 px for a 32 px model) are padded or resized,
            // in memory: refused when that memory is not there (before, the allocation trapped).
            let fittedBytes = Double(train.count + test.count) * Double(train.channels) * Double(configuration.imageSize * configuration.imageSize)
            let memory = Double(ProcessInfo.processInfo.physicalMemory)
            guard fittedBytes <= memory else {
                throw TrainingError.invalidOption(
                    String(
                        format:
                            "%@'s %d images at image_size %d take %.1f GiB in memory, more than this machine's %.1f GiB; lower image_size or --train-limit",
                        train.name, train.count + test.count, configuration.imageSize, fittedBytes / 1_073_741_824, memory / 1_073_741_824))
            }
            train = try train.fitted(to: configuration)
            test = try test.fitted(to: configuration)
            let normalizer = Normalizer(statistics: ChannelStatistics(computedOver: train))
            trainSource = try InMemorySamples(
                dataset: train, normalizer: normalizer,
                augmentation: Augmentation(cropPadding: options.cropPadding, horizontalFlip: options.horizontalFlip))
            testSource = try InMemorySamples(dataset: test, normalizer: normalizer)
        }
        try Self.requireImages(trainSource, for: "train on")
        try Self.requireImages(testSource, for: "evaluate on")
        guard configuration.numClasses == trainSource.classNames.count else {
            throw TrainingError.mismatch(
                "the model expects \(configuration.numClasses) classes, but \(trainSource.name) has \(trainSource.classNames.count)")
        }
        // A short batch could leave a process without images; one process may train on a short one.
        guard processes == 1 || trainSource.count >= options.batchSize * processes else {
            throw TrainingError.invalidOption(
                "\(processes) processes at --batch-size \(options.batchSize) need at least one global batch of "
                    + "\(options.batchSize * processes) training images; \(trainSource.name) has \(trainSource.count)")
        }
        // One pool serves both loaders: evaluation runs between training epochs, never beside
        // them, and a test batch is no larger than a training batch.
        let pool = try pinnedMemory.map {
            try BatchMemoryPool(
                capacity: options.batchSize * trainSource.sampleSize, buffers: BatchLoader.batchesInFlight(workers: workers), allocate: $0)
        }
        train = try BatchLoader(
            source: trainSource, batchSize: options.batchSize, shuffle: true, seed: options.seed,
            dropLast: processes > 1 || trainSource.count >= options.batchSize, workers: workers, shard: shard, memoryPool: pool)
        test = try BatchLoader(source: testSource, batchSize: options.batchSize, workers: workers, shard: shard, memoryPool: pool)
        self.notes = notes
    }

    /// Throws, naming `source`, when it has no image to `purpose` (an IDX file of 0 images
    /// is well-formed, but a run on it would print figures of nothing).
    public static func requireImages(_ source: any SampleSource, for purpose: String) throws {
        guard source.count > 0 else {
            throw TrainingError.invalidOption("\(source.name) has no images: there is nothing to \(purpose)")
        }
    }

    /// `limit` images of `split` spread evenly over its sorted files, so that every class
    /// keeps its share (the first `limit` would be the first classes only).
    static func spread(_ split: ImageFolderSplit, keeping limit: Int) -> ImageFolderSplit {
        guard limit < split.count else { return split }
        return split.subset((0..<limit).map { $0 * split.count / limit })
    }

    /// The decoding threads a run uses by default: the cores the backend leaves free (all
    /// but the host thread when a device computes; one when the CPU backend uses them all).
    public static func defaultWorkers(deviceComputesOnCPU: Bool, processes: Int) -> Int {
        guard !deviceComputesOnCPU else { return 1 }
        return max(1, ProcessInfo.processInfo.activeProcessorCount / max(processes, 1) - 1)
    }
}
