import Foundation
import ViTData
import XCTest

/// A test case that trains on Fashion-MNIST: skipped where the data set is not installed,
/// with an output folder of its own per test (not created), removed afterwards.
class TrainingOutputTestCase: XCTestCase {
    /// This test's output folder.
    var output: URL!

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else {
            throw XCTSkip("Fashion-MNIST is not installed (Tools/setup.sh installs dataset-fashion-mnist)")
        }
        output = FileManager.default.temporaryDirectory.appendingPathComponent("vit-\(type(of: self))-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        if let output { try? FileManager.default.removeItem(at: output) }
    }
}
