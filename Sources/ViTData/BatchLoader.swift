import ViTCore

/// Cuts a sample source into normalised, optionally shuffled and augmented mini-batches.
///
/// Everything random is a pure function of the seed, the epoch and the sample or batch: the
/// epoch's order is the permutation drawn from stream `(seed, 0, epoch)`; in-memory images
/// draw batch `b`'s augmentations from stream `(seed, 1, epoch, b)`, image files each
/// sample's crop from `(seed, 3, epoch, sample)`. So the batches are the same on every run,
/// however many worker threads prepare them and however fast the consumer is.
///
/// ```swift
/// let loader = try BatchLoader(dataset: train, normalizer: normalizer, batchSize: 128,
///                              shuffle: true, seed: 42, augmentation: .standard)
/// for epoch in 0..<epochs {
///     let batches = loader.epoch(epoch)
///     while let batch = try batches.nextBatch() { ... batch.images, batch.labels ... }
/// }
/// ```
public struct BatchLoader: Sendable {
    /// The samples batched.
    public let source: any SampleSource
    /// Samples per batch (the last batch may be smaller unless `dropLast`).
    public let batchSize: Int
    /// Whether each epoch visits the samples in a fresh seeded random order.
    public let shuffle: Bool
    /// The seed of every random choice.
    public let seed: UInt64
    /// Whether a last batch smaller than `batchSize` is skipped.
    public let dropLast: Bool
    /// Batches prepared ahead by the worker threads (at least `workers` are in flight); 0
    /// prepares them on the consumer's thread inside `nextBatch()`.
    public let prefetchCount: Int
    /// Threads preparing batches, each a whole batch at a time, when `prefetchCount` > 0.
    public let workers: Int
    /// The part of every epoch's order this process reads (all of it in a single-process run).
    public let shard: DataShard
    /// Pinned buffers to assemble batches in (nil: batches are arrays).
    public let memoryPool: BatchMemoryPool?

    /// The most worker threads a loader may have.
    public static let maximumWorkers = 256

    /// A loader for `source`. Throws `DataError.invalidArgument` when the batch size or the
    /// worker count is not positive or the prefetch count is negative.
    public init(
        source: any SampleSource, batchSize: Int, shuffle: Bool = false, seed: UInt64 = 0, dropLast: Bool = false,
        prefetchCount: Int = 2, workers: Int = 1, shard: DataShard = .whole, memoryPool: BatchMemoryPool? = nil
    ) throws {
        guard batchSize > 0 else {
            throw DataError.invalidArgument(operation: "BatchLoader", reason: "batch size \(batchSize) must be positive")
        }
        guard prefetchCount >= 0 else {
            throw DataError.invalidArgument(
                operation: "BatchLoader", reason: "prefetch count \(prefetchCount) must not be negative")
        }
        guard (1...Self.maximumWorkers).contains(workers) else {
            throw DataError.invalidArgument(
                operation: "BatchLoader", reason: "--workers must be in 1...\(Self.maximumWorkers), got \(workers)")
        }
        self.source = source
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
        self.prefetchCount = prefetchCount
        self.workers = workers
        self.shard = shard
        self.memoryPool = memoryPool
    }

    /// Batches that can be held at once while an epoch runs: those the workers prepare ahead,
    /// the one a step uses and the one whose upload may still be running. A `BatchMemoryPool`
    /// of this many buffers runs dry only when the consumer keeps batches.
    public static func batchesInFlight(prefetchCount: Int = 2, workers: Int) -> Int { max(prefetchCount, workers) + 2 }

