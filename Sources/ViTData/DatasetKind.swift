/// The data sets this module can load, by the names a command line uses.
public enum DatasetKind: String, CaseIterable, Sendable {
    /// Fashion-MNIST, 28x28 grayscale, 10 classes.
    case fashionMNIST = "fashion-mnist"
    /// CIFAR-10, 32x32 RGB, 10 classes.
    case cifar10 = "cifar10"
    /// CIFAR-100, 32x32 RGB, 100 fine classes.
    case cifar100 = "cifar100"
    /// A folder of JPEG and PNG files, one subfolder per class (torchvision's ImageFolder),
    /// decoded as it is batched; see `ImageFolder`.
    case imageFolder = "imagefolder"

    /// The folder searched when none is given: Fashion-MNIST's Debian package folder, and
    /// `data` (relative to the working directory) for CIFAR.
    public var defaultDirectory: String {
        switch self {
        case .fashionMNIST: return FashionMNIST.defaultDirectory
        case .cifar10, .cifar100, .imageFolder: return "data"
        }
    }

    /// Channels per image (an image folder's are converted to RGB).
    public var channels: Int { self == .fashionMNIST ? 1 : 3 }
    /// Number of classes; nil for an image folder, whose class folders say.
    public var classCount: Int? {
        switch self {
        case .fashionMNIST: return FashionMNIST.classCount
        case .cifar10: return 10
        case .cifar100: return 100
        case .imageFolder: return nil
        }
    }

    /// The number of classes of the data set in `directory`: an image folder's training class folders.
    public func classCount(directory: String?) throws -> Int {
        try classCount ?? ImageFolder.classNames(root: directory ?? defaultDirectory).count
    }

    /// Loads one split from `directory` (default: `defaultDirectory`) into memory; an image
    /// folder is not loaded but listed, with `ImageFolder.scan`.
    public func load(split: DatasetSplit, directory: String? = nil) throws -> Dataset {
        switch self {
        case .imageFolder:
            throw DataError.invalidArgument(
                operation: "imagefolder", reason: "an image folder is read file by file as it is batched (ImageFolder.scan), not loaded")
        case .fashionMNIST:
            return try FashionMNIST.load(split: split, directory: directory)
        case .cifar10:
            return try CIFAR.load(variant: .cifar10, split: split, directory: directory ?? defaultDirectory)
        case .cifar100:
            return try CIFAR.load(variant: .cifar100, split: split, directory: directory ?? defaultDirectory)
        }
    }
}
