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
    /// The part of every epoch's order this process reads (all of it in a single-process run).
    public let shard: DataShard

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
        prefetchCount: Int = 2,
        shard: DataShard = .whole
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
        self.shard = shard
    }

    /// Samples of one step over every shard: `batchSize` times the shard count.
    public var globalBatchSize: Int { batchSize * shard.count }

    /// Batches in one epoch (the same for every shard).
    public var batchesPerEpoch: Int {
        dropLast ? dataset.count / globalBatchSize : (dataset.count + globalBatchSize - 1) / globalBatchSize
    }

    /// Samples in one epoch over every shard (fewer than the data set when `dropLast` drops some).
    public var samplesPerEpoch: Int {
        dropLast ? batchesPerEpoch * globalBatchSize : dataset.count
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
    /// (from `order(epoch:)`): this shard's samples of the global batch, which may be none in
    /// an epoch's last, short batch.
    public func makeBatch(_ index: Int, epoch: Int, order: [Int]) -> Batch {
        precondition(index >= 0 && index < batchesPerEpoch, "BatchLoader.makeBatch: batch \(index) outside 0..<\(batchesPerEpoch)")
        precondition(order.count == dataset.count, "BatchLoader.makeBatch: the order must cover the data set")
        // The global batch's positions of the order, every `shard.count`-th from `shard.index`.
        let start = index * globalBatchSize
        let samples = stride(from: start + shard.index, to: min(start + globalBatchSize, order.count), by: shard.count).map { order[$0] }
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

/// One process's share of every epoch in data-parallel training, as PyTorch's
/// `DistributedSampler` deals it: all processes draw the same seeded order and shard `index`
/// of `count` takes positions index, index + count, ... So `count` shards of batch size b
/// together see exactly the batches of one process with batch size count * b.
public struct DataShard: Sendable, Equatable {
    /// This shard's index in 0..<count.
    public let index: Int
    /// The number of shards.
    public let count: Int

    /// The whole data set, one shard.
    public static let whole = DataShard(uncheckedIndex: 0, count: 1)

    /// Shard `index` of `count`; throws `DataError.invalidArgument` unless 0 <= index < count.
    public init(index: Int, count: Int) throws {
        guard count > 0, (0..<count).contains(index) else {
            throw DataError.invalidArgument(operation: "DataShard", reason: "shard \(index) of \(count) is outside 0..<\(count)")
        }
        self.init(uncheckedIndex: index, count: count)
    }

    private init(uncheckedIndex index: Int, count: Int) {
        self.index = index
        self.count = count
    }
}
