import Foundation
import ViTReports
import ViTTraining
import XCTest

/// What a study folder says about each mechanism: to train, done (finished or diverged), or
/// another recipe's run, which stops the study before any training. Run folders are made
/// here as vit train leaves them.
final class ComparisonStudyTests: TemporaryFolderTestCase {
    private var study: ComparisonStudy { ComparisonStudy(folder: folder) }

    private func options(epochs: Int = 2) -> TrainingOptions {
        var options = TrainingOptions()
        options.experimentName = "standard"
        options.outputDirectory = study.folder.path
        options.epochs = epochs
        options.trainingLimit = 1024
        return options
    }

    /// Writes the run folder of `options` as the trainer does: config.json (with the device),
    /// and the first `epochs` lines of metrics.jsonl.
    private func writeRun(_ options: TrainingOptions, epochs: Int) throws {
        let folder = study.runFolder(for: options.experimentName)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(options)) as! [String: Any]
        object["device"] = "cpu"
        object["device_name"] = "CPU backend (OpenBLAS, 2 threads)"
        try JSONSerialization.data(withJSONObject: object).write(to: folder.appendingPathComponent("config.json"))
        let lines = (1...epochs).map { Fixtures.epochLine($0, testTop1: 80 + Double($0), seconds: 10, imagesPerSecond: 100) }
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: folder.appendingPathComponent("metrics.jsonl"))
    }

    private func writeSummary(rows: [String]) throws {
        let header =
            "experiment,attention,device,params,macs_per_image,peak_memory_bytes,latency_ms_per_image,latency_std_ms,top1,top5,training_seconds"
        try Data(([header] + rows).map { $0 + "\n" }.joined().utf8).write(to: study.folder.appendingPathComponent("summary.csv"))
    }

    func testAnEmptyFolderTrainsEveryMechanism() throws {
        guard case .toTrain = try study.state(of: options(), device: "cpu") else { return XCTFail("expected toTrain") }
    }

    func testAFinishedRunIsDoneWithTheLatestSummaryRow() throws {
        try writeRun(options(), epochs: 2)
        try writeSummary(rows: [
            "standard,standard,cpu,100,200,300,0.5,0.01,70.00,95.00,20.0", "linear,linear,cpu,1,2,3,0.1,0.01,60.00,90.00,10.0",
            "standard,standard,cpu,117658,4068192,185756120,0.6058,0.0246,82.00,99.00,21.5",
        ])
        guard case .done(let entry) = try study.state(of: options(), device: "cpu") else { return XCTFail("expected done") }
        XCTAssertEqual(entry.summary?.top1, 82)
        XCTAssertEqual(entry.summary?.peakMemoryBytes, 185_756_120)
        XCTAssertEqual(entry.epochs.map(\.epoch), [1, 2])
    }

    func testAnInterruptedRunIsTrainedAgain() throws {
        // One of two epochs, and a summary row of nothing: the run did not end.
        try writeRun(options(), epochs: 1)
        try writeSummary(rows: [])
        guard case .toTrain = try study.state(of: options(), device: "cpu") else { return XCTFail("expected toTrain") }
    }

    func testADivergedRunIsDoneAndNotTrainedAgain() throws {
        try writeRun(options(), epochs: 1)
        let record = DivergenceRecord(message: "the training loss became NaN", parameters: 10, multiplyAccumulates: 20)
        try study.recordDivergence(record, mechanism: "standard")
        guard case .done(let entry) = try study.state(of: options(), device: "cpu") else { return XCTFail("expected done") }
        XCTAssertEqual(entry.outcome, .diverged(record))
        XCTAssertEqual(entry.epochs.count, 1)
    }

    func testARunThatDivergedInItsFirstEpochIsDoneWithoutEpochs() throws {
        // The trainer leaves an empty metrics.jsonl when no epoch completed.
        try writeRun(options(), epochs: 1)
        try Data().write(to: study.runFolder(for: "standard").appendingPathComponent("metrics.jsonl"))
        let record = DivergenceRecord(message: "the training loss became NaN at epoch 1, step 2/8", parameters: 10, multiplyAccumulates: 20)
        try study.recordDivergence(record, mechanism: "standard")
        guard case .done(let entry) = try study.state(of: options(), device: "cpu") else { return XCTFail("expected done") }
        XCTAssertEqual(entry.epochs.count, 0)
        XCTAssertNil(entry.imagesPerSecond)
        XCTAssertEqual(ComparisonTable(entries: [entry]).csv.split(separator: "\n").last, "standard,diverged,10,20,,,,,,")
    }

    func testAnotherRecipeOrDeviceInTheFolderIsRefusedByName() throws {
        try writeRun(options(epochs: 3), epochs: 3)
        XCTAssertThrowsError(try study.state(of: options(), device: "cpu")) { error in
            XCTAssertEqual(
                "\(error)",
                "\(study.runFolder(for: "standard").path) holds a run of another recipe (it differs in epochs): remove that folder or give another --exp-name"
            )
        }
        XCTAssertThrowsError(try study.state(of: options(epochs: 3), device: "opencl:0")) { error in
            XCTAssertTrue("\(error)".contains("it differs in device"), "\(error)")
        }
    }

    func testAMalformedSummaryRowIsNamed() throws {
        try writeRun(options(), epochs: 2)
        try writeSummary(rows: ["standard,standard,cpu,many,200,300,0.5,0.01,70.00,95.00,20.0"])
        XCTAssertThrowsError(try study.state(of: options(), device: "cpu")) { error in
            XCTAssertEqual("\(error)", "\(study.folder.path)/summary.csv line 2: params 'many' is not a number")
        }
    }
}
