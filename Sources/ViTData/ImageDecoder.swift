import CImageCodecs

/// The image file formats an image folder may hold, told apart by their first bytes (so a
/// PNG named .jpg still decodes, as it does with Pillow).
public enum ImageFormat: String, Sendable {
    case jpeg = "JPEG"
    case png = "PNG"

    /// The format `bytes` start with, or nil.
    static func of(_ bytes: UnsafeRawBufferPointer) -> ImageFormat? {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        if bytes.count >= 8, zip(bytes.prefix(8), signature).allSatisfy({ $0 == $1 }) { return .png }
        return nil
    }
}

/// An image file's size and format, read from its header.
public struct ImageHeader: Sendable, Equatable {
    public let format: ImageFormat
    public let width: Int
    public let height: Int
    /// What the file stores per pixel: 1 (gray), 3 (RGB, palette, with or without alpha) or 4 (CMYK, YCCK).
    public let storedComponents: Int
}

/// Decoded pixels: `height` rows of `width` pixels of `channels` interleaved bytes (HWC).
public struct DecodedImage: Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [UInt8]
}

/// Decodes JPEG and PNG files into RGB or grayscale bytes as Pillow's `convert` gives them.
/// Holds a TurboJPEG decompressor, so each thread that decodes has its own.
///
/// EXIF orientation is ignored, as torchvision's `ImageFolder` (Pillow's `open` and
/// `convert`) ignores it: a rotated photo stays as its pixels are stored.
public final class ImageDecoder {
    private let jpeg: UnsafeMutableRawPointer

    /// The most pixels an image may have before decoding is refused, by default Pillow's
    /// decompression-bomb error threshold (twice its warning limit of 89,478,485 pixels).
    public static let defaultMaximumPixels = 178_956_970

    /// libjpeg-turbo's DCT scaling factors, largest first.
    public static let scalingFactors: [(numerator: Int, denominator: Int)] = (0..<Int(vit_jpeg_scaling_factor_count())).map {
        var numerator: Int32 = 0
        var denominator: Int32 = 0
        vit_jpeg_scaling_factor(Int32($0), &numerator, &denominator)
        return (Int(numerator), Int(denominator))
    }.sorted { $0.numerator * $1.denominator > $1.numerator * $0.denominator }

    /// A decoder; throws when TurboJPEG cannot make a decompressor (out of memory).
    public init() throws {
        guard let handle = vit_jpeg_create() else {
            throw DataError.invalidArgument(operation: "ImageDecoder", reason: "TurboJPEG cannot create a decompressor")
        }
        jpeg = handle
    }

    deinit {
        vit_jpeg_destroy(jpeg)
    }

    /// The format and size of the image `bytes` (read from `path`, named in errors).
    public func header(of bytes: UnsafeRawBufferPointer, path: String) throws -> ImageHeader {
        guard !bytes.isEmpty else { throw DataError.corruptFile(path: path, reason: "the file is empty (0 bytes)") }
        guard let format = ImageFormat.of(bytes) else {
            let start = bytes.prefix(4).map { String($0, radix: 16, uppercase: true) }.joined(separator: " ")
            throw DataError.corruptFile(path: path, reason: "it is not a JPEG or PNG image (it starts with bytes \(start))")
        }
        var header = vit_image_header()
        try Self.call(path: path, format: format) { error, size in
            switch format {
            case .jpeg: return vit_jpeg_header(jpeg, bytes.baseAddress!, bytes.count, &header, error, size)
            case .png: return vit_png_header(bytes.baseAddress!, bytes.count, &header, error, size)
            }
        }
        guard header.width > 0, header.height > 0 else {
            throw DataError.corruptFile(path: path, reason: "its header gives a \(header.width)x\(header.height) image")
        }
        return ImageHeader(format: format, width: Int(header.width), height: Int(header.height), storedComponents: Int(header.colour))
    }

    /// The side lengths of `header`'s image decoded at the DCT scaling factor `factor` (a JPEG
    /// only; a PNG always decodes at full size).
    public static func scaledSize(of header: ImageHeader, factor: (numerator: Int, denominator: Int)) -> (width: Int, height: Int) {
        guard header.format == .jpeg else { return (header.width, header.height) }
        return (
            Int(vit_jpeg_scaled(Int32(header.width), Int32(factor.numerator), Int32(factor.denominator))),
            Int(vit_jpeg_scaled(Int32(header.height), Int32(factor.numerator), Int32(factor.denominator)))
        )
    }

    /// Decodes `bytes` (whose header is `header`) into `channels` (1 or 3) bytes per pixel, a
    /// JPEG at DCT scaling `factor` (1/1: full size), refusing images of more than
    /// `maximumPixels` pixels before any is decoded.
    public func decode(
        _ bytes: UnsafeRawBufferPointer, header: ImageHeader, path: String, channels: Int,
        factor: (numerator: Int, denominator: Int) = (1, 1), maximumPixels: Int = defaultMaximumPixels
    ) throws -> DecodedImage {
        precondition(channels == 1 || channels == 3, "ImageDecoder: 1 or 3 channels")
        let (pixelCount, overflow) = header.width.multipliedReportingOverflow(by: header.height)
        guard !overflow, pixelCount <= maximumPixels else {
            throw DataError.corruptFile(
                path: path,
                reason:
                    "the image is \(header.width)x\(header.height) (\(header.width * header.height) pixels), more than the limit of \(maximumPixels) "
                    + "(a possible decompression bomb; raise --max-image-pixels to read it)")
        }
        let (width, height) = Self.scaledSize(of: header, factor: factor)
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        try pixels.withUnsafeMutableBufferPointer { output in
            switch header.format {
            case .jpeg:
                // CMYK files, and RGB files decoded to gray, pass through a buffer of the stored components.
                let converted = header.storedComponents == 4 || (channels == 1 && header.storedComponents == 3)
                var scratch = [UInt8](repeating: 0, count: converted ? width * height * header.storedComponents : 0)
                try scratch.withUnsafeMutableBufferPointer { scratch in
                    try Self.call(path: path, format: .jpeg) { error, size in
                        vit_jpeg_decode(
                            jpeg, bytes.baseAddress!, bytes.count, Int32(factor.numerator), Int32(factor.denominator), Int32(channels),
                            output.baseAddress!, scratch.baseAddress, error, size)
                    }
                }
            case .png:
                try Self.call(path: path, format: .png) { error, size in
                    vit_png_decode(bytes.baseAddress!, bytes.count, Int32(channels), output.baseAddress!, error, size)
                }
            }
        }
        return DecodedImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Runs a C codec call, turning its failure into `DataError.corruptFile` with its message.
    static func call(path: String, format: ImageFormat, _ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
        var message = [CChar](repeating: 0, count: 256)
        let status = message.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        guard status == 0 else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw DataError.corruptFile(path: path, reason: "\(format.rawValue) decoding failed: \(text)")
        }
    }
}
