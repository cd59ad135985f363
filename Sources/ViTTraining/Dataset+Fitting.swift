import ViTData
import ViTNN

extension Dataset {
    /// The images at the model's `image_size` (square), padded or resized as its `image_fit`
    /// says; the same preparation for training and for evaluation.
    public func fitted(to configuration: ViTConfiguration) throws -> Dataset {
        let side = configuration.imageSize
        switch configuration.imageFit {
        case .pad: return try padded(toHeight: side, width: side)
        case .resize: return try resized(toHeight: side, width: side)
        }
    }
}
