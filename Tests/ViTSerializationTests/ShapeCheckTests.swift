import Foundation
import XCTest

@testable import ViTSerialization

final class ShapeCheckTests: TemporaryDirectoryTestCase {
    private let checkpoint = SafeTensorsFile(tensors: [
        "cls_token": NamedTensor(shape: [1, 1, 4], values: [0, 0, 0, 0]),
        "blocks.0.attn.qkv.weight": NamedTensor(shape: [12, 4], values: Array(repeating: 0, count: 48)),
        "blocks.0.attn.qkv.bias": NamedTensor(shape: [12], values: Array(repeating: 0, count: 12)),
        "head.weight": NamedTensor(shape: [10, 4], values: Array(repeating: 0, count: 40)),
    ])

    private let modelShapes: [(name: String, shape: [Int])] = [
        ("head.weight", [10, 4]),
        ("blocks.0.attn.qkv.bias", [12]),
        ("cls_token", [1, 1, 4]),
        ("blocks.0.attn.qkv.weight", [12, 4]),
    ]

    func testMatchingShapesPassInAnyOrder() throws {
        try checkpoint.requireShapes(modelShapes)
        try checkpoint.requireShapes(modelShapes.reversed())
        try checkpoint.requireShapes(checkpoint.shapes)
        var dictionary = checkpoint.shapes
        dictionary["head.weight"] = [10, 5]
        XCTAssertThrowsError(try checkpoint.requireShapes(dictionary)) { error in
            XCTAssertTrue("\(error)".contains("'head.weight' has shape [10, 4] but [10, 5] was expected"), "\(error)")
        }
    }

    func testDifferingShapeNamesTheTensorAndBothShapes() throws {
        var expected = modelShapes
        expected[3] = ("blocks.0.attn.qkv.weight", [12, 8])
        XCTAssertThrowsError(try checkpoint.requireShapes(expected, file: "runs/last.safetensors")) { error in
            XCTAssertEqual(
                error as? SerializationError,
                .tensorSetMismatch(
                    file: "runs/last.safetensors", missing: [], unexpected: [],
                    differing: [ShapeDifference(name: "blocks.0.attn.qkv.weight", expected: [12, 8], actual: [12, 4])]))
            let message = "\(error)"
            XCTAssertTrue(message.contains("runs/last.safetensors"), message)
            XCTAssertTrue(message.contains("'blocks.0.attn.qkv.weight' has shape [12, 4] but [12, 8] was expected"), message)
        }
    }

    func testMissingAndUnexpectedTensorsAreListed() throws {
        var expected = modelShapes.filter { $0.name != "head.weight" }
        expected.append(("head.fc.weight", [10, 4]))
        expected.append(("pos_embed", [1, 5, 4]))
        XCTAssertThrowsError(try checkpoint.requireShapes(expected)) { error in
            guard case .tensorSetMismatch(_, let missing, let unexpected, let differing)? = error as? SerializationError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(missing, ["head.fc.weight", "pos_embed"])
            XCTAssertEqual(unexpected, ["head.weight"])
            XCTAssertEqual(differing, [])
            let message = "\(error)"
            XCTAssertTrue(message.contains("missing tensors 'head.fc.weight', 'pos_embed'"), message)
            XCTAssertTrue(message.contains("unexpected tensor 'head.weight'"), message)
        }
        // Ignoring unexpected tensors still reports the missing ones.
        XCTAssertThrowsError(try checkpoint.requireShapes(expected, allowUnexpected: true)) { error in
            guard case .tensorSetMismatch(_, let missing, let unexpected, _)? = error as? SerializationError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(missing.count, 2)
            XCTAssertEqual(unexpected, [])
        }
        try checkpoint.requireShapes(Array(modelShapes.prefix(2)), allowUnexpected: true)
    }

    func testScalarAndLongListsAreReadable() throws {
        let file = SafeTensorsFile(tensors: ["scale": NamedTensor(scalar: 1)])
        let expected = [("scale", [1])] + (0..<15).map { ("missing.\($0)", [2]) }
        XCTAssertThrowsError(try file.requireShapes(expected)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("'scale' has shape [] but [1] was expected"), message)
            XCTAssertTrue(message.contains("and 5 more"), message)
        }
    }

    func testHeaderCheckWorksOnAFileOnDisk() throws {
        let target = url("resume.safetensors")
        try checkpoint.write(to: target)
        let header = try SafeTensorsFile.readHeader(from: target)
        try header.requireShapes(modelShapes, file: target.path)
        XCTAssertThrowsError(try header.requireShapes([("cls_token", [1, 1, 8])], file: target.path, allowUnexpected: true)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("resume.safetensors"), message)
            XCTAssertTrue(message.contains("'cls_token' has shape [1, 1, 4] but [1, 1, 8] was expected"), message)
        }
    }
}
