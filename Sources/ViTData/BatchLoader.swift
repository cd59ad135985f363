import ViTCore

/// Cuts a data set into normalised, optionally shuffled and augmented mini-batches.
///
/// Everything random is a pure function of `(seed, epoch, batch index)`: the epoch's order
/// is the permutation drawn from stream `(seed, 0, epoch)` and the augmentation of batch
/// `b` comes from stream `(seed, 1, epoch, b)`. So the batches are the same on every run,
/// whether they are prepared on a background thread (`epoch(_:)`) or on the caller's
/// thread (`makeBatch`), and however fast the consumer is.
///
/// ```swift
/// let loader = try BatchLoader(dataset: train, normalizer: normalizer, batchSize: 128,
///                              shuffle: true, seed: 42, augmentation: .standard)
/// for epoch in 0..<epochs {
///     for batch in loader.epoch(epoch) { ... batch.images, batch.labels, batch.count ... }
/// }
/// ```
public struct BatchLoader: Sendable {
    /// The images and labels batched.
    public let dataset: Dataset
    /// The normalisation applied to every pixel.
    public let normalizer: Normalizer
    /// Samples per batch (the last batch may be smaller unless `dropLast`).
    public let batchSize: Int
    /// Whether each epoch visits the samples in a fresh seeded random order.
    public let shuffle: Bool
    /// The seed of every random choice.
    public let seed: UInt64
    /// Random crop and flip applied to each sample (`.none` for evaluation).
    public let augmentation: Augmentation
    /// Whether a last batch smaller than `batchSize` is skipped.
    public let dropLast: Bool
    /// Batches prepared ahead on the background thread; 0 prepares them on the
    /// consumer's thread inside `next()`.
    public let prefetchCount: Int

    /// A loader for `dataset`. Throws `DataError.invalidArgument` when the batch size is not
    /// positive, the prefetch count is negative or the normaliser's channel count differs
    /// from the data set's.
    public init(
        dataset: Dataset,
        normalizer: Normalizer,
        batchSize: Int,
        shuffle: Bool = false,
        seed: UInt64 = 0,
        augmentation: Augmentation = .none,
        dropLast: Bool = false,
        prefetchCount: Int = 2
    ) throws {
        guard batchSize > 0 else {
            throw DataError.invalidArgument(operation: "BatchLoader", reason: "batch size \(batchSize) must be positive")
        }
        guard prefetchCount >= 0 else {
            throw DataError.invalidArgument(
                operation: "BatchLoader", reason: "prefetch count \(prefetchCount) must not be negative")
        }
        guard normalizer.channels == dataset.channels else {
            throw DataError.invalidArgument(
                operation: "BatchLoader",
                reason: "the normaliser has \(normalizer.channels) channels but \(dataset.name) has \(dataset.channels)")
        }
        self.dataset = dataset
        self.normalizer = normalizer
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.augmentation = augmentation
        self.dropLast = dropLast
        self.prefetchCount = prefetchCount
    }

    /// Batches in one epoch.
    public var batchesPerEpoch: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    /// Samples in one epoch (fewer than the data set when `dropLast` drops some).
    public var samplesPerEpoch: Int {
        dropLast ? batchesPerEpoch * batchSize : dataset.count
    }

    /// The order in which `epoch` visits the data set: a seeded permutation when
    /// shuffling, otherwise `0..<count`.
    public func order(epoch: Int) -> [Int] {
        guard shuffle else { return Array(0..<dataset.count) }
        var generator = SeededRandomGenerator(seed: seed, stream: 0, UInt64(truncatingIfNeeded: epoch))
        return generator.permutation(count: dataset.count)
    }

    /// The batches of `epoch`, prepared `prefetchCount` ahead on a background thread.
    /// Iterate it with `for batch in ...` or `next()`; dropping it (or calling `cancel()`)
    /// stops and joins the thread.
    public func epoch(_ epoch: Int) -> EpochBatches {
        EpochBatches(loader: self, epoch: epoch)
    }

    /// Builds batch `index` of `epoch` on the calling thread, given the epoch's `order`
    /// (from `order(epoch:)`).
    public func makeBatch(_ index: Int, epoch: Int, order: [Int]) -> Batch {
        precondition(index >= 0 && index < batchesPerEpoch, "BatchLoader.makeBatch: batch \(index) outside 0..<\(batchesPerEpoch)")
        precondition(order.count == dataset.count, "BatchLoader.makeBatch: the order must cover the data set")
        let start = index * batchSize
        let samples = Array(order[start..<min(start + batchSize, order.count)])
        let imageSize = dataset.imageSize
        let channels = dataset.channels
        let height = dataset.height
        let width = dataset.width
        var generator = SeededRandomGenerator(
            seed: seed, stream: 1, UInt64(truncatingIfNeeded: epoch), UInt64(truncatingIfNeeded: index))
        let augmentation = self.augmentation
        let images = [Float](unsafeUninitializedCapacity: samples.count * imageSize) { buffer, initialized in
            dataset.images.withUnsafeBufferPointer { pixels in
                normalizer.table.withUnsafeBufferPointer { table in
                    for (position, sample) in samples.enumerated() {
                        let parameters = augmentation.draw(using: &generator)
                        ImageAugmenter.transform(
                            source: pixels.baseAddress! + sample * imageSize,
                            destination: buffer.baseAddress! + position * imageSize,
                            table: table.baseAddress!, channels: channels, height: height, width: width,
                            parameters: parameters)
                    }
                }
            }
            initialized = samples.count * imageSize
        }
        let labels = samples.map { Float(dataset.labels[$0]) }
        return Batch(
            index: index, images: images, labels: labels, sampleIndices: samples, channels: channels, height: height,
            width: width)
    }
}
