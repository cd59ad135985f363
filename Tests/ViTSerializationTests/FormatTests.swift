import Foundation
import XCTest

@testable import ViTSerialization

/// Checks the exact bytes written against the safetensors format.
final class FormatTests: TemporaryDirectoryTestCase {
    func testTinyFileMatchesHandComputedBytes() throws {
        let file = SafeTensorsFile(
            metadata: ["format": "pt"],
            tensors: [
                "b": NamedTensor(shape: [2], values: [1, -2]),
                "a": NamedTensor(scalar: 0.5),
            ])
        let target = url("tiny.safetensors")
        try file.write(to: target)
        let bytes = Array(try Data(contentsOf: target))

        // 138 bytes of JSON, padded with 6 spaces to 144 = 0x90.
        let json =
            #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"#
            + #""b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        XCTAssertEqual(json.utf8.count, 138)
        let expected: [UInt8] =
            [0x90, 0, 0, 0, 0, 0, 0, 0]
            + Array(json.utf8) + Array(repeating: 0x20, count: 6)
            + [0x00, 0x00, 0x00, 0x3F]  // 0.5
            + [0x00, 0x00, 0x80, 0x3F]  // 1.0
            + [0x00, 0x00, 0x00, 0xC0]  // -2.0
        XCTAssertEqual(bytes.count, 8 + 144 + 12)
        XCTAssertEqual(bytes, expected)
    }

    func testHeaderIsPaddedJSONWithCorrectOffsetsAndLengthPrefix() throws {
        let file = SafeTensorsFile(
            metadata: ["format": "pt", "step": "1000"],
            tensors: [
                "head.weight": NamedTensor(shape: [3, 5], values: (0..<15).map(Float.init)),
                "head.bias": NamedTensor(shape: [3], values: [1, 2, 3]),
                "pos_embed": NamedTensor(shape: [1, 2, 5], values: (0..<10).map { Float($0) / 10 }),
                "norm.eps": NamedTensor(scalar: 1e-6),
                "zero": NamedTensor(shape: [2, 0], values: []),
            ])
        let bytes = try file.encoded()
        let headerLength = lengthPrefix(of: bytes)
        XCTAssertEqual(headerLength % 8, 0, "header must be padded to 8 bytes")
        XCTAssertEqual((8 + headerLength) % 8, 0, "data must start 8-byte aligned")
        let headerData = bytes.subdata(in: 8..<(8 + headerLength))
        let headerText = try XCTUnwrap(String(data: headerData, encoding: .utf8))
        XCTAssertFalse(headerText.hasSuffix("        "), "at most 7 padding spaces")
        let trimmed = headerText.trimmingCharacters(in: .whitespaces)
        XCTAssertEqual(headerText.count - trimmed.count, (8 - trimmed.utf8.count % 8) % 8)

        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: headerData) as? [String: Any])
        XCTAssertEqual(object["__metadata__"] as? [String: String], ["format": "pt", "step": "1000"])

        // Sorted by name, packed from offset 0, each exactly shape product * 4 bytes.
        let names = ["head.bias", "head.weight", "norm.eps", "pos_embed", "zero"]
        XCTAssertEqual(Set(object.keys), Set(names + ["__metadata__"]))
        var offset = 0
        for name in names {
            let entry = try XCTUnwrap(object[name] as? [String: Any], name)
            XCTAssertEqual(entry["dtype"] as? String, "F32")
            let shape = try XCTUnwrap(entry["shape"] as? [Int])
            XCTAssertEqual(shape, file[name]?.shape)
            let offsets = try XCTUnwrap(entry["data_offsets"] as? [Int])
            let size = shape.reduce(1, *) * 4
            XCTAssertEqual(offsets, [offset, offset + size], name)
            // The tensor's bytes are its values, little-endian.
            let data = bytes.subdata(in: (8 + headerLength + offset)..<(8 + headerLength + offset + size))
            XCTAssertEqual(Array(data), float32Bytes(file[name]?.values ?? []), name)
            offset += size
        }
        XCTAssertEqual(bytes.count, 8 + headerLength + offset)
        // Keys appear in the reference order: metadata first, then tensors by name, fields in order.
        let positions = (["__metadata__"] + names).map { headerText.range(of: "\"\($0)\":")?.lowerBound }
        XCTAssertEqual(positions, positions.sorted { ($0 ?? headerText.endIndex) < ($1 ?? headerText.endIndex) })
        XCTAssertTrue(headerText.contains(#""head.bias":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}"#))
    }

    func testEmptyMetadataIsOmittedAndNamesAreSortedByBytes() throws {
        let file = SafeTensorsFile(tensors: [
            "b": NamedTensor(scalar: 1),
            "B": NamedTensor(scalar: 2),
            "é": NamedTensor(scalar: 3),
            "a.10": NamedTensor(scalar: 4),
            "a.9": NamedTensor(scalar: 5),
        ])
        XCTAssertEqual(file.sortedNames, ["B", "a.10", "a.9", "b", "é"])
        let bytes = try file.encoded()
        let text = try XCTUnwrap(String(data: bytes.subdata(in: 8..<(8 + lengthPrefix(of: bytes))), encoding: .utf8))
        XCTAssertFalse(text.contains("__metadata__"))
        XCTAssertTrue(text.hasPrefix(#"{"B":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"a.10":"#), text)
    }

    func testNamesAndMetadataAreEscapedAsValidJSON() throws {
        let name = "tab\there \"quoted\" back\\slash \u{01}control"
        let file = SafeTensorsFile(metadata: ["key\n": "value\u{1F}"], tensors: [name: NamedTensor(shape: [1], values: [3])])
        let bytes = try file.encoded()
        let headerLength = lengthPrefix(of: bytes)
        let headerData = bytes.subdata(in: 8..<(8 + headerLength))
        let text = try XCTUnwrap(String(data: headerData, encoding: .utf8))
        XCTAssertTrue(text.contains(#""tab\there \"quoted\" back\\slash \u0001control""#), text)
        XCTAssertTrue(text.contains(#"{"key\n":"value\u001f"}"#), text)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: headerData) as? [String: Any])
        XCTAssertNotNil(object[name])
        XCTAssertEqual(try SafeTensorsFile.decode(bytes), file)
    }
}
