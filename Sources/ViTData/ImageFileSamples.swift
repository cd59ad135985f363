import CImageCodecs
import ViTCore

/// The images of an image-folder split, decoded, cropped and normalised as they are batched.
///
/// Training (`training` true) takes each image's RandomResizedCrop and flip from stream
/// `(seed, 3, epoch, sample index)`: a pure function of the sample, so the same seed gives
/// the same crops whatever the batch size, rank count, worker count or device.
public struct ImageFileSamples: SampleSource {
    /// The files and labels.
    public let split: ImageFolderSplit
    /// Crop, resampling and normalisation settings.
    public let preprocessing: ImagePreprocessing
    /// The model's input side (square) and channel count.
    public let size: Int
    public let channels: Int
    /// Whether the random training crop and flip apply (else the evaluation crop).
    public let training: Bool
    /// Whether training mirrors each image with probability 0.5.
    public let horizontalFlip: Bool
    private let normalizer: Normalizer

    /// Samples of `split` prepared as `size x size` images of `channels` (1 or 3) channels.
    public init(
        split: ImageFolderSplit, preprocessing: ImagePreprocessing, size: Int, channels: Int, training: Bool,
        horizontalFlip: Bool = false
    ) throws {
        guard channels == 1 || channels == 3 else {
            throw DataError.invalidArgument(operation: "image folder", reason: "images become 1 or 3 channels, not \(channels)")
        }
        guard size > 0 else { throw DataError.invalidArgument(operation: "image folder", reason: "image size \(size) must be positive") }
        try preprocessing.validate(channels: channels)
        self.split = split
        self.preprocessing = preprocessing
        self.size = size
        self.channels = channels
        self.training = training
        self.horizontalFlip = horizontalFlip
        normalizer = Normalizer(statistics: preprocessing.statistics)
    }

    public var name: String { split.name }
    public var count: Int { split.count }
    public var height: Int { size }
    public var width: Int { size }
    public var classNames: [String] { split.classNames }
    public var normalization: ChannelStatistics { normalizer.statistics }
    public func label(of index: Int) -> Int32 { split.labels[index] }
    public func makeWriter() throws -> SampleWriter { try Writer(source: self) }

    public func displayImage(at index: Int) throws -> [UInt8] {
        let evaluation = try ImageFileSamples(split: split, preprocessing: preprocessing, size: size, channels: channels, training: false)
        let pixels = try evaluation.prepare(index, epoch: 0, seed: 0, decoder: ImageDecoder()).pixels
        let plane = size * size
        return (0..<(channels * plane)).map { pixels[($0 % plane) * channels + $0 / plane] }
    }

    /// Image `index` prepared as `size x size x channels` bytes (HWC) and whether it is to be
    /// mirrored, with `decoder`: what a batch normalises.
    public func prepare(_ index: Int, epoch: Int, seed: UInt64, decoder: ImageDecoder) throws -> (pixels: [UInt8], flip: Bool) {
        let path = split.files[index]
        let bytes = try DataFiles.readAll(path)
        return try bytes.withUnsafeBytes { bytes in
            let header = try decoder.header(of: bytes, path: path)
            var generator = SeededRandomGenerator(seed: seed, stream: 3, UInt64(truncatingIfNeeded: epoch), UInt64(truncatingIfNeeded: index))
            let randomCrop = training && preprocessing.randomResizedCrop
            let crop =
                randomCrop
                ? CropBox.random(
                    width: header.width, height: header.height, scale: preprocessing.cropScale, ratio: preprocessing.cropRatio,
                    using: &generator) : nil
            let flip = training && horizontalFlip && generator.nextBool()
            return (try render(bytes, header: header, crop: crop, path: path, decoder: decoder), flip)
        }
    }

    /// The decoded image `bytes` (with `header`, read from `path`) cut to `crop` and resized to
    /// `size x size` (training), or with `crop` nil resized and center-cropped (evaluation):
    /// `size x size x channels` bytes, HWC.
    public func render(_ bytes: UnsafeRawBufferPointer, header: ImageHeader, crop: CropBox?, path: String, decoder: ImageDecoder) throws
        -> [UInt8]
    {
        let evaluation = ResizeAndCenterCrop(
            width: header.width, height: header.height, shorter: preprocessing.evaluationResize(size: size), size: size)
        let factor = scalingFactor(for: header, crop: crop, evaluation: evaluation)
        let image = try decoder.decode(
            bytes, header: header, path: path, channels: channels, factor: factor, maximumPixels: preprocessing.maximumPixels)
        var output = [UInt8](repeating: 0, count: size * size * channels)
        try output.withUnsafeMutableBufferPointer { output in
            try image.pixels.withUnsafeBufferPointer { pixels in
                let rowBytes = image.width * channels
                if let crop {
                    if factor.numerator == factor.denominator {
                        // Crop, then resize the crop: Pillow's pixels exactly.
                        try resample(
                            pixels.baseAddress! + crop.top * rowBytes + crop.left * channels, width: crop.width, height: crop.height,
                            stride: rowBytes, box: [0, 0, Double(crop.width), Double(crop.height)], outputWidth: size,
                            outputHeight: size, window: (0, 0), into: output.baseAddress!, path: path)
                    } else {
                        // The crop's box in the DCT-scaled image.
                        let scaleX = Double(image.width) / Double(header.width)
                        let scaleY = Double(image.height) / Double(header.height)
                        let box = [
                            Double(crop.left) * scaleX, Double(crop.top) * scaleY, min(Double(crop.left + crop.width) * scaleX, Double(image.width)),
                            min(Double(crop.top + crop.height) * scaleY, Double(image.height)),
                        ]
                        try resample(
                            pixels.baseAddress!, width: image.width, height: image.height, stride: rowBytes, box: box, outputWidth: size,
                            outputHeight: size, window: (0, 0), into: output.baseAddress!, path: path)
                    }
                } else {
                    try resample(
                        pixels.baseAddress!, width: image.width, height: image.height, stride: rowBytes,
                        box: [0, 0, Double(image.width), Double(image.height)], outputWidth: evaluation.resizedWidth,
                        outputHeight: evaluation.resizedHeight, window: (evaluation.left, evaluation.top), into: output.baseAddress!,
                        path: path)
                }
            }
        }
        return output
    }

