/// Which part of a data set to load.
public enum DatasetSplit: String, CaseIterable, Sendable {
    /// The training images (Fashion-MNIST: 60000, CIFAR: 50000).
    case train
    /// The held-out test images (10000 for Fashion-MNIST and CIFAR).
    case test
}
