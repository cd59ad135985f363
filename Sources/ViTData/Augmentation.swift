import ViTCore

/// Training-time augmentation: a random crop of a zero-padded image and a random
/// horizontal flip, with the semantics of torchvision / timm
/// `RandomCrop(size, padding: cropPadding)` followed by `RandomHorizontalFlip(p: 0.5)`.
///
/// The crop pads `cropPadding` zero pixels on every side and cuts an image of the original
/// size at a uniformly random position (each offset in `0...2 * cropPadding`). The padding
/// is the raw pixel value 0, so after normalisation it holds the normalised value of 0.
public struct Augmentation: Equatable, Sendable {
    /// Zero pixels added on each side before cropping back; 0 turns the random crop off.
    public var cropPadding: Int
    /// Whether to mirror each image left-right with probability 0.5.
    public var horizontalFlip: Bool

    /// An augmentation with the given crop padding and flip setting.
    public init(cropPadding: Int = 0, horizontalFlip: Bool = false) {
        precondition(cropPadding >= 0, "Augmentation: crop padding must not be negative")
        self.cropPadding = cropPadding
        self.horizontalFlip = horizontalFlip
    }

    /// No augmentation (evaluation).
    public static let none = Augmentation()

    /// The usual CIFAR recipe: crop with 4 pixels of padding and random flips.
    public static let standard = Augmentation(cropPadding: 4, horizontalFlip: true)

    /// Whether every draw is the identity.
    public var isIdentity: Bool { cropPadding == 0 && !horizontalFlip }

    /// Draws the parameters for one image: first the crop offsets (rows, then columns),
    /// then the flip, consuming nothing for a disabled step.
    @inline(__always)
    public func draw(using generator: inout SeededRandomGenerator) -> AugmentationParameters {
        var parameters = AugmentationParameters.identity
        if cropPadding > 0 {
            let span = 2 * cropPadding + 1
            parameters.shiftY = generator.next(below: span) - cropPadding
            parameters.shiftX = generator.next(below: span) - cropPadding
        }
        if horizontalFlip {
            parameters.flip = generator.nextBool()
        }
        return parameters
    }
}

/// The random choices for one image. The output pixel at row `y`, column `x` is the input
/// pixel at row `y + shiftY`, column `x + shiftX` (or zero where that is outside the image),
/// mirrored left-right afterwards when `flip` is set. A crop at offset `(i, j)` of the
/// image padded by `P` is `shiftY = i - P`, `shiftX = j - P`.
public struct AugmentationParameters: Equatable, Sendable {
    /// Source row minus destination row.
    public var shiftY: Int
    /// Source column minus destination column (before the flip).
    public var shiftX: Int
    /// Whether the cropped image is mirrored left-right.
    public var flip: Bool

    /// Parameters with the given shifts and flip.
    public init(shiftY: Int, shiftX: Int, flip: Bool) {
        self.shiftY = shiftY
        self.shiftX = shiftX
        self.flip = flip
    }

    /// No shift, no flip.
    public static let identity = AugmentationParameters(shiftY: 0, shiftX: 0, flip: false)
}
