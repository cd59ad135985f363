import CImageCodecs
import Foundation
import ViTCore

/// Pillow's resampling filters that torchvision's `InterpolationMode` names.
public enum Interpolation: String, Codable, CaseIterable, Sendable {
    case bilinear
    case bicubic

    var filter: Int32 {
        switch self {
        case .bilinear: return Int32(VIT_FILTER_BILINEAR.rawValue)
        case .bicubic: return Int32(VIT_FILTER_BICUBIC.rawValue)
        }
    }
}

/// How image files become a model's inputs, as timm's transforms (and `pretrained_cfg`) say:
/// training takes `RandomResizedCrop(size, scale, ratio, interpolation)` (or, with
/// `randomResizedCrop` off, the evaluation crop) and a random horizontal flip; evaluation
/// resizes the shorter side to `floor(size / cropFraction)` and takes the central
/// `size x size`; both then normalise by `mean` and `standardDeviation`.
public struct ImagePreprocessing: Codable, Sendable, Equatable {
    /// Resampling filter (antialiased when reducing, as Pillow's `resize`).
    public var interpolation = Interpolation.bicubic
    /// RandomResizedCrop's range of the crop's area over the image's.
    public var cropScale: [Double] = [0.08, 1]
    /// RandomResizedCrop's range of the crop's aspect ratio (width over height).
    public var cropRatio: [Double] = [3.0 / 4.0, 4.0 / 3.0]
    /// timm's crop_pct: the evaluation crop's side over the resized shorter side.
    public var cropFraction = 0.875
    /// Per-channel mean subtracted after scaling pixels to [0, 1] (ImageNet's for RGB).
    public var mean: [Double] = ImagePreprocessing.imageNetMean
    /// Per-channel deviation divided by after the mean (ImageNet's for RGB).
    public var standardDeviation: [Double] = ImagePreprocessing.imageNetStandardDeviation
    /// Whether training crops at random (RandomResizedCrop); off, it takes the evaluation crop.
    public var randomResizedCrop = true
    /// Whether JPEGs decode at the smallest DCT scaling factor whose image still covers the
    /// crop at the output size (libjpeg-turbo; much faster for large photos, and close to,
    /// not exactly, torchvision's pixels: BENCHMARKS.md states the difference).
    public var dctScaling = true
    /// Images with more pixels are refused before decoding (decompression bombs).
    public var maximumPixels = ImageDecoder.defaultMaximumPixels
    /// Whether an image that cannot be decoded is left out of its batch (and counted) rather
    /// than stopping the run with an error naming it.
    public var skipBadImages = false

    /// ImageNet's channel means and deviations, timm's IMAGENET_DEFAULT_MEAN and _STD.
    public static let imageNetMean = [0.485, 0.456, 0.406]
    public static let imageNetStandardDeviation = [0.229, 0.224, 0.225]

    public init() {}

    /// The defaults for `channels` channels: ImageNet's statistics for RGB, their averages for gray.
    public init(channels: Int) {
        if channels == 1 {
            mean = [Self.imageNetMean.reduce(0, +) / 3]
            standardDeviation = [Self.imageNetStandardDeviation.reduce(0, +) / 3]
        }
    }

    enum CodingKeys: String, CodingKey {
        case interpolation
        case cropScale = "crop_scale"
        case cropRatio = "crop_ratio"
        case cropFraction = "crop_pct"
        case mean
        case standardDeviation = "std"
        case randomResizedCrop = "random_resized_crop"
        case dctScaling = "dct_scaling"
        case maximumPixels = "max_image_pixels"
        case skipBadImages = "skip_bad_images"
    }

    /// The most pixels `--max-image-pixels` may allow (a 2^16 x 2^16 image, JPEG's largest).
    public static let largestPixelLimit = 1 << 32