    /// A loader of the in-memory `dataset`, normalised by `normalizer` and augmented by
    /// `augmentation`; throws as `init(source:...)` does and when the normaliser's channel
    /// count differs from the data set's.
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
        try self.init(
            source: InMemorySamples(dataset: dataset, normalizer: normalizer, augmentation: augmentation), batchSize: batchSize,
            shuffle: shuffle, seed: seed, dropLast: dropLast, prefetchCount: prefetchCount, shard: shard)
    }

    /// The normalisation of every input.
    public var normalization: ChannelStatistics { source.normalization }

    /// Samples of one step over every shard: `batchSize` times the shard count.
    public var globalBatchSize: Int { batchSize * shard.count }

    /// Batches in one epoch (the same for every shard).
    public var batchesPerEpoch: Int {
        dropLast ? source.count / globalBatchSize : (source.count + globalBatchSize - 1) / globalBatchSize
    }

    /// Samples in one epoch over every shard (fewer than the source has when `dropLast` drops some).
    public var samplesPerEpoch: Int {
        dropLast ? batchesPerEpoch * globalBatchSize : source.count
    }

    /// The order in which `epoch` visits the samples: a seeded permutation when shuffling,
    /// otherwise `0..<count`.
    public func order(epoch: Int) -> [Int] {
        guard shuffle else { return Array(0..<source.count) }
        var generator = SeededRandomGenerator(seed: seed, stream: 0, UInt64(truncatingIfNeeded: epoch))
        return generator.permutation(count: source.count)
    }

    /// The batches of `epoch`, prepared `prefetchCount` ahead by `workers` threads. Read them
    /// with `nextBatch()`; dropping the object (or calling `cancel()`) stops and joins the threads.
    public func epoch(_ epoch: Int) -> EpochBatches {
        EpochBatches(loader: self, epoch: epoch)
    }

    /// Builds batch `index` of `epoch` on the calling thread, given the epoch's `order`
    /// (from `order(epoch:)`): this shard's samples of the global batch, which may be none in
    /// an epoch's last, short batch. A `writer` of the source may be passed to reuse it.
    public func makeBatch(_ index: Int, epoch: Int, order: [Int], writer: SampleWriter? = nil) throws -> Batch {
        precondition(index >= 0 && index < batchesPerEpoch, "BatchLoader.makeBatch: batch \(index) outside 0..<\(batchesPerEpoch)")
        precondition(order.count == source.count, "BatchLoader.makeBatch: the order must cover the samples")
        // The global batch's positions of the order, every `shard.count`-th from `shard.index`.
        let start = index * globalBatchSize
        var samples = stride(from: start + shard.index, to: min(start + globalBatchSize, order.count), by: shard.count).map { order[$0] }
        let sampleSize = source.sampleSize
        let writer = try writer ?? source.makeWriter()
        // Writes the samples from `destination` and moves the kept ones together; returns
        // the kept samples and the skipped images.
        func assemble(into destination: UnsafeMutablePointer<Float>) throws -> (kept: [Int], skipped: [SkippedImage]) {
            let skipped = try writer.write(samples, batch: index, epoch: epoch, seed: seed, into: destination)
            let dropped = Set(skipped.map(\.position))
            let kept = samples.indices.filter { !dropped.contains($0) }
            for (slot, position) in kept.enumerated() where slot != position {
                (destination + slot * sampleSize).update(from: destination + position * sampleSize, count: sampleSize)
            }
            return (kept.map { samples[$0] }, skipped.map(\.skipped))
        }
        let total = samples.count * sampleSize
        if let pooled = memoryPool.flatMap({ $0.capacity >= total ? $0.acquire() : nil }) {
            let (kept, skipped) = try assemble(into: pooled.memory.values.baseAddress!)
            return Batch(
                index: index, pinned: pooled, labels: kept.map { Float(source.label(of: $0)) }, sampleIndices: kept,
                channels: source.channels, height: source.height, width: source.width, skipped: skipped)
        }
        var skipped: [SkippedImage] = []
        let images = try [Float](unsafeUninitializedCapacity: total) { buffer, initialized in
            (samples, skipped) = try assemble(into: buffer.baseAddress!)
            initialized = samples.count * sampleSize
        }
        return Batch(
            index: index, images: images, labels: samples.map { Float(source.label(of: $0)) }, sampleIndices: samples,
            channels: source.channels, height: source.height, width: source.width, skipped: skipped)
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
