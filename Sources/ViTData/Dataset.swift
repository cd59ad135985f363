/// A labelled image classification data set held in host memory.
///
/// Images are unsigned bytes in `count x channels x height x width` order (CHW per image,
/// images one after another); `labels[i]` is the class of image `i`, in `0..<classCount`.
public struct Dataset: Sendable {
    /// A short name for messages and logs, for example "fashion-mnist/train".
    public let name: String
    /// Pixels, `count * channels * height * width` bytes, NCHW.
    public let images: [UInt8]
    /// One class index per image, each in `0..<classCount`.
    public let labels: [Int32]
    /// Colour channels per image (1 for grayscale, 3 for RGB).
    public let channels: Int
    /// Image height in pixels.
    public let height: Int
    /// Image width in pixels.
    public let width: Int
    /// Number of classes.
    public let classCount: Int
    /// Human-readable class names, `classCount` of them.
    public let classNames: [String]

    /// Creates a data set, checking that the arrays agree with the shape and that every
    /// label is in `0..<classCount`. `classNames` defaults to "class 0", "class 1", ...
    public init(
        name: String,
        images: [UInt8],
        labels: [Int32],
        channels: Int,
        height: Int,
        width: Int,
        classCount: Int,
        classNames: [String]? = nil
    ) throws {
        guard channels > 0, height > 0, width > 0, classCount > 0 else {
            throw DataError.invalidDataset(
                name: name,
                reason: "channels (\(channels)), height (\(height)), width (\(width)) and class count "
                    + "(\(classCount)) must all be positive")
        }
        let imageSize = channels * height * width
        guard images.count == labels.count * imageSize else {
            throw DataError.invalidDataset(
                name: name,
                reason: "\(images.count) pixel bytes for \(labels.count) labels of \(channels)x\(height)x\(width) "
                    + "images (expected \(labels.count * imageSize))")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classCount }) {
            throw DataError.invalidDataset(
                name: name, reason: "label \(labels[bad]) of image \(bad) is outside 0..<\(classCount)")
        }
        let names = classNames ?? (0..<classCount).map { "class \($0)" }
        guard names.count == classCount else {
            throw DataError.invalidDataset(
                name: name, reason: "\(names.count) class names for \(classCount) classes")
        }
        self.name = name
        self.images = images
        self.labels = labels
        self.channels = channels
        self.height = height
        self.width = width
        self.classCount = classCount
        self.classNames = names
    }

    /// Number of images.
    public var count: Int { labels.count }

    /// Bytes per image: `channels * height * width`.
    public var imageSize: Int { channels * height * width }

    /// The pixels of image `index` (CHW).
    public func image(at index: Int) -> ArraySlice<UInt8> {
        images[(index * imageSize)..<((index + 1) * imageSize)]
    }

    /// How many images each class has, indexed by class.
    public func classCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels {
            counts[Int(label)] += 1
        }
        return counts
    }

    /// The images at `indices`, in that order (indices may repeat).
    public func subset(_ indices: [Int], name: String? = nil) throws -> Dataset {
        let size = imageSize
        var pixels = [UInt8](repeating: 0, count: indices.count * size)
        var selectedLabels: [Int32] = []
        selectedLabels.reserveCapacity(indices.count)
        for (position, index) in indices.enumerated() {
            guard index >= 0, index < count else {
                throw DataError.invalidArgument(
                    operation: "Dataset.subset", reason: "index \(index) outside 0..<\(count)")
            }
            pixels.withUnsafeMutableBufferPointer { destination in
                images.withUnsafeBufferPointer { source in
                    (destination.baseAddress! + position * size).update(
                        from: source.baseAddress! + index * size, count: size)
                }
            }
            selectedLabels.append(labels[index])
        }
        return try Dataset(
            name: name ?? self.name, images: pixels, labels: selectedLabels, channels: channels,
            height: height, width: width, classCount: classCount, classNames: classNames)
    }

    /// The first `count` images (all of them when `count` is larger than the data set).
    public func prefix(_ count: Int) throws -> Dataset {
        try subset(Array(0..<min(max(count, 0), self.count)))
    }
}
