import Foundation
import ViTData
import XCTest

final class CIFARTests: XCTestCase {
    func testCIFAR10ReadsRecordsInFileOrder() throws {
        let folder = try TemporaryFolder()
        let sub = CIFAR.Variant.cifar10.archiveFolder
        for batch in 1...5 {
            // two records per file, labels (batch, 9 - batch)
            try folder.writePlain(
                "\(sub)/data_batch_\(batch).bin",
                FileContent.cifarRecords(labels: [[UInt8(batch)], [UInt8(9 - batch)]]))
        }
        try folder.writePlain("\(sub)/test_batch.bin", FileContent.cifarRecords(labels: [[0], [9], [4]]))

        // The parent folder works thanks to the archive subfolder lookup.
        let train = try CIFAR.load(variant: .cifar10, split: .train, directory: folder.path)
        XCTAssertEqual(train.count, 10)
        XCTAssertEqual(train.channels, 3)
        XCTAssertEqual(train.height, 32)
        XCTAssertEqual(train.width, 32)
        XCTAssertEqual(train.classCount, 10)
        XCTAssertEqual(train.labels, [1, 8, 2, 7, 3, 6, 4, 5, 5, 4])
        XCTAssertEqual(train.classNames[0], "airplane")
        let expectedSecond = (0..<3072).map { UInt8(truncatingIfNeeded: 11 + $0) }
        XCTAssertEqual(Array(train.image(at: 1)), expectedSecond)

        let test = try CIFAR.load(variant: .cifar10, split: .test, directory: folder.path + "/" + sub)
        XCTAssertEqual(test.labels, [0, 9, 4])
        // Channel planes are kept in CHW order: the green plane of record 0 starts at pixel 1024.
        XCTAssertEqual(test.images[1024], UInt8(1024 % 256))
        XCTAssertEqual(test.images[3072 + 2048], UInt8(truncatingIfNeeded: 11 + 2048))
    }

    func testCIFAR100UsesFineLabels() throws {
        let folder = try TemporaryFolder()
        try folder.writePlain("train.bin", FileContent.cifarRecords(labels: [[1, 99], [19, 42], [0, 0]]))
        try folder.writePlain("test.bin", FileContent.cifarRecords(labels: [[5, 77]]))
        let train = try DatasetKind.cifar100.load(split: .train, directory: folder.path)
        XCTAssertEqual(train.labels, [99, 42, 0])
        XCTAssertEqual(train.classCount, 100)
        XCTAssertEqual(train.channels, 3)
        XCTAssertEqual(Array(train.image(at: 2)), (0..<3072).map { UInt8(truncatingIfNeeded: 22 + $0) })
        let test = try CIFAR.load(variant: .cifar100, split: .test, directory: folder.path)
        XCTAssertEqual(test.labels, [77])
    }

    func testWrongLengthNamesTheFile() throws {
        let folder = try TemporaryFolder()
        var content = FileContent.cifarRecords(labels: [[1, 2], [3, 4]])
        content.removeLast()
        try folder.writePlain("test.bin", content)
        assertDataError(["test.bin", "6147", "record size 3074"]) {
            _ = try CIFAR.load(variant: .cifar100, split: .test, directory: folder.path)
        }
    }

    func testLabelOutOfRangeNamesTheFile() throws {
        let folder = try TemporaryFolder()
        try folder.writePlain("test_batch.bin", FileContent.cifarRecords(labels: [[3], [10]]))
        assertDataError(["test_batch.bin", "label 10", "record 1"]) {
            _ = try CIFAR.load(variant: .cifar10, split: .test, directory: folder.path)
        }
        try folder.writePlain("test.bin", FileContent.cifarRecords(labels: [[0, 100]]))
        assertDataError(["test.bin", "label 100"]) {
            _ = try CIFAR.load(variant: .cifar100, split: .test, directory: folder.path)
        }
    }

    func testMissingFilesListsExpectedFilesAndFolders() throws {
        let folder = try TemporaryFolder()
        try folder.writePlain("data_batch_1.bin", FileContent.cifarRecords(labels: [[1]]))
        assertDataError(["CIFAR-10", "data_batch_2.bin", "data_batch_5.bin", folder.path, "cifar-10-batches-bin", "--data-dir"]) {
            _ = try CIFAR.load(variant: .cifar10, split: .train, directory: folder.path)
        }
        assertDataError(["CIFAR-100", "test.bin", "cifar-100-binary"]) {
            _ = try CIFAR.load(variant: .cifar100, split: .test, directory: folder.path)
        }
    }
}
