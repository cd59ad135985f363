import Foundation
import XCTest

@testable import ViTSerialization

/// Every malformed input throws a `SerializationError` naming the file, and none traps.
final class MalformedInputTests: TemporaryDirectoryTestCase {
    /// A valid two-tensor header over 20 data bytes, for variations.
    private let validHeader = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}}"#
    private let twentyBytes = float32Bytes([1, 2, 3, 4, 5])

    func testValidHandMadeFileReads() throws {
        let target = try writeRaw(safetensorsBytes(header: validHeader, data: twentyBytes), named: "valid.safetensors")
        let file = try SafeTensorsFile.read(from: target)
        XCTAssertEqual(file["a"]?.values, [1, 2])
        XCTAssertEqual(file["b"]?.values, [3, 4, 5])
        // Unpadded headers are accepted too.
        let unpadded = try writeRaw(safetensorsBytes(header: validHeader, data: twentyBytes, pad: false), named: "unpadded.safetensors")
        XCTAssertEqual(try SafeTensorsFile.read(from: unpadded), file)
    }

    func testFileShorterThanEightBytes() throws {
        for count in [0, 1, 7] {
            let error = try readError(Data(repeating: 0, count: count), named: "short\(count).safetensors")
            XCTAssertEqual(error, .fileTooShort(file: url("short\(count).safetensors").path, byteCount: count))
        }
    }

    func testHeaderLengthLargerThanFile() throws {
        var data = safetensorsBytes(header: validHeader, data: twentyBytes)
        let realLength = data.count - 8
        data.replaceSubrange(0..<8, with: littleEndianBytes(UInt64(realLength + 1)))
        let error = try readError(data, named: "long-header.safetensors")
        XCTAssertEqual(
            error,
            .headerLengthExceedsFile(
                file: url("long-header.safetensors").path, headerLength: UInt64(realLength + 1), availableBytes: realLength))

        // The largest possible prefix must not overflow anything.
        data.replaceSubrange(0..<8, with: littleEndianBytes(UInt64.max))
        guard case .headerLengthExceedsFile(_, UInt64.max, _)? = try readError(data, named: "max-header.safetensors") else {
            return XCTFail("expected headerLengthExceedsFile")
        }
    }

    func testHeaderOverTheSizeLimit() throws {
        let length = SafeTensorsFile.maximumHeaderLength + 1
        var data = Data(count: 8 + length)
        data.replaceSubrange(0..<8, with: littleEndianBytes(UInt64(length)))
        XCTAssertThrowsError(try SafeTensorsFile.decode(data, source: "huge.safetensors")) { error in
            XCTAssertEqual(
                error as? SerializationError,
                .headerTooLarge(
                    file: "huge.safetensors", headerLength: UInt64(length), limit: SafeTensorsFile.maximumHeaderLength))
            XCTAssertTrue("\(error)".contains("huge.safetensors"))
        }
    }

    func testHeaderThatIsNotAJSONObject() throws {
        let cases: [(String, Data, String)] = [
            ("not-json", safetensorsBytes(header: #"{"a": {"dtype": "F32",,}"#), "not valid JSON"),
            ("array", safetensorsBytes(header: "[1, 2, 3]"), "JSON array"),
            ("string", safetensorsBytes(header: #""text""#), "not a JSON object"),
            ("empty", safetensorsBytes(header: "", pad: false), "empty"),
            ("spaces", safetensorsBytes(header: "        ", pad: false), "not a JSON object"),
            ("trailing", safetensorsBytes(header: "{} {}"), "not valid JSON"),
            ("binary", Data(littleEndianBytes(UInt64(4)) + [0x7B, 0xFF, 0xFE, 0x7D]), "UTF-8"),
        ]
        for (name, data, fragment) in cases {
            let error = try readError(data, named: "\(name).safetensors")
            guard case .invalidHeader(_, let detail)? = error else {
                XCTFail("\(name): expected invalidHeader, got \(String(describing: error))")
                continue
            }
            XCTAssertTrue(detail.contains(fragment), "\(name): \(detail)")
        }
    }

    func testInvalidMetadataAndEntryTypes() throws {
        let metadata = try readError(
            safetensorsBytes(header: #"{"__metadata__":{"epoch":3}}"#), named: "metadata.safetensors")
        XCTAssertTrue(metadata?.description.contains("__metadata__") ?? false, "\(String(describing: metadata))")
        let entry = try readError(safetensorsBytes(header: #"{"weight":[1,2]}"#), named: "entry.safetensors")
        XCTAssertTrue(entry?.description.contains("'weight'") ?? false, "\(String(describing: entry))")
        // A null metadata is the same as none.
        let nullMetadata = try writeRaw(safetensorsBytes(header: #"{"__metadata__":null}"#), named: "null.safetensors")
        XCTAssertEqual(try SafeTensorsFile.read(from: nullMetadata), SafeTensorsFile())
    }

    func testEntryMissingAField() throws {
        let headers = [
            "dtype": #"{"w":{"shape":[2],"data_offsets":[0,8]}}"#,
            "shape": #"{"w":{"dtype":"F32","data_offsets":[0,8]}}"#,
            "data_offsets": #"{"w":{"dtype":"F32","shape":[2]}}"#,
        ]
        for (field, header) in headers {
            let name = "missing-\(field).safetensors"
            let error = try readError(safetensorsBytes(header: header, data: float32Bytes([1, 2])), named: name)
            XCTAssertEqual(error, .missingField(file: url(name).path, tensor: "w", field: field))
            XCTAssertTrue(error?.description.contains("'\(field)'") ?? false)
        }
    }

    func testEntryWithInvalidFieldValues() throws {
        let cases: [(String, String, String)] = [
            ("dtype-number", #"{"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}"#, "dtype"),
            ("shape-string", #"{"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#, "shape"),
            ("shape-negative", #"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, "shape"),
            ("shape-fraction", #"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}"#, "shape"),
            ("offsets-three", #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}"#, "data_offsets"),
            ("offsets-negative", #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}"#, "data_offsets"),
            ("offsets-huge", #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,1e30]}}"#, "data_offsets"),
            ("offsets-beyond-int", #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551616]}}"#, "data_offsets"),
            ("offsets-null", #"{"w":{"dtype":"F32","shape":[2],"data_offsets":null}}"#, "data_offsets"),
        ]
        for (label, header, field) in cases {
            let name = "\(label).safetensors"
            let error = try readError(safetensorsBytes(header: header, data: float32Bytes([1, 2])), named: name)
            guard case .invalidField(_, let tensor, let actualField, _)? = error else {
                XCTFail("\(label): expected invalidField, got \(String(describing: error))")
                continue
            }
            XCTAssertEqual(tensor, "w", label)
            XCTAssertEqual(actualField, field, label)
        }
    }

    func testUnknownDType() throws {
        let error = try readError(
            safetensorsBytes(header: #"{"w":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,1]}}"#, data: [0]),
            named: "quantized.safetensors")
        XCTAssertEqual(error, .unsupportedDType(file: url("quantized.safetensors").path, tensor: "w", dtype: "Q4_K"))
        XCTAssertTrue(error?.description.contains("Q4_K") ?? false)
        XCTAssertTrue(error?.description.contains("BF16") ?? false, "lists the supported dtypes")
    }

    private func offsetsError(_ header: String, data: [UInt8], named name: String, line: UInt = #line) throws -> (tensor: String, detail: String)? {
        let error = try readError(safetensorsBytes(header: header, data: data), named: name, line: line)
        guard case .invalidOffsets(_, let tensor, let detail)? = error else {
            XCTFail("expected invalidOffsets, got \(String(describing: error))", line: line)
            return nil
        }
        return (tensor, detail)
    }

    func testOffsetsOutOfBounds() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}}"#
        let result = try offsetsError(header, data: Array(twentyBytes.prefix(16)), named: "bounds.safetensors")
        XCTAssertEqual(result?.tensor, "b")
        XCTAssertTrue(result?.detail.contains("16-byte data buffer") ?? false, "\(String(describing: result))")
    }

    func testOffsetsThatDoNotMatchTheShape() throws {
        let header = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        let result = try offsetsError(header, data: float32Bytes([1, 2]), named: "size.safetensors")
        XCTAssertEqual(result?.tensor, "a")
        XCTAssertTrue(result?.detail.contains("needs 12 bytes") ?? false, "\(String(describing: result))")

        // A shape whose element count overflows is reported, not trapped on.
        let huge = #"{"a":{"dtype":"F64","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,8]}}"#
        XCTAssertEqual(try offsetsError(huge, data: float32Bytes([1, 2]), named: "overflow.safetensors")?.tensor, "a")
        let almost = #"{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}}"#
        XCTAssertEqual(try offsetsError(almost, data: float32Bytes([1, 2]), named: "overflow2.safetensors")?.tensor, "a")

        let reversed = #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#
        XCTAssertEqual(try offsetsError(reversed, data: float32Bytes([1, 2]), named: "reversed.safetensors")?.tensor, "a")
    }

    func testOverlappingTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let result = try offsetsError(header, data: float32Bytes([1, 2, 3]), named: "overlap.safetensors")
        XCTAssertEqual(result?.tensor, "b")
        XCTAssertTrue(result?.detail.contains("overlaps tensor 'a'") ?? false, "\(String(describing: result))")

        let same = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        XCTAssertEqual(try offsetsError(same, data: float32Bytes([1, 2]), named: "shared.safetensors")?.tensor, "b")
    }

    func testGapsBetweenTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        let result = try offsetsError(header, data: float32Bytes([1, 2, 3]), named: "gap.safetensors")
        XCTAssertEqual(result?.tensor, "b")
        XCTAssertTrue(result?.detail.contains("gap") ?? false)

        let late = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let first = try offsetsError(late, data: float32Bytes([1, 2]), named: "late-start.safetensors")
        XCTAssertTrue(first?.detail.contains("byte 0") ?? false, "\(String(describing: first))")
    }

    func testTrailingBytesAfterTheLastTensor() throws {
        let error = try readError(safetensorsBytes(header: validHeader, data: twentyBytes + [0, 0, 0, 0]), named: "trailing.safetensors")
        XCTAssertEqual(error, .dataBufferSizeMismatch(file: url("trailing.safetensors").path, usedBytes: 20, availableBytes: 24))
    }

    func testEmptyTensorsMayShareAnOffset() throws {
        let header =
            #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"#
            + #""c":{"dtype":"F16","shape":[3,0],"data_offsets":[4,4]},"d":{"dtype":"BF16","shape":[0],"data_offsets":[4,4]}}"#
        let target = try writeRaw(safetensorsBytes(header: header, data: float32Bytes([9])), named: "empties.safetensors")
        let file = try SafeTensorsFile.read(from: target)
        XCTAssertEqual(file["a"], NamedTensor(shape: [0], values: []))
        XCTAssertEqual(file["b"]?.values, [9])
        XCTAssertEqual(file["c"], NamedTensor(shape: [3, 0], values: []))
        XCTAssertEqual(file["d"]?.values, [])
    }

    func testEveryTruncationOfAValidFileThrowsNamingTheFile() throws {
        let original = SafeTensorsFile(
            metadata: ["format": "pt"],
            tensors: ["x": NamedTensor(shape: [2, 2], values: [1, 2, 3, 4]), "y": NamedTensor(scalar: 5)])
        let bytes = try original.encoded()
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try SafeTensorsFile.decode(bytes.prefix(length), source: "cut-\(length).safetensors")) { error in
                XCTAssertTrue("\(error)".contains("cut-\(length).safetensors"), "\(error)")
            }
        }
        // The same through a real file cut short by 3 bytes.
        let error = try readError(bytes.prefix(bytes.count - 3), named: "truncated.safetensors")
        guard case .invalidOffsets(_, let tensor, let detail)? = error else {
            return XCTFail("expected invalidOffsets, got \(String(describing: error))")
        }
        XCTAssertEqual(tensor, "y")
        XCTAssertTrue(detail.contains("truncated"), detail)
    }

    func testCorruptingAnyHeaderByteNeverTraps() throws {
        let original = SafeTensorsFile(
            metadata: ["format": "pt"],
            tensors: ["x": NamedTensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), "y": NamedTensor(scalar: 5)])
        let bytes = try original.encoded()
        let headerEnd = 8 + lengthPrefix(of: bytes)
        var rejected = 0
        for index in 0..<headerEnd {
            for replacement: UInt8 in [0x00, 0x22, 0x39, 0x7D, 0xFF] where bytes[index] != replacement {
                var corrupted = bytes
                corrupted[index] = replacement
                do {
                    _ = try SafeTensorsFile.decode(corrupted, source: "fuzz.safetensors")
                } catch let error as SerializationError {
                    XCTAssertEqual(error.file, "fuzz.safetensors")
                    rejected += 1
                }
            }
        }
        XCTAssertGreaterThan(rejected, headerEnd)
    }

    func testMissingFileAndDirectoryAreIOErrors() throws {
        let missing = url("absent.safetensors")
        XCTAssertThrowsError(try SafeTensorsFile.read(from: missing)) { error in
            guard case .io? = error as? SerializationError else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("absent.safetensors"), "\(error)")
            XCTAssertTrue("\(error)".contains("No such file"), "\(error)")
        }
        XCTAssertThrowsError(try SafeTensorsFile.read(from: directory)) { error in
            guard case .io? = error as? SerializationError else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains(self.directory.lastPathComponent), "\(error)")
        }
    }
}
