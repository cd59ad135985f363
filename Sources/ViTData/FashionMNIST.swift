/// Loads Fashion-MNIST (Zalando): 28x28 grayscale images of 10 kinds of clothing,
/// 60000 for training and 10000 for testing, from the four gzip-compressed IDX files.
public enum FashionMNIST {
    /// Where the Debian/Ubuntu package `dataset-fashion-mnist` installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    /// The name used in messages and as the prefix of `Dataset.name`.
    public static let name = "fashion-mnist"
    /// Image side length in pixels.
    public static let imageSide = 28
    /// Number of classes.
    public static let classCount = 10
    /// The class names, indexed by label.
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]
    /// What to do when the files are missing.
    public static let installHint =
        "install it with `sudo apt-get install dataset-fashion-mnist` or pass --data-dir <folder> "
        + "pointing at a folder holding the four *-ubyte.gz files"

    /// The image and label file names of a split.
    public static func fileNames(for split: DatasetSplit) -> (images: String, labels: String) {
        switch split {
        case .train: return ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
        case .test: return ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
        }
    }

    /// Loads one split from `directory` (default: `defaultDirectory`). Throws
    /// `DataError.datasetNotFound` with an installation hint when files are missing, and
    /// `DataError.corruptFile` naming the file when one is damaged or the two files disagree.
    public static func load(split: DatasetSplit, directory: String? = nil) throws -> Dataset {
        let folder = directory ?? defaultDirectory
        let files = fileNames(for: split)
        let imagePath = DataFiles.join(folder, files.images)
        let labelPath = DataFiles.join(folder, files.labels)
        let missing = [files.images, files.labels].filter { !DataFiles.isFile(DataFiles.join(folder, $0)) }
        guard missing.isEmpty else {
            let folderHint = DataFiles.isDirectory(folder) ? "" : " (the folder does not exist)"
            throw DataError.datasetNotFound(
                dataset: "Fashion-MNIST \(split.rawValue) split", searched: [folder + folderHint],
                missingFiles: missing, hint: installHint)
        }

        let images = try IDXReader.readImages(path: imagePath)
        let labels = try IDXReader.readLabels(path: labelPath)
        guard images.dimensions[1] == imageSide, images.dimensions[2] == imageSide else {
            throw DataError.corruptFile(
                path: imagePath,
                reason: "images are \(images.dimensions[1])x\(images.dimensions[2]), expected 28x28")
        }
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DataError.corruptFile(
                path: labelPath,
                reason: "\(labels.dimensions[0]) labels but \(imagePath) holds \(images.dimensions[0]) images")
        }
        if let bad = labels.bytes.firstIndex(where: { Int($0) >= classCount }) {
            throw DataError.corruptFile(
                path: labelPath, reason: "label \(labels.bytes[bad]) at index \(bad) is outside 0..<\(classCount)")
        }
        return try Dataset(
            name: "\(name)/\(split.rawValue)", images: images.bytes, labels: labels.bytes.map { Int32($0) },
            channels: 1, height: imageSide, width: imageSide, classCount: classCount, classNames: classNames)
    }
}
