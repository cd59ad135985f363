import ViTCore

/// Where a `BatchLoader`'s samples come from and how each becomes a model input: images in
/// memory (the IDX and CIFAR data sets) or image files decoded on the fly.
public protocol SampleSource: Sendable {
    /// A short name for logs, for example "fashion-mnist/train".
    var name: String { get }
    /// Number of samples.
    var count: Int { get }
    /// The shape of every prepared sample.
    var channels: Int { get }
    var height: Int { get }
    var width: Int { get }
    /// The class names, one per class.
    var classNames: [String] { get }
    /// The per-channel mean and deviation inputs are normalised with.
    var normalization: ChannelStatistics { get }
    /// The class of sample `index`.
    func label(of index: Int) -> Int32
    /// A writer for one thread: each worker of a loader has its own (decoders are not shared).
    func makeWriter() throws -> SampleWriter
    /// Sample `index` as the model sees it before normalisation and augmentation: CHW bytes
    /// (for pictures of the inputs, such as attention maps).
    func displayImage(at index: Int) throws -> [UInt8]
}

extension SampleSource {
    /// Values per prepared sample.
    public var sampleSize: Int { channels * height * width }
}

/// An image the loader left out of its batch (`--skip-bad-images`): its file and why.
public struct SkippedImage: Sendable, Equatable {
    public let path: String
    public let reason: String
}

/// Prepares samples on one thread.
public protocol SampleWriter: AnyObject {
    /// Writes the prepared samples `samples` (indices into the source), the k-th at
    /// `destination + k * sampleSize`, for batch `batch` of `epoch` of a loader seeded with
    /// `seed`; returns the positions of samples that could not be prepared and were skipped
    /// (their slots are left as they are), with the reason of each.
    func write(
        _ samples: [Int], batch: Int, epoch: Int, seed: UInt64, into destination: UnsafeMutablePointer<Float>
    ) throws -> [(position: Int, skipped: SkippedImage)]
}

/// Images held in memory, normalised through a byte table and augmented by random crops of
/// a zero-padded image and flips. Batch `b` of an epoch draws its augmentations in order
/// from stream `(seed, 1, epoch, b)`.
public struct InMemorySamples: SampleSource {
    /// The images and labels.
    public let dataset: Dataset
    /// The normalisation applied to every pixel.
    public let normalizer: Normalizer
    /// Random crop and flip applied to each sample (`.none` for evaluation).
    public let augmentation: Augmentation

    /// Samples of `dataset`; throws `DataError.invalidArgument` when the normaliser's
    /// channel count differs from the data set's.
    public init(dataset: Dataset, normalizer: Normalizer, augmentation: Augmentation = .none) throws {
        guard normalizer.channels == dataset.channels else {
            throw DataError.invalidArgument(
                operation: "BatchLoader",
                reason: "the normaliser has \(normalizer.channels) channels but \(dataset.name) has \(dataset.channels)")
        }
        self.dataset = dataset
        self.normalizer = normalizer
        self.augmentation = augmentation
    }

    public var name: String { dataset.name }
    public var count: Int { dataset.count }
    public var channels: Int { dataset.channels }
    public var height: Int { dataset.height }
    public var width: Int { dataset.width }
    public var classNames: [String] { dataset.classNames }
    public var normalization: ChannelStatistics { normalizer.statistics }
    public func label(of index: Int) -> Int32 { dataset.labels[index] }
    public func makeWriter() throws -> SampleWriter { Writer(source: self) }
    public func displayImage(at index: Int) throws -> [UInt8] { Array(dataset.image(at: index)) }

    private final class Writer: SampleWriter {
        let source: InMemorySamples

        init(source: InMemorySamples) {
            self.source = source
        }

        func write(
            _ samples: [Int], batch: Int, epoch: Int, seed: UInt64, into destination: UnsafeMutablePointer<Float>
        ) throws -> [(position: Int, skipped: SkippedImage)] {
            let dataset = source.dataset
            let imageSize = dataset.imageSize
            var generator = SeededRandomGenerator(seed: seed, stream: 1, UInt64(truncatingIfNeeded: epoch), UInt64(truncatingIfNeeded: batch))
            dataset.images.withUnsafeBufferPointer { pixels in
                source.normalizer.table.withUnsafeBufferPointer { table in
                    for (position, sample) in samples.enumerated() {
                        let parameters = source.augmentation.draw(using: &generator)
                        ImageAugmenter.transform(
                            source: pixels.baseAddress! + sample * imageSize, destination: destination + position * imageSize,
                            table: table.baseAddress!, channels: dataset.channels, height: dataset.height, width: dataset.width,
                            parameters: parameters)
                    }
                }
            }
            return []
        }
    }
}
