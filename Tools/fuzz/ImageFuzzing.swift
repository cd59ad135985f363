import Foundation
import ViTCore

@testable import ViTData

/// Decodes `bytes` as an image file named `name` the ways the image-folder pipeline does:
/// the header, a full decode to RGB and to gray, and the train (RandomResizedCrop) and eval
/// renders at 24 px, with DCT scaling. A `DataError` naming the file is the expected answer
/// to a malformed input; a decoded image must have the size its header gave.
func fuzzImage(_ start: UnsafePointer<UInt8>?, _ count: Int, name: String) {
    let bytes = UnsafeRawBufferPointer(start: start, count: start == nil ? 0 : count)
    do {
        let decoder = try ImageDecoder()
        let header = try decoder.header(of: bytes, path: name)
        // Small enough that a header claiming a huge image is refused, not allocated.
        let limit = 1 << 22
        for channels in [1, 3] {
            let image = try decoder.decode(bytes, header: header, path: name, channels: channels, maximumPixels: limit)
            precondition(image.width == header.width && image.height == header.height, "decoded size differs from the header's")
            precondition(image.pixels.count == header.width * header.height * channels, "wrong pixel count")
        }
        let split = ImageFolderSplit(name: "fuzz", folder: ".", files: [name], labels: [0], classNames: ["only"], ignoredFiles: 0)
        var preprocessing = ImagePreprocessing()
        preprocessing.maximumPixels = limit
        for training in [true, false] {
            let samples = try ImageFileSamples(split: split, preprocessing: preprocessing, size: 24, channels: 3, training: training)
            var generator = SeededRandomGenerator(seed: UInt64(count))
            let crop =
                training
                ? CropBox.random(width: header.width, height: header.height, scale: [0.08, 1], ratio: [0.75, 4.0 / 3], using: &generator) : nil
            let pixels = try samples.render(bytes, header: header, crop: crop, path: name, decoder: decoder)
            precondition(pixels.count == 24 * 24 * 3, "wrong output size")
        }
    } catch let error as DataError {
        precondition("\(error)".contains(name), "the error does not name the file: \(error)")
    } catch {
        preconditionFailure("not a DataError: \(error)")
    }
}
