import CZlib
import Foundation
import ViTData
import XCTest

/// A temporary folder for one test, removed when the test ends.
final class TemporaryFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "vitdata-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The path of `name` inside the folder (subfolders are created).
    func file(_ name: String) -> String {
        let full = path + "/" + name
        let folder = (full as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return full
    }

    /// Writes `bytes` as a plain file and returns its path.
    @discardableResult
    func writePlain(_ name: String, _ bytes: [UInt8]) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    /// Writes `bytes` gzip-compressed through zlib and returns the path.
    @discardableResult
    func writeGzip(_ name: String, _ bytes: [UInt8]) throws -> String {
        let target = file(name)
        guard let handle = gzopen(target, "wb") else {
            throw NSError(domain: "TestFiles", code: 1, userInfo: [NSLocalizedDescriptionKey: "gzopen failed for \(target)"])
        }
        let written = bytes.withUnsafeBytes { gzwrite(handle, $0.baseAddress, UInt32($0.count)) }
        let closed = gzclose_w(handle)
        guard Int(written) == bytes.count || bytes.isEmpty, closed == Z_OK else {
            throw NSError(domain: "TestFiles", code: 2, userInfo: [NSLocalizedDescriptionKey: "gzwrite failed for \(target)"])
        }
        return target
    }
}

/// Builders of file contents in the formats the loaders read.
enum FileContent {
    /// An IDX file of unsigned bytes: magic 0x000008DD, big-endian sizes, payload.
    static func idx(dimensions: [Int], payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
        for size in dimensions {
            bytes += [UInt8(size >> 24 & 0xFF), UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF)]
        }
        return bytes + payload
    }

    /// `count` images of `rows x columns` whose pixel bytes depend on image, row and column.
    static func imagePixels(count: Int, rows: Int, columns: Int) -> [UInt8] {
        var pixels: [UInt8] = []
        for image in 0..<count {
            for row in 0..<rows {
                for column in 0..<columns {
                    pixels.append(UInt8(truncatingIfNeeded: image * 37 + row * 7 + column * 3))
                }
            }
        }
        return pixels
    }

    /// CIFAR records: `labels` (one array of label bytes per record) followed by 3072
    /// pixels each, pixel `k` of record `r` being `(r * 11 + k) % 256`.
    static func cifarRecords(labels: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (record, labelBytes) in labels.enumerated() {
            bytes += labelBytes
            bytes += (0..<3072).map { UInt8(truncatingIfNeeded: record * 11 + $0) }
        }
        return bytes
    }
}

/// Asserts that `body` throws a `DataError` whose description contains every string in `fragments`.
func assertDataError(
    _ fragments: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
) {
    do {
        try body()
        XCTFail("expected a DataError containing \(fragments)", file: file, line: line)
    } catch let error as DataError {
        let text = error.description
        for fragment in fragments {
            XCTAssertTrue(text.contains(fragment), "'\(text)' does not mention '\(fragment)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected a DataError, got \(error)", file: file, line: line)
    }
}
