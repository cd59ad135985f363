import CImageCodecs

/// Writes JPEG and PNG files with the libraries the decoder reads them with: the tests build
/// image folders at run time with it (several sizes and colour types) instead of storing them.
public enum ImageEncoder {
    /// PNG colour types, as libpng numbers them.
    public enum PNGColour: Int32, Sendable {
        case gray = 0
        case rgb = 2
        case palette = 3
        case grayAlpha = 4
        case rgba = 6

        /// Samples per pixel.
        public var samplesPerPixel: Int {
            switch self {
            case .gray, .palette: return 1
            case .grayAlpha: return 2
            case .rgb: return 3
            case .rgba: return 4
            }
        }
    }

    /// A JPEG of `pixels` (`components` bytes per pixel: 1 gray, 3 RGB, 4 CMYK, which
    /// TurboJPEG stores as YCCK) at `quality`, chroma subsampled 4:4:4 (0), 4:2:2 (1) or 4:2:0 (2).
    public static func jpeg(
        _ pixels: [UInt8], width: Int, height: Int, components: Int, quality: Int = 90, subsampling: Int = 2
    ) throws -> [UInt8] {
        precondition(pixels.count == width * height * components, "ImageEncoder.jpeg: pixel count")
        return try encoded("JPEG") { output, size, error, errorSize in
            vit_jpeg_encode(
                pixels, Int32(width), Int32(height), Int32(components), Int32(quality), Int32(subsampling), output, size, error,
                errorSize)
        }
    }

    /// A PNG of colour type `colour` at `bitDepth` 8 or 16 (big-endian sample pairs), from
    /// `samples`; a palette image's samples are indices into `palette` (RGB triples).
    public static func png(
        _ samples: [UInt8], width: Int, height: Int, colour: PNGColour, bitDepth: Int = 8, palette: [UInt8] = []
    ) throws -> [UInt8] {
        precondition(samples.count == width * height * colour.samplesPerPixel * bitDepth / 8, "ImageEncoder.png: sample count")
        return try encoded("PNG") { output, size, error, errorSize in
            vit_png_encode(
                samples, Int32(width), Int32(height), colour.rawValue, Int32(bitDepth), palette, Int32(palette.count / 3), output,
                size, error, errorSize)
        }
    }

    private static func encoded(
        _ format: String,
        _ body: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>, UnsafeMutablePointer<CChar>, Int) -> Int32
    ) throws -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = message.withUnsafeMutableBufferPointer { body(&output, &size, $0.baseAddress!, $0.count) }
        defer { vit_codec_free(output) }
        guard status == 0, let output else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw DataError.invalidArgument(operation: "ImageEncoder", reason: "\(format) encoding failed: \(text)")
        }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }
}
