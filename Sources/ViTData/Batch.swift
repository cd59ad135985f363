/// One mini-batch ready for a model: normalised (and, for training, augmented) images and
/// their class indices.
public struct Batch: Sendable {
    /// Position of the batch in its epoch, from 0.
    public let index: Int
    /// Number of samples; the last batch of an epoch may be smaller than the batch size.
    public let count: Int
    /// `count x channels x height x width` normalised pixels, NCHW.
    public let images: [Float]
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

    /// A batch from its parts (the loader builds these; the sizes are checked).
    public init(
        index: Int, images: [Float], labels: [Float], sampleIndices: [Int], channels: Int, height: Int, width: Int,
        skipped: [SkippedImage] = []
    ) {
        precondition(labels.count == sampleIndices.count, "Batch: one label per sample")
        precondition(images.count == labels.count * channels * height * width, "Batch: image size does not match the shape")
        self.index = index
        self.count = labels.count
        self.images = images
        self.labels = labels
        self.sampleIndices = sampleIndices
        self.channels = channels
        self.height = height
        self.width = width
        self.skipped = skipped
    }

    /// The image tensor's shape, `[count, channels, height, width]`.
    public var imageShape: [Int] { [count, channels, height, width] }
}