    /// Checks every field for a model of `channels` channels; errors name the flag, its value
    /// and what is allowed.
    public func validate(channels: Int) throws {
        func fail(_ detail: String) -> DataError { .invalidArgument(operation: "image preprocessing", reason: detail) }
        guard cropScale.count == 2, cropScale.allSatisfy({ $0.isFinite }), cropScale[0] > 0, cropScale[0] <= cropScale[1], cropScale[1] <= 1
        else {
            throw fail("--crop-scale must be two numbers MIN,MAX with 0 < MIN <= MAX <= 1, got \(cropScale)")
        }
        guard cropRatio.count == 2, cropRatio.allSatisfy({ $0.isFinite && $0 > 0 }), cropRatio[0] <= cropRatio[1] else {
            throw fail("--crop-ratio must be two positive numbers MIN,MAX with MIN <= MAX, got \(cropRatio)")
        }
        guard cropFraction.isFinite, cropFraction > 0, cropFraction <= 1 else {
            throw fail("--crop-pct must be in (0, 1], got \(cropFraction)")
        }
        guard mean.count == channels, mean.allSatisfy({ $0.isFinite }) else {
            throw fail("--mean must have \(channels) finite value(s), one per channel of the model, got \(mean)")
        }
        guard standardDeviation.count == channels, standardDeviation.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw fail("--std must have \(channels) positive value(s), one per channel of the model, got \(standardDeviation)")
        }
        guard (1...Self.largestPixelLimit).contains(maximumPixels) else {
            throw fail("--max-image-pixels must be in 1...\(Self.largestPixelLimit), got \(maximumPixels)")
        }
    }

    /// The side the evaluation resize gives the shorter side: timm's `floor(size / crop_pct)`.
    public func evaluationResize(size: Int) -> Int {
        Int((Double(size) / cropFraction).rounded(.down))
    }

    /// The normalisation as channel statistics (for the 256-entry tables of `Normalizer`).
    public var statistics: ChannelStatistics {
        ChannelStatistics(mean: mean.map { Float($0) }, standardDeviation: standardDeviation.map { Float($0) })
    }
}

/// A region of an image in pixels: `width x height` from column `left`, row `top`.
public struct CropBox: Equatable, Sendable {
    public var top: Int
    public var left: Int
    public var height: Int
    public var width: Int

    public init(top: Int, left: Int, height: Int, width: Int) {
        self.top = top
        self.left = left
        self.height = height
        self.width = width
    }

    /// torchvision's `RandomResizedCrop.get_params`: up to ten draws of an area fraction in
    /// `scale` and a log-uniform aspect ratio in `ratio`, the first that fits placed
    /// uniformly; else the central crop of the image clamped to the ratio range.
    public static func random(
        width: Int, height: Int, scale: [Double], ratio: [Double], using generator: inout SeededRandomGenerator
    ) -> CropBox {
        let area = Double(width * height)
        let logRatio = (log(ratio[0]), log(ratio[1]))
        for _ in 0..<10 {
            let targetArea = area * (scale[0] + (scale[1] - scale[0]) * generator.nextUnitDouble())
            let aspectRatio = exp(logRatio.0 + (logRatio.1 - logRatio.0) * generator.nextUnitDouble())
            // Python's round: half to even.
            let cropWidth = Int((targetArea * aspectRatio).squareRoot().rounded(.toNearestOrEven))
            let cropHeight = Int((targetArea / aspectRatio).squareRoot().rounded(.toNearestOrEven))
            if cropWidth > 0, cropWidth <= width, cropHeight > 0, cropHeight <= height {
                let top = generator.next(below: height - cropHeight + 1)
                let left = generator.next(below: width - cropWidth + 1)
                return CropBox(top: top, left: left, height: cropHeight, width: cropWidth)
            }
        }
        let inputRatio = Double(width) / Double(height)
        var cropWidth = width
        var cropHeight = height
        if inputRatio < ratio[0] {
            cropHeight = Int((Double(width) / ratio[0]).rounded(.toNearestOrEven))
        } else if inputRatio > ratio[1] {
            cropWidth = Int((Double(height) * ratio[1]).rounded(.toNearestOrEven))
        }
        return CropBox(top: (height - cropHeight) / 2, left: (width - cropWidth) / 2, height: cropHeight, width: cropWidth)
    }
}

/// The evaluation geometry: torchvision's `Resize(shorter)` (the longer side
/// `int(shorter * long / short)`) followed by `CenterCrop(size)`, whose offsets are
/// `int(round((resized - size) / 2))`.
public struct ResizeAndCenterCrop: Equatable, Sendable {
    /// The resized image's size.
    public let resizedWidth: Int
    public let resizedHeight: Int
    /// The crop's corner in the resized image.
    public let left: Int
    public let top: Int

    public init(width: Int, height: Int, shorter: Int, size: Int) {
        if width <= height {
            resizedWidth = shorter
            resizedHeight = Int(Double(shorter) * Double(height) / Double(width))
        } else {
            resizedHeight = shorter
            resizedWidth = Int(Double(shorter) * Double(width) / Double(height))
        }
        // A crop larger than the image is padded by torchvision; here the resize is never
        // smaller than the crop (crop_pct <= 1), so the offsets are never negative.
        left = Int((Double(resizedWidth - size) / 2).rounded(.toNearestOrEven))
        top = Int((Double(resizedHeight - size) / 2).rounded(.toNearestOrEven))
    }
}

extension SeededRandomGenerator {
    /// A uniform double in [0, 1) from the top 53 bits of the next number (torch's
    /// `uniform_` draws in [from, to) as from + (to - from) * U).
    mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * 0x1p-53
    }
}
