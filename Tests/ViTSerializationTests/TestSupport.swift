import Foundation
import XCTest

@testable import ViTSerialization

/// A test case with a fresh temporary folder, removed after each test.
class TemporaryDirectoryTestCase: XCTestCase {
    /// The folder this test may write to.
    var directory: URL!

    override func setUpWithError() throws {
        try super.setUpWithError()
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ViTSerializationTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory {
            try? FileManager.default.removeItem(at: directory)
        }
        try super.tearDownWithError()
    }

    /// A path inside the temporary folder.
    func url(_ name: String) -> URL {
        directory.appendingPathComponent(name)
    }

    /// Writes `data` to a file called `name` in the temporary folder.
    @discardableResult
    func writeRaw(_ data: Data, named name: String) throws -> URL {
        let target = url(name)
        try data.write(to: target)
        return target
    }

    /// The names in the temporary folder, sorted, hidden files included.
    func directoryListing() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    /// Writes `data` as `name`, reads it back and returns the `SerializationError` thrown,
    /// failing the test if none (or another error) is thrown or the message does not name
    /// the file.
    func readError(_ data: Data, named name: String, line: UInt = #line) throws -> SerializationError? {
        let target = try writeRaw(data, named: name)
        do {
            let file = try SafeTensorsFile.read(from: target)
            XCTFail("reading \(name) succeeded unexpectedly with \(file.tensors.count) tensors", line: line)
            return nil
        } catch let error as SerializationError {
            XCTAssertTrue(error.description.contains(name), "message does not name the file: \(error)", line: line)
            XCTAssertEqual(error.file, target.path, line: line)
            return error
        }
    }
}

/// A safetensors file assembled by hand: the length prefix, `header` padded with spaces to
/// a multiple of 8 bytes (unless `pad` is false), then `data`.
func safetensorsBytes(header: String, data: [UInt8] = [], pad: Bool = true) -> Data {
    var headerBytes = Array(header.utf8)
    if pad {
        headerBytes += Array(repeating: UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8)
    }
    return Data(littleEndianBytes(UInt64(headerBytes.count)) + headerBytes + data)
}

/// The little-endian bytes of an integer.
func littleEndianBytes<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

/// The little-endian bytes of each value, concatenated.
func littleEndianBytes<Value: FixedWidthInteger>(_ values: [Value]) -> [UInt8] {
    values.flatMap { littleEndianBytes($0) }
}

/// The little-endian F32 bytes of each value, concatenated.
func float32Bytes(_ values: [Float]) -> [UInt8] {
    littleEndianBytes(values.map(\.bitPattern))
}

/// Asserts two float arrays are equal bit for bit (so NaN equals NaN and -0 differs from +0).
// swift-format-ignore: AlwaysUseLowerCamelCase
// (named like the XCTAssert functions it stands beside)
func XCTAssertBitwiseEqual(
    _ actual: [Float]?, _ expected: [Float], _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    guard let actual else {
        XCTFail("no values; expected \(expected) \(message)", file: file, line: line)
        return
    }
    XCTAssertEqual(
        actual.map(\.bitPattern), expected.map(\.bitPattern),
        "\(actual) != \(expected) \(message)", file: file, line: line)
}

/// The header length from a file's 8-byte little-endian prefix.
func lengthPrefix(of bytes: Data) -> Int {
    Int(bytes.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
}
