import ViTTraining

/// A per-epoch quantity drawn as one line per run (and per split, for loss and accuracy).
public struct EpochCurve: Sendable {
    public var fileName: String
    public var title: String
    public var yLabel: String
    /// The lines each run contributes: a suffix for the legend ("train", "test"; empty for
    /// a single line) and the value of an epoch.
    public var lines: [(suffix: String, value: @Sendable (EpochMetrics) -> Double)]

    /// Training and test loss.
    public static let loss = EpochCurve(
        fileName: "loss.png", title: "Loss per epoch", yLabel: "cross-entropy loss (train: with label smoothing)",
        lines: [("train", { $0.trainLoss }), ("test", { $0.testLoss })])
    /// Training and test top-1 accuracy.
    public static let top1 = EpochCurve(
        fileName: "top1.png", title: "Top-1 accuracy per epoch", yLabel: "top-1 accuracy (%)",
        lines: [("train", { $0.trainTop1 }), ("test", { $0.testTop1 })])
    /// Test top-1 accuracy alone (the comparison's curve).
    public static let testTop1 = EpochCurve(
        fileName: "test_top1_per_epoch.png", title: "Test top-1 accuracy per epoch", yLabel: "test top-1 accuracy (%)",
        lines: [("", { $0.testTop1 })])
    /// The learning rate of each epoch's last step.
    public static let learningRate = EpochCurve(
        fileName: "lr.png", title: "Learning rate at the end of each epoch", yLabel: "learning rate", lines: [("", { Double($0.learningRate) })])
    /// Each epoch's training time.
    public static let epochSeconds = EpochCurve(
        fileName: "epoch_seconds.png", title: "Training time per epoch", yLabel: "epoch time (s, training only)",
        lines: [("", { $0.epochSeconds })])

    /// The plot of this quantity for `runs` (a name and its epochs each).
    public func plot(runs: [(name: String, epochs: [EpochMetrics])], subtitle: String) -> Plot {
        let series = runs.flatMap { run in
            lines.map { line in
                Plot.Series(
                    name: line.suffix.isEmpty ? run.name : "\(run.name) \(line.suffix)",
                    points: run.epochs.map { Plot.Point(x: Double($0.epoch), y: line.value($0)) })
            }
        }
        return Plot(
            fileName: fileName, title: title, subtitle: subtitle, xLabel: "epoch", yLabel: yLabel, style: .lines, series: series, integerX: true)
    }
}
