import Foundation
import ViTData
import XCTest

final class IDXReaderTests: XCTestCase {
    func testReadsGzipImagesAndLabels() throws {
        let folder = try TemporaryFolder()
        let pixels = FileContent.imagePixels(count: 3, rows: 4, columns: 5)
        let imagePath = try folder.writeGzip("images.gz", FileContent.idx(dimensions: [3, 4, 5], payload: pixels))
        let labelPath = try folder.writeGzip("labels.gz", FileContent.idx(dimensions: [3], payload: [7, 0, 9]))

        let images = try IDXReader.readImages(path: imagePath)
        XCTAssertEqual(images.dimensions, [3, 4, 5])
        XCTAssertEqual(images.bytes, pixels)
        let labels = try IDXReader.readLabels(path: labelPath)
        XCTAssertEqual(labels.dimensions, [3])
        XCTAssertEqual(labels.bytes, [7, 0, 9])
    }

    func testReadsPlainFiles() throws {
        let folder = try TemporaryFolder()
        let pixels = FileContent.imagePixels(count: 2, rows: 3, columns: 3)
        let path = try folder.writePlain("images", FileContent.idx(dimensions: [2, 3, 3], payload: pixels))
        let images = try IDXReader.readImages(path: path)
        XCTAssertEqual(images.dimensions, [2, 3, 3])
        XCTAssertEqual(images.bytes, pixels)
    }

    func testLargeGzipPayloadSpanningManyChunks() throws {
        let folder = try TemporaryFolder()
        let count = 3000
        let pixels = FileContent.imagePixels(count: count, rows: 28, columns: 28)  // 2.35 MB, several read chunks
        let path = try folder.writeGzip("big.gz", FileContent.idx(dimensions: [count, 28, 28], payload: pixels))
        let images = try IDXReader.readImages(path: path)
        XCTAssertEqual(images.dimensions, [count, 28, 28])
        XCTAssertEqual(images.bytes.count, pixels.count)
        XCTAssertTrue(images.bytes == pixels)
    }

    func testTruncatedPayloadNamesTheFile() throws {
        let folder = try TemporaryFolder()
        let pixels = FileContent.imagePixels(count: 3, rows: 4, columns: 5)
        var content = FileContent.idx(dimensions: [3, 4, 5], payload: pixels)
        content.removeLast(7)
        let gzipPath = try folder.writeGzip("short-images.gz", content)
        assertDataError(["short-images.gz", "truncated", "3x4x5", "60"]) {
            _ = try IDXReader.readImages(path: gzipPath)
        }
        let plainPath = try folder.writePlain("short-plain", content)
        assertDataError(["short-plain", "truncated"]) { _ = try IDXReader.readImages(path: plainPath) }
    }

    func testCutGzipStreamIsReported() throws {
        let folder = try TemporaryFolder()
        let pixels = FileContent.imagePixels(count: 50, rows: 28, columns: 28)
        let fullPath = try folder.writeGzip("full.gz", FileContent.idx(dimensions: [50, 28, 28], payload: pixels))
        let compressed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fullPath)))
        let cutPath = try folder.writePlain("cut.gz", Array(compressed.prefix(compressed.count / 2)))
        assertDataError(["cut.gz"]) { _ = try IDXReader.readImages(path: cutPath) }
        // Only the 8-byte gzip trailer (CRC and length) missing: the payload is complete but the stream is not.
        let trailerPath = try folder.writePlain("no-trailer.gz", Array(compressed.dropLast(8)))
        assertDataError(["no-trailer.gz", "ends early"]) { _ = try IDXReader.readImages(path: trailerPath) }
    }

    func testTrailingDataIsAnError() throws {
        let folder = try TemporaryFolder()
        let path = try folder.writeGzip("long-labels.gz", FileContent.idx(dimensions: [3], payload: [1, 2, 3, 4]))
        assertDataError(["long-labels.gz", "trailing"]) { _ = try IDXReader.readLabels(path: path) }
    }

    func testBadMagicNamesTheFile() throws {
        let folder = try TemporaryFolder()
        var content = FileContent.idx(dimensions: [2], payload: [1, 2])
        content[0] = 0x1F
        let path = try folder.writeGzip("bad-magic.gz", content)
        assertDataError(["bad-magic.gz", "magic"]) { _ = try IDXReader.readLabels(path: path) }

        // A label file where an image file is expected: wrong dimension count.
        let labels = try folder.writeGzip("labels.gz", FileContent.idx(dimensions: [2], payload: [1, 2]))
        assertDataError(["labels.gz", "0x00000801", "expected 3"]) { _ = try IDXReader.readImages(path: labels) }

        // Element type other than unsigned byte.
        var floats = FileContent.idx(dimensions: [1], payload: [0, 0, 0, 0])
        floats[2] = 0x0D
        let floatPath = try folder.writePlain("floats.idx", floats)
        assertDataError(["floats.idx", "0x0000", "unsigned bytes"]) { _ = try IDXReader.read(path: floatPath) }
    }

    func testHeaderTooShortAndMissingFile() throws {
        let folder = try TemporaryFolder()
        let tiny = try folder.writePlain("tiny", [0, 0])
        assertDataError(["tiny", "too short"]) { _ = try IDXReader.read(path: tiny) }
        let cutHeader = try folder.writePlain("cut-header", [0, 0, 8, 3, 0, 0, 0, 5, 0, 0])
        assertDataError(["cut-header", "header truncated"]) { _ = try IDXReader.read(path: cutHeader) }
        assertDataError([folder.path + "/absent.gz", "no such file"]) {
            _ = try IDXReader.read(path: folder.path + "/absent.gz")
        }
    }
}
