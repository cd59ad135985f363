import Foundation
import XCTest

@testable import ViTSerialization

final class RoundTripTests: TemporaryDirectoryTestCase {
    private func sampleFile() -> SafeTensorsFile {
        SafeTensorsFile(
            metadata: [
                "format": "pt",
                "epoch": "12",
                "note": "quote \" backslash \\ newline \n tab \t bell \u{07} unicode é ✓",
                "": "empty key",
            ],
            tensors: [
                "patch_embed.proj.weight": NamedTensor(shape: [4, 3, 2, 2], values: (0..<48).map { Float($0) * 0.25 - 3 }),
                "patch_embed.proj.bias": NamedTensor(shape: [4], values: [1, -1, 0.5, -0.5]),
                "cls_token": NamedTensor(shape: [1, 1, 4], values: [0.1, 0.2, 0.3, 0.4]),
                "logit_scale": NamedTensor(scalar: 2.5),
                "empty_rows": NamedTensor(shape: [0, 7], values: []),
                "empty_vector": NamedTensor(shape: [0], values: []),
                "weird \"name\"/with\\chars é": NamedTensor(shape: [2], values: [7, 8]),
            ])
    }

    func testRoundTripKeepsTensorsScalarsEmptyTensorsAndMetadata() throws {
        let original = sampleFile()
        let target = url("model.safetensors")
        try original.write(to: target)
        let loaded = try SafeTensorsFile.read(from: target)

        XCTAssertEqual(loaded, original)
        XCTAssertEqual(loaded.metadata["note"], original.metadata["note"])
        XCTAssertEqual(loaded["logit_scale"]?.shape, [])
        XCTAssertEqual(loaded["logit_scale"]?.values, [2.5])
        XCTAssertEqual(loaded["empty_rows"]?.shape, [0, 7])
        XCTAssertEqual(loaded["empty_rows"]?.values, [])
        XCTAssertEqual(loaded["patch_embed.proj.weight"]?.values[47], 47 * 0.25 - 3)
        XCTAssertEqual(loaded.sortedNames, original.sortedNames)
    }

    func testSpecialFloatValuesSurviveBitForBit() throws {
        let values: [Float] = [
            .nan, .infinity, -.infinity, -0.0, 0, .leastNonzeroMagnitude,
            .greatestFiniteMagnitude, -.leastNormalMagnitude, Float(bitPattern: 0x7FC0_1234),
        ]
        let original = SafeTensorsFile(tensors: ["special": NamedTensor(shape: [3, 3], values: values)])
        let target = url("special.safetensors")
        try original.write(to: target)
        let loaded = try SafeTensorsFile.read(from: target)
        XCTAssertBitwiseEqual(loaded["special"]?.values, values)
    }

    func testFileWithoutTensorsOrMetadataRoundTrips() throws {
        let target = url("nothing.safetensors")
        try SafeTensorsFile().write(to: target)
        let bytes = try Data(contentsOf: target)
        // "{}" padded to 8 bytes.
        XCTAssertEqual(Array(bytes), littleEndianBytes(UInt64(8)) + Array("{}      ".utf8))
        XCTAssertEqual(try SafeTensorsFile.read(from: target), SafeTensorsFile())
    }

    func testOutputIsDeterministicAndMatchesEncoded() throws {
        var reversed = SafeTensorsFile()
        let sample = sampleFile()
        for name in sample.sortedNames.reversed() {
            reversed[name] = sample[name]
        }
        for key in sample.metadata.keys.sorted().reversed() {
            reversed.metadata[key] = sample.metadata[key]
        }
        let first = url("first.safetensors")
        let second = url("second.safetensors")
        try sample.write(to: first)
        try reversed.write(to: second)
        let firstBytes = try Data(contentsOf: first)
        XCTAssertEqual(firstBytes, try Data(contentsOf: second))
        XCTAssertEqual(firstBytes, try sample.encoded())
        XCTAssertEqual(try SafeTensorsFile.decode(firstBytes), sample)
    }

    func testReadHeaderDescribesEntriesWithoutLoadingData() throws {
        let target = url("header.safetensors")
        try sampleFile().write(to: target)
        let header = try SafeTensorsFile.readHeader(from: target)
        XCTAssertEqual(header.metadata, sampleFile().metadata)
        XCTAssertEqual(header.dataStart % 8, 0)
        XCTAssertEqual(header.entries.map(\.name), sampleFile().sortedNames)
        XCTAssertEqual(header.shapes, sampleFile().shapes)
        let bias = try XCTUnwrap(header.entries.first { $0.name == "patch_embed.proj.bias" })
        XCTAssertEqual(bias.dtype, .float32)
        XCTAssertEqual(bias.elementCount, 4)
        XCTAssertEqual(bias.dataOffsets.count, 16)
        // Entries are in data order and packed.
        var end = 0
        for entry in header.entries {
            XCTAssertEqual(entry.dataOffsets.lowerBound, end)
            end = entry.dataOffsets.upperBound
        }
        let fileSize = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: target.path)[.size] as? Int)
        XCTAssertEqual(header.dataStart + end, fileSize)
    }

    func testAMillionFloatsRoundTripQuickly() throws {
        let count = 1 << 20
        let big = (0..<count).map { Float($0 % 9973) * 0.5 - 100 }
        let original = SafeTensorsFile(
            metadata: ["format": "pt"],
            tensors: [
                "blocks.0.mlp.fc1.weight": NamedTensor(shape: [1024, 1024], values: big),
                "blocks.0.mlp.fc1.bias": NamedTensor(shape: [1024], values: Array(big.prefix(1024))),
            ])
        let target = url("big.safetensors")
        let start = Date()
        try original.write(to: target)
        let loaded = try SafeTensorsFile.read(from: target)
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(loaded, original)
        // Bulk copies take milliseconds; element-by-element appends in a debug build take far longer.
        XCTAssertLessThan(elapsed, 2.0, "writing and reading 1M floats took \(elapsed) s")
    }
}
