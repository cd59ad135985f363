import Foundation
import ViTCore

/// Writes a small image folder (train/ and val/, one folder per class) of JPEG and PNG files
/// in several sizes and colour types, with the encoders the decoder is checked against: the
/// tests build one at run time instead of storing image files.
///
/// Class c's images are a smooth pattern whose colour and stripe direction depend on c, so a
/// model can tell the classes apart; each file's size, format and colour type cycle through
/// `variants`.
public enum SyntheticImageFolder {
    /// One file's format and colour type.
    public enum Variant: CaseIterable, Sendable {
        case rgbJPEG
        case grayJPEG
        case cmykJPEG
        case rgbPNG
        case rgbaPNG
        case grayPNG
        case palettePNG
        case wideRGBPNG

        var fileExtension: String {
            switch self {
            case .rgbJPEG, .cmykJPEG: return "jpg"
            case .grayJPEG: return "JPEG"
            case .rgbPNG, .rgbaPNG, .grayPNG, .palettePNG, .wideRGBPNG: return "png"
            }
        }
    }

    /// Writes `classes` class folders with `trainPerClass` and `validationPerClass` images
    /// each under `root`, plus one file without an image extension in each training class
    /// (which a scan ignores). Sizes vary between 40 and 71 pixels a side.
    public static func write(
        to root: String, classes: Int, trainPerClass: Int, validationPerClass: Int, seed: UInt64 = 0
    ) throws {
        var generator = SeededRandomGenerator(seed: seed)
        for (split, count) in [("train", trainPerClass), ("val", validationPerClass)] {
            for label in 0..<classes {
                let folder = "\(root)/\(split)/class_\(label)"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                if split == "train" { try Data("not an image".utf8).write(to: URL(fileURLWithPath: "\(folder)/notes.txt")) }
                for index in 0..<count {
                    let variant = Variant.allCases[(index + label) % Variant.allCases.count]
                    let width = 40 + generator.next(below: 32)
                    let height = 40 + generator.next(below: 32)
                    let bytes = try encode(variant, width: width, height: height, label: label, generator: &generator)
                    try Data(bytes).write(to: URL(fileURLWithPath: "\(folder)/image_\(index).\(variant.fileExtension)"))
                }
            }
        }
    }

    /// The RGB pattern of class `label`: stripes across or down the image in a class colour, with noise.
    static func pattern(width: Int, height: Int, label: Int, generator: inout SeededRandomGenerator) -> [UInt8] {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let hue = Double(label) * 2.4
        for row in 0..<height {
            for column in 0..<width {
                let position = label % 2 == 0 ? Double(column) : Double(row)
                let stripe = 0.5 + 0.5 * sin(position / 3 + Double(label))
                for channel in 0..<3 {
                    let tint = 0.5 + 0.5 * cos(hue + Double(channel) * 2.1)
                    let value = 255 * (0.2 + 0.6 * stripe * tint) + Double(generator.next(below: 21)) - 10
                    pixels[(row * width + column) * 3 + channel] = UInt8(max(0, min(255, value)))
                }
            }
        }
        return pixels
    }

    static func encode(
        _ variant: Variant, width: Int, height: Int, label: Int, generator: inout SeededRandomGenerator
    ) throws -> [UInt8] {
        let rgb = pattern(width: width, height: height, label: label, generator: &generator)
        let gray = perPixel(rgb) { red, green, blue in [luma(red, green, blue)] }
        switch variant {
        case .rgbJPEG:
            return try ImageEncoder.jpeg(rgb, width: width, height: height, components: 3)
        case .grayJPEG:
            return try ImageEncoder.jpeg(gray, width: width, height: height, components: 1)
        case .cmykJPEG:
            // Adobe's inverted CMYK of the pattern, as Photoshop and Pillow write it.
            let cmyk = perPixel(rgb) { red, green, blue in [red, green, blue, 255] }
            return try ImageEncoder.jpeg(cmyk, width: width, height: height, components: 4)
        case .rgbPNG:
            return try ImageEncoder.png(rgb, width: width, height: height, colour: .rgb)
        case .rgbaPNG:
            let rgba = perPixel(rgb) { red, green, blue in [red, green, blue, red ^ blue] }
            return try ImageEncoder.png(rgba, width: width, height: height, colour: .rgba)
        case .grayPNG:
            return try ImageEncoder.png(gray, width: width, height: height, colour: .gray)
        case .palettePNG:
            // Eight levels per channel of red and green, blue fixed: 64 colours.
            var palette: [UInt8] = []
            for index in 0..<64 { palette += [UInt8(index % 8 * 36), UInt8(index / 8 * 36), 128] }
            let indices = perPixel(rgb) { red, green, _ in [red / 32 + green / 32 * 8] }
            return try ImageEncoder.png(indices, width: width, height: height, colour: .palette, palette: palette)
        case .wideRGBPNG:
            let wide = rgb.flatMap { value -> [UInt8] in [value, value &* 7] }
            return try ImageEncoder.png(wide, width: width, height: height, colour: .rgb, bitDepth: 16)
        }
    }

    /// Pillow's luma of an RGB pixel, (299 R + 587 G + 114 B) / 1000 in its 16-bit fixed point.
    static func luma(_ red: UInt8, _ green: UInt8, _ blue: UInt8) -> UInt8 {
        let weighted = Int(red) * 19595 + Int(green) * 38470 + Int(blue) * 7471
        return UInt8((weighted + 0x8000) >> 16)
    }

    /// `transform` of each RGB pixel of `rgb`, concatenated.
    static func perPixel(_ rgb: [UInt8], _ transform: (UInt8, UInt8, UInt8) -> [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(rgb.count)
        for index in stride(from: 0, to: rgb.count, by: 3) { output += transform(rgb[index], rgb[index + 1], rgb[index + 2]) }
        return output
    }
}
