import Foundation
import ViTReports
import ViTTraining
import XCTest

/// Reading a run folder for `vit plot`: its metrics and recipe, or one sentence naming the
/// path and the cause.
final class RunOutputsTests: TemporaryFolderTestCase {

    func testAFolderWithoutMetricsIsNamed() {
        XCTAssertThrowsError(try RunOutputs(folder: folder)) { error in
            XCTAssertEqual(
                "\(error)", "\(folder.path)/metrics.jsonl does not exist: vit train writes it in the run's folder after each epoch")
        }
        XCTAssertThrowsError(try RunOutputs(folder: folder.appendingPathComponent("absent"))) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(folder.path)/absent is not a folder"), "\(error)")
        }
    }

    func testAnEmptyMetricsFileIsNamed() throws {
        try Data().write(to: folder.appendingPathComponent("metrics.jsonl"))
        XCTAssertThrowsError(try RunOutputs(folder: folder)) { error in
            XCTAssertEqual("\(error)", "\(folder.path)/metrics.jsonl has no epoch yet: the run ended before its first epoch")
        }
    }

    func testABrokenMetricsLineIsNamed() throws {
        let lines = Fixtures.epochLine(1, testTop1: 80, seconds: 10, imagesPerSecond: 100) + "\n{\"epoch\": 2}\n"
        try Data(lines.utf8).write(to: folder.appendingPathComponent("metrics.jsonl"))
        XCTAssertThrowsError(try RunOutputs(folder: folder)) { error in
            XCTAssertEqual("\(error)", "\(folder.path)/metrics.jsonl line 2 is not one epoch's metrics as vit train writes them")
        }
    }

    func testTheRecipeNamesTheDataSetAndTheAttentionOfTheRuns() throws {
        var options = TrainingOptions()
        options.epochs = 3
        options.trainingLimit = 1024
        try JSONEncoder().encode(options).write(to: folder.appendingPathComponent("config.json"))
        let lines = (1...3).map { Fixtures.epochLine($0, testTop1: 80, seconds: 10, imagesPerSecond: 100) + "\n" }
        try Data(lines.joined().utf8).write(to: folder.appendingPathComponent("metrics.jsonl"))
        let run = try RunOutputs(folder: folder)
        XCTAssertEqual(run.epochs.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(
            RunOutputs.subtitle(for: [run]), "fashion-mnist, 1024 training images, 3 epochs, muon lr 0.004, batch 128, seed 42, attention standard")
        var other = run
        other.options?.learningRate = 0.001
        XCTAssertEqual(RunOutputs.subtitle(for: [run, other]), "fashion-mnist; the runs' recipes differ (see each run's config.json)")
        other.options = nil
        XCTAssertEqual(RunOutputs.subtitle(for: [run, other]), "recipe unknown: a run has no config.json")
    }
}
