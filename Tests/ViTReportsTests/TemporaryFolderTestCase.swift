import Foundation
import ViTReports
import XCTest

/// A test case with a fresh folder for the files it writes, removed afterwards, and gnuplot to draw them.
class TemporaryFolderTestCase: XCTestCase {
    private(set) var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vit-reports-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    /// gnuplot, or a skip that says why the plots are not drawn.
    func plotter() throws -> Gnuplot {
        do {
            return try Gnuplot()
        } catch ReportError.plotterMissing(let message) {
            throw XCTSkip("plots are not drawn: \(message)")
        }
    }

    /// The PNG at `url`, checked to be at least 1000 x 700 pixels and not blank.
    func drawnImage(_ url: URL, file: StaticString = #filePath, line: UInt = #line) throws -> PNGImage {
        let image = try PNGImage(contentsOf: url)
        XCTAssertGreaterThanOrEqual(image.width, 1000, url.lastPathComponent, file: file, line: line)
        XCTAssertGreaterThanOrEqual(image.height, 700, url.lastPathComponent, file: file, line: line)
        XCTAssertGreaterThan(Set(image.pixels).count, 2, "\(url.lastPathComponent) is blank", file: file, line: line)
        return image
    }
}