    /// The smallest DCT scaling factor whose decoded image still has at least `size` pixels
    /// across the crop (or is no smaller than the evaluation resize), 1/1 when scaling is off,
    /// for a PNG, or when the crop is already smaller than the output.
    func scalingFactor(for header: ImageHeader, crop: CropBox?, evaluation: ResizeAndCenterCrop) -> (numerator: Int, denominator: Int) {
        let full = (numerator: 1, denominator: 1)
        guard preprocessing.dctScaling, header.format == .jpeg else { return full }
        var chosen = full
        for factor in ImageDecoder.scalingFactors where factor.numerator * chosen.denominator < chosen.numerator * factor.denominator {
            let (scaledWidth, scaledHeight) = ImageDecoder.scaledSize(of: header, factor: factor)
            let covers: Bool
            if let crop {
                covers =
                    Double(crop.width) * Double(scaledWidth) / Double(header.width) >= Double(size)
                    && Double(crop.height) * Double(scaledHeight) / Double(header.height) >= Double(size)
            } else {
                covers = scaledWidth >= evaluation.resizedWidth && scaledHeight >= evaluation.resizedHeight
            }
            if covers { chosen = factor }
        }
        return chosen
    }

    private func resample(
        _ source: UnsafePointer<UInt8>, width: Int, height: Int, stride: Int, box: [Double], outputWidth: Int, outputHeight: Int,
        window: (x: Int, y: Int), into output: UnsafeMutablePointer<UInt8>, path: String
    ) throws {
        var message = [CChar](repeating: 0, count: 256)
        let status = message.withUnsafeMutableBufferPointer { error in
            vit_resample(
                source, Int32(width), Int32(height), stride, Int32(channels), box, Int32(outputWidth), Int32(outputHeight),
                Int32(window.x), Int32(window.y), Int32(size), Int32(size), preprocessing.interpolation.filter, output,
                error.baseAddress!, error.count)
        }
        guard status == 0 else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw DataError.invalidArgument(operation: "resampling \(path)", reason: text)
        }
    }

    /// HWC bytes `pixels` of a `size x size` image to CHW floats through each channel's
    /// 256-entry `table`, mirrored left-right when `flip`.
    static func normalize(
        _ pixels: [UInt8], flip: Bool, size: Int, channels: Int, table: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>
    ) {
        pixels.withUnsafeBufferPointer { pixels in
            for channel in 0..<channels {
                let lookup = table + channel * 256
                for row in 0..<size {
                    let input = pixels.baseAddress! + row * size * channels + channel
                    let output = destination + (channel * size + row) * size
                    if flip {
                        for column in 0..<size { output[size - 1 - column] = lookup[Int(input[column * channels])] }
                    } else {
                        for column in 0..<size { output[column] = lookup[Int(input[column * channels])] }
                    }
                }
            }
        }
    }

    /// Writes normalised CHW floats for whole batches; one per worker thread.
    private final class Writer: SampleWriter {
        let source: ImageFileSamples
        let decoder: ImageDecoder

        init(source: ImageFileSamples) throws {
            self.source = source
            decoder = try ImageDecoder()
        }

        func write(
            _ samples: [Int], batch: Int, epoch: Int, seed: UInt64, into destination: UnsafeMutablePointer<Float>
        ) throws -> [(position: Int, skipped: SkippedImage)] {
            let size = source.size
            let channels = source.channels
            let plane = size * size
            var skipped: [(position: Int, skipped: SkippedImage)] = []
            try source.normalizer.table.withUnsafeBufferPointer { table in
                for (position, sample) in samples.enumerated() {
                    let prepared: (pixels: [UInt8], flip: Bool)
                    do {
                        prepared = try source.prepare(sample, epoch: epoch, seed: seed, decoder: decoder)
                    } catch let error as DataError where source.preprocessing.skipBadImages {
                        skipped.append((position, SkippedImage(path: source.split.files[sample], reason: error.description)))
                        continue
                    }
                    ImageFileSamples.normalize(
                        prepared.pixels, flip: prepared.flip, size: size, channels: channels, table: table.baseAddress!,
                        into: destination + position * plane * channels)
                }
            }
            return skipped
        }
    }
}
