import CZlib
import Foundation

/// A PNG file decoded far enough to look at its pixels: 8-bit RGB or RGBA, not interlaced
/// (what gnuplot's pngcairo terminal writes). Anything else is an error, never a guess.
struct PNGImage {
    struct DecodingError: Error, CustomStringConvertible {
        var description: String
    }

    let width: Int
    let height: Int
    /// Each pixel's colour as 0xRRGGBB (alpha dropped).
    let pixels: [UInt32]

    init(contentsOf url: URL) throws {
        let bytes = [UInt8](try Data(contentsOf: url))
        let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
        guard bytes.count > 8, Array(bytes[0..<8]) == signature else { throw DecodingError(description: "\(url.path) has no PNG signature") }
        func integer(at offset: Int) -> Int {
            bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
        }
        var offset = 8
        var header: [UInt8] = []
        var compressed: [UInt8] = []
        while offset + 8 <= bytes.count {
            let length = integer(at: offset)
            let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
            let start = offset + 8
            guard start + length + 4 <= bytes.count else { throw DecodingError(description: "\(url.path): chunk \(type) runs past the file") }
            if type == "IHDR" { header = Array(bytes[start..<start + length]) }
            if type == "IDAT" { compressed += bytes[start..<start + length] }
            offset = start + length + 4
            if type == "IEND" { break }
        }
        guard header.count == 13 else { throw DecodingError(description: "\(url.path) has no IHDR chunk") }
        width = header[0..<4].reduce(0) { $0 << 8 | Int($1) }
        height = header[4..<8].reduce(0) { $0 << 8 | Int($1) }
        let (bitDepth, colourType, interlace) = (header[8], header[9], header[12])
        guard bitDepth == 8, colourType == 2 || colourType == 6, interlace == 0 else {
            throw DecodingError(
                description: "\(url.path): bit depth \(bitDepth), colour type \(colourType), interlace \(interlace) is not decoded here")
        }
        let channels = colourType == 6 ? 4 : 3
        let rowBytes = width * channels
        var raw = [UInt8](repeating: 0, count: height * (rowBytes + 1))
        var rawCount = uLongf(raw.count)
        let status = raw.withUnsafeMutableBufferPointer { output in
            compressed.withUnsafeBufferPointer { input in
                uncompress(output.baseAddress, &rawCount, input.baseAddress, uLong(input.count))
            }
        }
        guard status == Z_OK, rawCount == raw.count else {
            throw DecodingError(description: "\(url.path): the image data does not inflate to \(height) rows (zlib status \(status))")
        }
        pixels = try Self.unfiltered(raw, rowBytes: rowBytes, height: height, channels: channels, source: url.path)
    }

    /// The pixels of inflated scanlines, each undone from its PNG filter (none, sub, up, average, Paeth).
    private static func unfiltered(_ raw: [UInt8], rowBytes: Int, height: Int, channels: Int, source: String) throws -> [UInt32] {
        var previous = [UInt8](repeating: 0, count: rowBytes)
        var pixels: [UInt32] = []
        pixels.reserveCapacity(height * rowBytes / channels)
        for row in 0..<height {
            let start = row * (rowBytes + 1)
            let filter = raw[start]
            var line = Array(raw[start + 1..<start + 1 + rowBytes])
            for index in 0..<rowBytes {
                let left = index >= channels ? Int(line[index - channels]) : 0
                let up = Int(previous[index])
                let upperLeft = index >= channels ? Int(previous[index - channels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = left
                case 2: predictor = up
                case 3: predictor = (left + up) / 2
                case 4:
                    let estimate = left + up - upperLeft
                    let (toLeft, toUp, toUpperLeft) = (abs(estimate - left), abs(estimate - up), abs(estimate - upperLeft))
                    predictor = toLeft <= toUp && toLeft <= toUpperLeft ? left : (toUp <= toUpperLeft ? up : upperLeft)
                default: throw DecodingError(description: "\(source): row \(row) has unknown filter \(filter)")
                }
                line[index] = UInt8((Int(line[index]) + predictor) & 0xff)
            }
            for pixel in stride(from: 0, to: rowBytes, by: channels) {
                pixels.append(UInt32(line[pixel]) << 16 | UInt32(line[pixel + 1]) << 8 | UInt32(line[pixel + 2]))
            }
            previous = line
        }
        return pixels
    }

    /// How many pixels have the colour `hex` ("#RRGGBB").
    func count(ofColour hex: String) -> Int {
        let value = UInt32(hex.dropFirst(), radix: 16)!
        return pixels.reduce(0) { $0 + ($1 == value ? 1 : 0) }
    }
}
