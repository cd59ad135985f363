import Foundation
import ViTData
import ViTNN
import ViTSerialization

/// How a model's inputs were prepared, stored in its checkpoint as timm's `pretrained_cfg`
/// is: input size, interpolation, mean and deviation, crop fraction, how smaller images fit,
/// and the class names. `vit eval`, `vit attention-maps` and `vit predict` read it.
public struct InputPreparation: Codable, Sendable, Equatable {
    /// `[channels, height, width]`.
    public var inputSize: [Int]
    /// `bicubic` or `bilinear` (image folders), `bilinear` for resized in-memory images.
    public var interpolation: String
    public var mean: [Double]
    public var standardDeviation: [Double]
    /// timm's crop_pct: the evaluation crop over the resized shorter side (1 for in-memory data).
    public var cropFraction: Double
    /// timm's crop_mode.
    public var cropMode = "center"
    /// How in-memory images smaller than the model's were fitted (`pad` or `resize`).
    public var imageFit: String
    /// The class names, in class-index order.
    public var classNames: [String]

    enum CodingKeys: String, CodingKey {
        case inputSize = "input_size"
        case interpolation
        case mean
        case standardDeviation = "std"
        case cropFraction = "crop_pct"
        case cropMode = "crop_mode"
        case imageFit = "image_fit"
        case classNames = "label_names"
    }

    /// The checkpoint metadata key, timm's name for it.
    public static let metadataKey = "pretrained_cfg"

    /// The preparation a run of `options` gave its model's inputs, normalised by `normalization`.
    public init(options: TrainingOptions, normalization: ChannelStatistics, classNames: [String]) {
        let model = options.model
        inputSize = [model.numChannels, model.imageSize, model.imageSize]
        let images = options.imagePreprocessing ?? ImagePreprocessing(channels: model.numChannels)
        let isFolder = options.dataset == DatasetKind.imageFolder.rawValue
        interpolation = isFolder ? images.interpolation.rawValue : Interpolation.bilinear.rawValue
        mean = normalization.mean.map(Double.init)
        standardDeviation = normalization.standardDeviation.map(Double.init)
        cropFraction = isFolder ? images.cropFraction : 1
        imageFit = model.imageFit.rawValue
        self.classNames = classNames
    }

    /// The image-folder preprocessing that reproduces this preparation for evaluation.
    public var imagePreprocessing: ImagePreprocessing {
        var settings = ImagePreprocessing(channels: inputSize.first ?? 3)
        settings.interpolation = Interpolation(rawValue: interpolation) ?? .bicubic
        settings.mean = mean
        settings.standardDeviation = standardDeviation
        settings.cropFraction = cropFraction
        return settings
    }

    /// The preparation stored in `file`, nil for a checkpoint without one (timm's, or older).
    public static func stored(in file: SafeTensorsFile) throws -> InputPreparation? {
        guard let text = file.metadata[metadataKey] else { return nil }
        do {
            return try JSONDecoder().decode(InputPreparation.self, from: Data(text.utf8))
        } catch {
            throw TrainingError.mismatch("the checkpoint's \(metadataKey) cannot be read: \(error)")
        }
    }
}
