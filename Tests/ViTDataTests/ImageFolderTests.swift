import Foundation
import ViTCore
import XCTest

@testable import ViTData

/// Image folders: the scan's torchvision semantics, decoding of every colour type, the
/// crop geometry, determinism over workers and shards, and every bad input's error.
final class ImageFolderTests: XCTestCase {
    private func makeFolder(classes: Int = 3, train: Int = 8, validation: Int = 3) throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        try SyntheticImageFolder.write(to: folder.path, classes: classes, trainPerClass: train, validationPerClass: validation)
        return folder
    }

    private func samples(_ split: ImageFolderSplit, training: Bool, size: Int = 16, skipBad: Bool = false, maximumPixels: Int? = nil) throws
        -> ImageFileSamples
    {
        var preprocessing = ImagePreprocessing()
        preprocessing.skipBadImages = skipBad
        if let maximumPixels { preprocessing.maximumPixels = maximumPixels }
        return try ImageFileSamples(split: split, preprocessing: preprocessing, size: size, channels: 3, training: training, horizontalFlip: true)
    }

    func testScanFollowsTorchvisionOrderAndCountsIgnoredFiles() throws {
        let folder = try makeFolder()
        // A nested folder and a symbolic link to a file are samples too; names sort by code point.
        try Data(try ImageEncoder.png([1, 2, 3], width: 1, height: 1, colour: .rgb)).write(
            to: URL(fileURLWithPath: folder.file("train/class_1/Zsub/inner.PNG")))
        try FileManager.default.createSymbolicLink(
            atPath: folder.path + "/train/class_2/linked.jpg", withDestinationPath: folder.path + "/train/class_0/image_0.jpg")
        let train = try ImageFolder.scan(root: folder.path, split: .train)
        XCTAssertEqual(train.classNames, ["class_0", "class_1", "class_2"])
        XCTAssertEqual(train.count, 3 * 8 + 2)
        XCTAssertEqual(train.ignoredFiles, 3, "one notes.txt per class")
        let classOne = train.files.enumerated().filter { train.labels[$0.offset] == 1 }.map { ($0.element as NSString).lastPathComponent }
        // os.walk order sorted by folder: class_1's own files (sorted), then class_1/Zsub's.
        XCTAssertEqual(classOne.last, "inner.PNG")
        XCTAssertEqual(classOne.dropLast(), classOne.dropLast().sorted { ImageFolder.codePointOrder($0, $1) })
        XCTAssertTrue(train.files.contains { $0.hasSuffix("class_2/linked.jpg") })
        let validation = try ImageFolder.scan(root: folder.path, split: .test)
        XCTAssertTrue(validation.folder.hasSuffix("/val"))
        XCTAssertEqual(validation.count, 9)
        // validation/ is accepted when there is no val/.
        try FileManager.default.moveItem(atPath: folder.path + "/val", toPath: folder.path + "/validation")
        XCTAssertTrue(try ImageFolder.scan(root: folder.path, split: .test).folder.hasSuffix("/validation"))
        XCTAssertTrue(ImageFolder.codePointOrder("B", "a"), "upper case sorts before lower case, as in Python")
    }

    func testEveryColourTypeDecodesToItsPixels() throws {
        let decoder = try ImageDecoder()
        var generator = SeededRandomGenerator(seed: 5)
        for variant in SyntheticImageFolder.Variant.allCases {
            // encode draws the pattern first, so a copy of the generator draws the same one.
            var copy = generator
            let rgb = SyntheticImageFolder.pattern(width: 23, height: 17, label: 1, generator: &copy)
            let bytes = try SyntheticImageFolder.encode(variant, width: 23, height: 17, label: 1, generator: &generator)
            let image = try bytes.withUnsafeBytes { bytes in
                let header = try decoder.header(of: bytes, path: "\(variant)")
                XCTAssertEqual([header.width, header.height], [23, 17], "\(variant)")
                return try decoder.decode(bytes, header: header, path: "\(variant)", channels: 3)
            }
            let gray = SyntheticImageFolder.perPixel(rgb) { red, green, blue in
                let value = SyntheticImageFolder.luma(red, green, blue)
                return [value, value, value]
            }
            let palette = SyntheticImageFolder.perPixel(rgb) { red, green, _ in [red / 32 * 36, green / 32 * 36, 128] }
            func meanError(_ reference: [UInt8]) -> Double {
                zip(image.pixels, reference).map { abs(Double($0) - Double($1)) }.reduce(0, +) / Double(reference.count)
            }
            switch variant {
            case .rgbPNG, .rgbaPNG, .wideRGBPNG:
                XCTAssertEqual(image.pixels, rgb, "\(variant): alpha dropped, 16 bits cut to the high byte")
            case .grayPNG:
                XCTAssertEqual(image.pixels, gray, "gray repeated in R, G and B")
            case .palettePNG:
                XCTAssertEqual(image.pixels, palette, "palette entries")
            case .rgbJPEG, .cmykJPEG:
                // Quality 90 with 4:2:0 chroma on a noisy pattern: a few levels off on average.
                XCTAssertLessThan(meanError(rgb), 8, "\(variant)")
            case .grayJPEG:
                XCTAssertLessThan(meanError(gray), 4, "\(variant)")
            }
        }
    }

    func testSixteenBitGrayClipsAndPaletteTransparencyIsDropped() throws {
        let decoder = try ImageDecoder()
        let values: [UInt16] = [0, 200, 255, 256, 700, 65535]
        let wide = try ImageEncoder.png(values.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }, width: 6, height: 1, colour: .gray, bitDepth: 16)
        let gray = try wide.withUnsafeBytes { try decoder.decode($0, header: decoder.header(of: $0, path: "wide"), path: "wide", channels: 1) }
        XCTAssertEqual(gray.pixels, [0, 200, 255, 255, 255, 255], "Pillow clips 16-bit gray at 255")
        let cmyk: [UInt8] = [255 - 10, 255 - 20, 255 - 30, 255 - 40]
        let jpeg = try ImageEncoder.jpeg(
            Array(repeating: cmyk, count: 64).flatMap { $0 }, width: 8, height: 8, components: 4, quality: 100, subsampling: 0)
        let rgb = try jpeg.withUnsafeBytes { try decoder.decode($0, header: decoder.header(of: $0, path: "cmyk"), path: "cmyk", channels: 3) }
        // Pillow's cmyk2rgb of (10, 20, 30, 40): 215 - round(ink * 215 / 255) per channel, within JPEG's loss.
        for (value, reference) in zip(rgb.pixels.prefix(3), [207, 198, 190]) { XCTAssertEqual(Double(value), Double(reference), accuracy: 2) }
    }

    func testCropGeometryIsTorchvisions() {
        var generator = SeededRandomGenerator(seed: 1)
        for _ in 0..<500 {
            let box = CropBox.random(width: 500, height: 375, scale: [0.08, 1], ratio: [3.0 / 4, 4.0 / 3], using: &generator)
            XCTAssertTrue(box.width > 0 && box.height > 0 && box.left + box.width <= 500 && box.top + box.height <= 375)
            let area = Double(box.width * box.height) / (500 * 375)
            XCTAssertGreaterThan(area, 0.07)
            XCTAssertLessThanOrEqual(area, 1.01)
        }
        // A strip no draw fits: the fallback is the central crop clamped to the ratio range.
        let strip = CropBox.random(width: 1000, height: 10, scale: [0.99, 1], ratio: [3.0 / 4, 4.0 / 3], using: &generator)
        XCTAssertEqual(strip, CropBox(top: 0, left: 493, height: 10, width: 13))
        // Resize(256) of 500 x 375 is 341 x 256 (int(256 * 500 / 375)); CenterCrop(224)'s left is round(58.5) = 58.
        let evaluation = ResizeAndCenterCrop(width: 500, height: 375, shorter: 256, size: 224)
        XCTAssertEqual([evaluation.resizedWidth, evaluation.resizedHeight, evaluation.left, evaluation.top], [341, 256, 58, 16])
        XCTAssertEqual(ImagePreprocessing().evaluationResize(size: 224), 256)
    }

    func testSameBatchesWhateverTheWorkersAndShards() throws {
        let folder = try makeFolder(classes: 2, train: 10)
        let split = try ImageFolder.scan(root: folder.path, split: .train)
        let source = try samples(split, training: true)
        let reference = try BatchLoader(source: source, batchSize: 6, shuffle: true, seed: 3, prefetchCount: 0).epoch(1).collect()
        for workers in [1, 3] {
            let batches = try BatchLoader(source: source, batchSize: 6, shuffle: true, seed: 3, prefetchCount: 2, workers: workers).epoch(1).collect()
            XCTAssertEqual(batches.map(\.images), reference.map(\.images), "\(workers) workers")
        }
        // Two shards of batch 3 see each sample with the same crop as one loader of batch 6.
        var byIndex: [Int: ArraySlice<Float>] = [:]
        for rank in 0..<2 {
            let loader = try BatchLoader(source: source, batchSize: 3, shuffle: true, seed: 3, shard: try DataShard(index: rank, count: 2))
            for batch in try loader.epoch(1).collect() {
                for (position, sample) in batch.sampleIndices.enumerated() {
                    byIndex[sample] = batch.images[(position * source.sampleSize)..<((position + 1) * source.sampleSize)]
                }
            }
        }
        for batch in reference {
            for (position, sample) in batch.sampleIndices.enumerated() {
                XCTAssertEqual(byIndex[sample], batch.images[(position * source.sampleSize)..<((position + 1) * source.sampleSize)])
            }
        }
        // Training crops change with the epoch; evaluation is the same every time.
        let other = try BatchLoader(source: source, batchSize: 6, shuffle: true, seed: 3, prefetchCount: 0).epoch(2).collect()
        XCTAssertNotEqual(other.map(\.images), reference.map(\.images))
    }

    func testBadFolderLayoutsAreClearErrors() throws {
        let folder = try makeFolder(classes: 2, train: 2, validation: 1)
        let root = folder.path
        assertDataError(["train/", "val/"]) { _ = try ImageFolder.scan(root: root + "/missing", split: .train) }
        // A class folder without images.
        try FileManager.default.createDirectory(atPath: root + "/train/empty_class", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/train/empty_class/readme.md"))
        assertDataError(["empty_class", "no .jpg, .jpeg or .png", "1 other"]) { _ = try ImageFolder.scan(root: root, split: .train) }
        try FileManager.default.removeItem(atPath: root + "/train/empty_class")
        // A validation class the training split does not have.
        try FileManager.default.createDirectory(atPath: root + "/val/stranger", withIntermediateDirectories: true)
        assertDataError(["stranger", "not a class of the training split"]) { _ = try ImageFolder.scan(root: root, split: .test) }
        try FileManager.default.removeItem(atPath: root + "/val/stranger")
        // A symbolic-link loop.
        try FileManager.default.createSymbolicLink(atPath: root + "/train/class_0/loop", withDestinationPath: root + "/train/class_0")
        assertDataError(["loop"]) { _ = try ImageFolder.scan(root: root, split: .train) }
        try FileManager.default.removeItem(atPath: root + "/train/class_0/loop")
        // A name that is not UTF-8.
        let bytes = Array((root + "/train/class_1/bad").utf8) + [0xFF, 0x2E, 0x6A, 0x70, 0x67, 0]
        let descriptor = bytes.withUnsafeBufferPointer {
            open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644)
        }
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        close(descriptor)
        assertDataError(["bad\\xff.jpg", "not valid UTF-8"]) { _ = try ImageFolder.scan(root: root, split: .train) }
        _ = bytes.withUnsafeBufferPointer { unlink(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }
        // An empty split: no class folders.
        let empty = try TemporaryFolder()
        try FileManager.default.createDirectory(atPath: empty.path + "/train", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: empty.path + "/val", withIntermediateDirectories: true)
        assertDataError(["no class folders"]) { _ = try ImageFolder.scan(root: empty.path, split: .train) }
        // A folder that cannot be listed: opendir's failure names the folder and the system's
        // reason (here a file in a folder's place; permissions, below, bind only when not root).
        assertDataError(["image_0", "cannot be listed", "Not a directory"]) {
            _ = try ImageFolder.entries(of: try XCTUnwrap(ImageFolder.scan(root: root, split: .train).files.first))
        }
        if getuid() != 0 {
            chmod(root + "/train/class_1", 0)
            defer { chmod(root + "/train/class_1", 0o755) }
            assertDataError(["class_1", "cannot be listed", "Permission denied"]) { _ = try ImageFolder.scan(root: root, split: .train) }
        }
    }

    /// Each bad file stops the epoch with an error naming it, or with --skip-bad-images is
    /// left out of its batch and counted.
    func testBadImagesAreErrorsOrSkipped() throws {
        let folder = try makeFolder(classes: 1, train: 4, validation: 1)
        let classFolder = folder.path + "/train/class_0"
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: classFolder + "/image_0.jpg")))
        let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: classFolder + "/image_3.png")))
        let cases: [(name: String, bytes: [UInt8], fragments: [String])] = [
            ("truncated.jpg", Array(good.prefix(good.count / 2)), ["truncated.jpg", "truncated"]),
            ("truncated.png", Array(png.prefix(png.count / 2)), ["truncated.png", "truncated"]),
            ("corrupt.jpg", Array(good.prefix(20)) + [UInt8](repeating: 0x55, count: 300), ["corrupt.jpg", "is corrupt"]),
            ("empty.png", [], ["empty.png", "empty (0 bytes)"]),
            ("text.jpeg", Array("hello, not an image".utf8), ["text.jpeg", "not a JPEG or PNG image", "68 65 6C 6C"]),
        ]
        for bad in cases {
            let path = classFolder + "/" + bad.name
            try Data(bad.bytes).write(to: URL(fileURLWithPath: path))
            let split = try ImageFolder.scan(root: folder.path, split: .train)
            let position = try XCTUnwrap(split.files.firstIndex(of: path))
            let strict = try BatchLoader(source: samples(split, training: true), batchSize: split.count)
            assertDataError(bad.fragments) { _ = try strict.epoch(0).collect() }
            let lenient = try BatchLoader(source: samples(split, training: true, skipBad: true), batchSize: split.count)
            let epoch = lenient.epoch(0)
            let batch = try XCTUnwrap(try epoch.nextBatch())
            XCTAssertEqual(batch.count, split.count - 1, bad.name)
            XCTAssertFalse(batch.sampleIndices.contains(position))
            XCTAssertEqual(epoch.skipped.map(\.path), [path])
            try FileManager.default.removeItem(atPath: path)
        }
        // A decompression bomb: refused from its header, with its size.
        let split = try ImageFolder.scan(root: folder.path, split: .train)
        let bomb = try BatchLoader(source: samples(split, training: false, maximumPixels: 100), batchSize: 1)
        assertDataError(["image_0", "pixels), more than the limit of 100", "--max-image-pixels"]) { _ = try bomb.epoch(0).collect() }
        // A file that vanished after the scan: the path and the system's reason.
        let vanished = try ImageFolder.scan(root: folder.path, split: .train)
        try FileManager.default.removeItem(atPath: vanished.files[0])
        let loader = try BatchLoader(source: samples(vanished, training: false), batchSize: 2)
        assertDataError([vanished.files[0], "opening the file failed", "No such file"]) { _ = try loader.epoch(0).collect() }
    }

    func testInvalidPreprocessingIsNamed() throws {
        let folder = try makeFolder(classes: 1, train: 1, validation: 1)
        let split = try ImageFolder.scan(root: folder.path, split: .train)
        func check(_ fragments: [String], _ change: (inout ImagePreprocessing) -> Void) {
            var preprocessing = ImagePreprocessing()
            change(&preprocessing)
            assertDataError(fragments) { _ = try ImageFileSamples(split: split, preprocessing: preprocessing, size: 8, channels: 3, training: true) }
        }
        check(["--crop-scale", "[0.5, 0.2]"]) { $0.cropScale = [0.5, 0.2] }
        check(["--crop-ratio"]) { $0.cropRatio = [0, 1] }
        check(["--crop-pct", "1.5"]) { $0.cropFraction = 1.5 }
        check(["--mean", "3 finite"]) { $0.mean = [0.5] }
        check(["--std", "positive"]) { $0.standardDeviation = [0.2, 0, 0.2] }
        check(["--max-image-pixels", "0"]) { $0.maximumPixels = 0 }
    }
}
