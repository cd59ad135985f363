/// Applies `AugmentationParameters` to CHW images: shift (crop of the zero-padded image)
/// and mirror, fused with the byte-to-float normalisation so each output pixel is written
/// once. Works row by row on raw pointers; nothing is allocated per pixel or per image.
public enum ImageAugmenter {
    /// Writes image `source` (CHW bytes) shifted and flipped by `parameters` and normalised
    /// by `normalizer` into `destination` (CHW floats, same size). Pixels that come from
    /// outside the image get the normalised value of pixel 0.
    public static func write(
        image source: UnsafePointer<UInt8>,
        channels: Int,
        height: Int,
        width: Int,
        parameters: AugmentationParameters,
        normalizer: Normalizer,
        into destination: UnsafeMutablePointer<Float>
    ) {
        precondition(normalizer.channels == channels, "ImageAugmenter: normaliser has \(normalizer.channels) channels, image \(channels)")
        normalizer.table.withUnsafeBufferPointer { table in
            transform(
                source: source, destination: destination, table: table.baseAddress!, channels: channels,
                height: height, width: width, parameters: parameters)
        }
    }

    /// The image shifted and flipped by `parameters`, as bytes, with 0 where the shifted
    /// image leaves the original (for inspection and tests).
    public static func apply(
        _ parameters: AugmentationParameters, to image: [UInt8], channels: Int, height: Int, width: Int
    ) -> [UInt8] {
        precondition(image.count == channels * height * width, "ImageAugmenter.apply: image size does not match its shape")
        let identity = [UInt8]((0..<(channels * 256)).map { UInt8(truncatingIfNeeded: $0) })
        var output = [UInt8](repeating: 0, count: image.count)
        output.withUnsafeMutableBufferPointer { destination in
            image.withUnsafeBufferPointer { source in
                identity.withUnsafeBufferPointer { table in
                    transform(
                        source: source.baseAddress!, destination: destination.baseAddress!,
                        table: table.baseAddress!, channels: channels, height: height, width: width,
                        parameters: parameters)
                }
            }
        }
        return output
    }

    /// The shared loop: `table[c * 256 + p]` is the output for byte `p` in channel `c`, and
    /// `table[c * 256]` fills the border.
    @inline(__always)
    static func transform<Element>(
        source: UnsafePointer<UInt8>,
        destination: UnsafeMutablePointer<Element>,
        table: UnsafePointer<Element>,
        channels: Int,
        height: Int,
        width: Int,
        parameters: AugmentationParameters
    ) {
        let shiftX = parameters.shiftX
        // Destination columns [first, last) read inside the source row; the rest is border.
        let first: Int
        var last: Int
        if parameters.flip {
            // destination x reads source column width - 1 - x + shiftX
            first = min(width, max(0, shiftX))
            last = min(width, width + shiftX)
        } else {
            // destination x reads source column x + shiftX
            first = min(width, max(0, -shiftX))
            last = min(width, width - shiftX)
        }
        last = max(last, first)
        let mirrorBase = width - 1 + shiftX

        for channel in 0..<channels {
            let lookup = table + channel * 256
            let border = lookup[0]
            for row in 0..<height {
                let output = destination + (channel * height + row) * width
                let sourceRowIndex = row + parameters.shiftY
                guard sourceRowIndex >= 0, sourceRowIndex < height else {
                    output.update(repeating: border, count: width)
                    continue
                }
                let input = source + (channel * height + sourceRowIndex) * width
                if first > 0 {
                    output.update(repeating: border, count: first)
                }
                if parameters.flip {
                    var column = first
                    while column < last {
                        output[column] = lookup[Int(input[mirrorBase - column])]
                        column += 1
                    }
                } else {
                    var column = first
                    while column < last {
                        output[column] = lookup[Int(input[column + shiftX])]
                        column += 1
                    }
                }
                if last < width {
                    (output + last).update(repeating: border, count: width - last)
                }
            }
        }
    }
}
