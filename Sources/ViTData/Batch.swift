import ViTCore

/// One mini-batch ready for a model: normalised (and, for training, augmented) images and
/// their class indices. The images are in an array, or in a pinned buffer of a
/// `BatchMemoryPool` that the device copies from directly (`imageTensor(on:)` takes either).
public struct Batch: Sendable {
    /// Position of the batch in its epoch, from 0.
    public let index: Int
    /// Number of samples; the last batch of an epoch may be smaller than the batch size.
    public let count: Int
    /// `count` class indices as floats (what a cross-entropy over float tensors takes).
    public let labels: [Float]
    /// The data set index of each sample, in batch order.
    public let sampleIndices: [Int]
    /// Channels per image.
    public let channels: Int
    /// Image height.
    public let height: Int
    /// Image width.
    public let width: Int
    /// Images left out because they could not be prepared (`--skip-bad-images`).
    public let skipped: [SkippedImage]
    /// The images when they are in an array (empty when they are pinned).
    private let arrayImages: [Float]
    /// The pinned buffer holding the images, if any.
    public let pinnedImages: PooledBatchMemory?

    /// A batch from its parts (the loader builds these; the sizes are checked).
    public init(
        index: Int, images: [Float], labels: [Float], sampleIndices: [Int], channels: Int, height: Int, width: Int,
        skipped: [SkippedImage] = []
    ) {
        precondition(images.count == labels.count * channels * height * width, "Batch: image size does not match the shape")
        self.init(
            index: index, arrayImages: images, pinnedImages: nil, labels: labels, sampleIndices: sampleIndices, channels: channels,
            height: height, width: width, skipped: skipped)
    }

    /// A batch whose images are the first `labels.count` images' floats of `pinned`.
    init(
        index: Int, pinned: PooledBatchMemory, labels: [Float], sampleIndices: [Int], channels: Int, height: Int, width: Int,
        skipped: [SkippedImage]
    ) {
        precondition(pinned.memory.values.count >= labels.count * channels * height * width, "Batch: the pinned buffer is too small")
        self.init(
            index: index, arrayImages: [], pinnedImages: pinned, labels: labels, sampleIndices: sampleIndices, channels: channels,
            height: height, width: width, skipped: skipped)
    }

    private init(
        index: Int, arrayImages: [Float], pinnedImages: PooledBatchMemory?, labels: [Float], sampleIndices: [Int], channels: Int,
        height: Int, width: Int, skipped: [SkippedImage]
    ) {
        precondition(labels.count == sampleIndices.count, "Batch: one label per sample")
        self.index = index
        self.count = labels.count
        self.arrayImages = arrayImages
        self.pinnedImages = pinnedImages
        self.labels = labels
        self.sampleIndices = sampleIndices
        self.channels = channels
        self.height = height
        self.width = width
        self.skipped = skipped
    }

    /// `count x channels x height x width` normalised pixels, NCHW (copied out of the pinned
    /// buffer when the images are there).
    public var images: [Float] {
        guard let pinnedImages else { return arrayImages }
        return Array(pinnedImages.memory.values.prefix(count * channels * height * width))
    }

    /// The image tensor's shape, `[count, channels, height, width]`.
    public var imageShape: [Int] { [count, channels, height, width] }

    /// The images as a tensor on `backend`: from the pinned buffer by a non-blocking device
    /// copy (the buffer is reused once it completes), or written from the array.
    public func imageTensor(on backend: Backend) throws -> Tensor {
        let shape = Shape(imageShape)
        guard let pinnedImages else { return try Tensor(arrayImages, shape: shape, on: backend) }
        let storage = try backend.allocate(count: shape.elementCount)
        try pinnedImages.startUpload(to: storage)
        return Tensor(shape: shape, storage: storage, backend: backend)
    }
}
