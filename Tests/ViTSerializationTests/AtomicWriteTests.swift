import Foundation
import XCTest

@testable import ViTSerialization

final class AtomicWriteTests: TemporaryDirectoryTestCase {
    private let first = SafeTensorsFile(
        metadata: ["epoch": "1"],
        tensors: ["w": NamedTensor(shape: [2, 2], values: [1, 2, 3, 4])])
    private let second = SafeTensorsFile(
        metadata: ["epoch": "2"],
        tensors: ["w": NamedTensor(shape: [3], values: [5, 6, 7]), "b": NamedTensor(scalar: 8)])

    func testWriteLeavesOnlyTheTargetFile() throws {
        let target = url("checkpoint.safetensors")
        try first.write(to: target)
        XCTAssertEqual(try directoryListing(), ["checkpoint.safetensors"])
        XCTAssertEqual(try SafeTensorsFile.read(from: target), first)
    }

    func testExistingFileIsReplacedIntact() throws {
        let target = url("checkpoint.safetensors")
        try first.write(to: target)
        let firstSize = try Data(contentsOf: target).count
        try second.write(to: target)
        XCTAssertEqual(try directoryListing(), ["checkpoint.safetensors"])
        XCTAssertEqual(try SafeTensorsFile.read(from: target), second)
        XCTAssertEqual(try Data(contentsOf: target), try second.encoded())
        XCTAssertNotEqual(try Data(contentsOf: target).count, firstSize)
        // Replacing a longer file with a shorter one leaves no stale tail bytes.
        try first.write(to: target)
        XCTAssertEqual(try Data(contentsOf: target), try first.encoded())
    }

    func testInvalidTensorsAreRejectedBeforeTouchingTheTarget() throws {
        let target = url("checkpoint.safetensors")
        try first.write(to: target)
        let before = try Data(contentsOf: target)
        let cases: [(NamedTensor, String, String)] = [
            (NamedTensor(shape: [2, 3], values: [1, 2, 3]), "bad", "6 elements but 3 values"),
            (NamedTensor(shape: [-1], values: []), "negative", "negative"),
            (NamedTensor(shape: [Int.max, 2], values: []), "overflow", "overflows"),
            (NamedTensor(scalar: 1), "__metadata__", "reserved"),
        ]
        for (tensor, name, fragment) in cases {
            var broken = second
            broken[name] = tensor
            XCTAssertThrowsError(try broken.write(to: target)) { error in
                guard case .invalidTensor(let file, let tensorName, let detail)? = error as? SerializationError else {
                    return XCTFail("expected invalidTensor, got \(error)")
                }
                XCTAssertEqual(file, target.path)
                XCTAssertEqual(tensorName, name)
                XCTAssertTrue(detail.contains(fragment), detail)
                XCTAssertTrue("\(error)".contains("checkpoint.safetensors"))
            }
            XCTAssertThrowsError(try broken.encoded())
        }
        XCTAssertEqual(try Data(contentsOf: target), before)
        XCTAssertEqual(try directoryListing(), ["checkpoint.safetensors"])
    }

    func testFailedRenameRemovesTheTemporaryFile() throws {
        // A non-empty folder where the file should go makes the final rename fail after the
        // temporary file has been written and synced.
        let target = url("occupied")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        try Data([1, 2, 3]).write(to: target.appendingPathComponent("keep"))
        XCTAssertThrowsError(try first.write(to: target)) { error in
            guard case .io(let file, let operation, _)? = error as? SerializationError else {
                return XCTFail("expected an io error, got \(error)")
            }
            XCTAssertEqual(file, target.path)
            XCTAssertTrue(operation.contains("renaming"), operation)
        }
        XCTAssertEqual(try directoryListing(), ["occupied"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target.path), ["keep"])
    }

    func testWritingIntoAMissingFolderNamesTheFile() throws {
        let target = url("no-such-folder").appendingPathComponent("model.safetensors")
        XCTAssertThrowsError(try first.write(to: target)) { error in
            guard case .io(let file, let operation, _)? = error as? SerializationError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, target.path)
            XCTAssertTrue(operation.contains("temporary file"), operation)
            XCTAssertTrue("\(error)".contains("no-such-folder/model.safetensors"), "\(error)")
        }
        XCTAssertEqual(try directoryListing(), [])
    }

    func testConcurrentWritersToTheSameTargetLeaveOneCompleteFile() throws {
        let target = url("race.safetensors")
        let files = [first, second]
        let errors = ErrorCollector()
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            do {
                try files[index % 2].write(to: target)
            } catch {
                errors.append(error)
            }
        }
        XCTAssertTrue(errors.isEmpty, "\(errors)")
        let loaded = try SafeTensorsFile.read(from: target)
        XCTAssertTrue(loaded == first || loaded == second)
        XCTAssertEqual(try directoryListing(), ["race.safetensors"])
    }
}

/// Errors gathered from several threads.
private final class ErrorCollector: @unchecked Sendable, CustomStringConvertible {
    private let lock = NSLock()
    private var errors: [Error] = []

    func append(_ error: Error) {
        lock.lock()
        errors.append(error)
        lock.unlock()
    }

    var isEmpty: Bool {
        lock.lock()
        defer { lock.unlock() }
        return errors.isEmpty
    }

    var description: String {
        lock.lock()
        defer { lock.unlock() }
        return "\(errors)"
    }
}
