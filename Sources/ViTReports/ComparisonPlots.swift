/// The comparison's figures: test top-1 against training time, MACs and peak memory (one
/// labelled point per mechanism that finished), and the per-epoch test accuracy and epoch
/// time of every mechanism.
public enum ComparisonPlots {
    /// Every plot of a comparison of `entries`; `recipe` names the data set and recipe.
    public static func plots(for entries: [ComparisonEntry], recipe: String) -> [Plot] {
        let diverged = entries.filter { $0.summary == nil }.map(\.mechanism)
        // A diverged mechanism has no final accuracy: the subtitle says it is missing, and why.
        let subtitle = diverged.isEmpty ? recipe : recipe + " (not shown, diverged: \(diverged.joined(separator: ", ")))"
        func accuracy(against xLabel: String, fileName: String, title: String, x: (ComparisonEntry) -> Double?) -> Plot {
            let series = entries.compactMap { entry -> Plot.Series? in
                guard let summary = entry.summary, let value = x(entry) else { return nil }
                return Plot.Series(name: entry.mechanism, points: [Plot.Point(x: value, y: summary.top1)])
            }
            return Plot(
                fileName: fileName, title: title, subtitle: subtitle, xLabel: xLabel, yLabel: "test top-1 accuracy (%)", style: .labelledPoints,
                series: series)
        }
        let runs = entries.map { (name: $0.mechanism, epochs: $0.epochs) }
        return [
            accuracy(
                against: "training time (s, sum of the epochs' training time)", fileName: "accuracy_vs_training_time.png",
                title: "Test top-1 accuracy against training time", x: \.trainingSeconds),
            accuracy(
                against: "multiply-accumulates per image (millions)", fileName: "accuracy_vs_macs.png",
                title: "Test top-1 accuracy against MACs per image",
                x: { Double($0.multiplyAccumulates) / 1e6 }),
            accuracy(
                against: "peak device memory (MiB)", fileName: "accuracy_vs_peak_memory.png", title: "Test top-1 accuracy against peak memory",
                x: { $0.summary.map { Double($0.peakMemoryBytes) / 1_048_576 } }),
            EpochCurve.testTop1.plot(runs: runs, subtitle: recipe),
            EpochCurve.epochSeconds.plot(runs: runs, subtitle: recipe),
        ]
    }
}
