import Foundation
import ViTReports
import ViTTraining

/// Known runs for the report tests: a finished one, a diverged one, and a finished one whose
/// latency is not a number.
enum Fixtures {
    /// Epochs decoded from metrics.jsonl lines, as the trainer writes them.
    static func epochs(_ lines: [String]) -> [EpochMetrics] {
        lines.map { try! JSONDecoder().decode(EpochMetrics.self, from: Data($0.utf8)) }
    }

    static func epochLine(_ epoch: Int, testTop1: Double, seconds: Double, imagesPerSecond: Double) -> String {
        "{\"epoch\":\(epoch),\"train_loss\":\(2.0 / Double(epoch)),\"train_top1\":\(testTop1 - 2),\"test_loss\":\(1.5 / Double(epoch)),"
            + "\"test_top1\":\(testTop1),\"test_top5\":99,\"lr\":\(0.004 / Double(epoch)),\"epoch_seconds\":\(seconds),"
            + "\"images_per_second\":\(imagesPerSecond)}"
    }

    static let standard = ComparisonEntry(
        mechanism: "standard",
        outcome: .finished(
            RunSummary(
                experiment: "standard", attention: "standard", device: "cpu", parameters: 117658, multiplyAccumulates: 4_068_192,
                peakMemoryBytes: 185_756_120, latencyMilliseconds: 0.6058, top1: 90.55, top5: 99.64, trainingSeconds: 215.2)),
        epochs: epochs([
            epochLine(1, testTop1: 82.1, seconds: 100, imagesPerSecond: 600), epochLine(2, testTop1: 90.55, seconds: 110, imagesPerSecond: 540),
        ]))

    static let linear = ComparisonEntry(
        mechanism: "linear",
        outcome: .diverged(
            DivergenceRecord(
                message: "the training loss became NaN or infinite at epoch 2, step 3/8 (lr 0.004)", parameters: 117000,
                multiplyAccumulates: 3_000_000)),
        epochs: epochs([epochLine(1, testTop1: 70, seconds: 50, imagesPerSecond: 1200)]))

    static let performer = ComparisonEntry(
        mechanism: "performer",
        outcome: .finished(
            RunSummary(
                experiment: "performer", attention: "performer", device: "cpu", parameters: 120_000, multiplyAccumulates: 5_000_000,
                peakMemoryBytes: 104_857_600, latencyMilliseconds: .nan, top1: 85.126, top5: 99.5, trainingSeconds: 90)),
        epochs: epochs([
            epochLine(1, testTop1: 80, seconds: 40, imagesPerSecond: 1500), epochLine(2, testTop1: 85.126, seconds: 44, imagesPerSecond: 1400),
        ]))
}
