import ViTData
import ViTNN

extension ViTConfiguration {
    /// The model `vit train` builds without `--config`: the seed architecture (32 px, patch 4,
    /// hidden 48, depth 4, 4 heads, MLP 192) for the data set's channels and classes, with
    /// mimetic initialisation of the attention and smaller images resized rather than padded.
    /// Both changes cost nothing per step and gained 0.4-0.8 points of test top-1 on
    /// Fashion-MNIST over timm initialisation with zero padding (BENCHMARKS.md). A config file
    /// starts instead from `ViTConfiguration()`, the seed project's exact defaults.
    /// `classCount` overrides the data set's (an image folder's is its class folders' count).
    public static func trainingDefault(for dataset: DatasetKind, classCount: Int? = nil) -> ViTConfiguration {
        var configuration = ViTConfiguration()
        configuration.numChannels = dataset.channels
        configuration.numClasses = classCount ?? dataset.classCount ?? configuration.numClasses
        configuration.weightInit = .mimetic
        configuration.imageFit = .resize
        return configuration
    }
}
