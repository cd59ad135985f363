/// The data sets this module can load, by the names a command line uses.
public enum DatasetKind: String, CaseIterable, Sendable {
    /// Fashion-MNIST, 28x28 grayscale, 10 classes.
    case fashionMNIST = "fashion-mnist"
    /// CIFAR-10, 32x32 RGB, 10 classes.
    case cifar10 = "cifar10"
    /// CIFAR-100, 32x32 RGB, 100 fine classes.
    case cifar100 = "cifar100"

    /// The folder searched when none is given: Fashion-MNIST's Debian package folder, and
    /// `data` (relative to the working directory) for CIFAR.
    public var defaultDirectory: String {
        switch self {
        case .fashionMNIST: return FashionMNIST.defaultDirectory
        case .cifar10, .cifar100: return "data"
        }
    }

    /// Channels per image.
    public var channels: Int { self == .fashionMNIST ? 1 : 3 }
    /// Image side length as stored.
    public var imageSide: Int { self == .fashionMNIST ? FashionMNIST.imageSide : CIFAR.imageSide }
    /// Number of classes.
    public var classCount: Int {
        switch self {
        case .fashionMNIST: return FashionMNIST.classCount
        case .cifar10: return 10
        case .cifar100: return 100
        }
    }

    /// Loads one split from `directory` (default: `defaultDirectory`).
    public func load(split: DatasetSplit, directory: String? = nil) throws -> Dataset {
        switch self {
        case .fashionMNIST:
            return try FashionMNIST.load(split: split, directory: directory)
        case .cifar10:
            return try CIFAR.load(variant: .cifar10, split: split, directory: directory ?? defaultDirectory)
        case .cifar100:
            return try CIFAR.load(variant: .cifar100, split: split, directory: directory ?? defaultDirectory)
        }
    }
}
