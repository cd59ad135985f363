import Foundation
import ViTData
import XCTest

final class FashionMNISTTests: XCTestCase {
    /// Writes a tiny Fashion-MNIST-shaped split (gzip IDX files) and returns its folder.
    private func writeSplit(_ folder: TemporaryFolder, split: DatasetSplit, labels: [UInt8]) throws {
        let names = FashionMNIST.fileNames(for: split)
        let pixels = FileContent.imagePixels(count: labels.count, rows: 28, columns: 28)
        try folder.writeGzip(names.images, FileContent.idx(dimensions: [labels.count, 28, 28], payload: pixels))
        try folder.writeGzip(names.labels, FileContent.idx(dimensions: [labels.count], payload: labels))
    }

    func testLoadsFromAGivenFolder() throws {
        let folder = try TemporaryFolder()
        try writeSplit(folder, split: .test, labels: [3, 1, 4, 1, 5])
        let dataset = try FashionMNIST.load(split: .test, directory: folder.path)
        XCTAssertEqual(dataset.count, 5)
        XCTAssertEqual(dataset.channels, 1)
        XCTAssertEqual(dataset.height, 28)
        XCTAssertEqual(dataset.width, 28)
        XCTAssertEqual(dataset.classCount, 10)
        XCTAssertEqual(dataset.labels, [3, 1, 4, 1, 5])
        XCTAssertEqual(dataset.images, FileContent.imagePixels(count: 5, rows: 28, columns: 28))
        XCTAssertEqual(dataset.classNames[9], "Ankle boot")
        XCTAssertEqual(dataset.name, "fashion-mnist/test")

        let viaKind = try DatasetKind.fashionMNIST.load(split: .test, directory: folder.path)
        XCTAssertEqual(viaKind.labels, dataset.labels)
    }

    func testMissingFolderSaysHowToInstall() {
        let absent = NSTemporaryDirectory() + "no-such-fashion-mnist-" + UUID().uuidString
        assertDataError(["dataset-fashion-mnist", "sudo apt-get install", "--data-dir", absent, "t10k-images-idx3-ubyte.gz"]) {
            _ = try FashionMNIST.load(split: .test, directory: absent)
        }
    }

    func testMissingLabelFileIsNamed() throws {
        let folder = try TemporaryFolder()
        try writeSplit(folder, split: .train, labels: [0, 1])
        try FileManager.default.removeItem(atPath: folder.path + "/" + FashionMNIST.fileNames(for: .train).labels)
        assertDataError(["train-labels-idx1-ubyte.gz", "dataset-fashion-mnist"]) {
            _ = try FashionMNIST.load(split: .train, directory: folder.path)
        }
    }

    func testLabelOutOfRangeAndCountMismatch() throws {
        let folder = try TemporaryFolder()
        try writeSplit(folder, split: .test, labels: [0, 10])
        assertDataError(["t10k-labels-idx1-ubyte.gz", "label 10"]) {
            _ = try FashionMNIST.load(split: .test, directory: folder.path)
        }
        let names = FashionMNIST.fileNames(for: .test)
        try folder.writeGzip(names.labels, FileContent.idx(dimensions: [3], payload: [0, 1, 2]))
        assertDataError(["t10k-labels-idx1-ubyte.gz", "3 labels", "2 images"]) {
            _ = try FashionMNIST.load(split: .test, directory: folder.path)
        }
    }

    func testRealTestSplitWhenInstalled() throws {
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else {
            throw XCTSkip("\(FashionMNIST.defaultDirectory) is not installed")
        }
        let dataset = try FashionMNIST.load(split: .test)
        XCTAssertEqual(dataset.count, 10000)
        XCTAssertEqual(dataset.height, 28)
        XCTAssertEqual(dataset.width, 28)
        XCTAssertEqual(dataset.channels, 1)
        XCTAssertEqual(dataset.images.count, 10000 * 28 * 28)
        XCTAssertEqual(dataset.classCounts(), [Int](repeating: 1000, count: 10))
        XCTAssertEqual(dataset.labels.min(), 0)
        XCTAssertEqual(dataset.labels.max(), 9)
        // Real images are not blank: some dark and some bright pixels.
        XCTAssertEqual(dataset.images.min(), 0)
        XCTAssertEqual(dataset.images.max(), 255)
    }
}
