import Foundation

/// The comparison's table, as compare.csv and compare.md: one row per mechanism. A figure a
/// run does not have (a diverged run's accuracy, or any value that is not finite) is left
/// empty in the CSV and written "n/a" in Markdown, never as a number.
public struct ComparisonTable {
    public var entries: [ComparisonEntry]

    public init(entries: [ComparisonEntry]) {
        self.entries = entries
    }

    /// The columns: a CSV name, a Markdown heading, and each entry's value as text.
    private static let columns: [(csv: String, heading: String, value: (ComparisonEntry) -> String?)] = [
        ("parameters", "parameters", { "\($0.parameters)" }),
        ("macs_per_image", "MACs per image", { "\($0.multiplyAccumulates)" }),
        ("train_images_per_second", "train img/s", { number($0.imagesPerSecond, "%.1f") }),
        ("epoch_seconds", "epoch s", { number($0.meanEpochSeconds, "%.2f") }),
        ("peak_memory_mib", "peak memory MiB", { number($0.summary.map { Double($0.peakMemoryBytes) / 1_048_576 }, "%.1f") }),
        ("latency_ms_per_image", "inference ms/image", { number($0.summary?.latencyMilliseconds, "%.4f") }),
        ("top1", "top-1 %", { number($0.summary?.top1, "%.2f") }),
        ("top5", "top-5 %", { number($0.summary?.top5, "%.2f") }),
    ]

    /// `value` with `format`, or nil when there is none or it is not finite.
    private static func number(_ value: Double?, _ format: String) -> String? {
        guard let value, value.isFinite else { return nil }
        return String(format: format, value)
    }

    private static func status(of entry: ComparisonEntry) -> String {
        entry.summary == nil ? "diverged" : "finished"
    }

    /// compare.csv: a header, then one line per mechanism.
    public var csv: String {
        let header = ["mechanism", "status"] + Self.columns.map(\.csv)
        let rows = entries.map { entry in [entry.mechanism, Self.status(of: entry)] + Self.columns.map { $0.value(entry) ?? "" } }
        return ([header] + rows).map { $0.joined(separator: ",") + "\n" }.joined()
    }

    /// compare.md: `title` as a heading, the table, and a line per diverged mechanism with
    /// the trainer's message.
    public func markdown(title: String) -> String {
        let header = ["mechanism", "status"] + Self.columns.map(\.heading)
        let alignment = ["---", "---"] + Self.columns.map { _ in "---:" }
        let rows = entries.map { entry in [entry.mechanism, Self.status(of: entry)] + Self.columns.map { $0.value(entry) ?? "n/a" } }
        var text = "# \(title)\n\n"
        text += ([header, alignment] + rows).map { "| " + $0.joined(separator: " | ") + " |\n" }.joined()
        let notes = entries.compactMap { entry -> String? in
            guard case .diverged(let record) = entry.outcome else { return nil }
            return "- \(entry.mechanism) diverged after \(entry.epochs.count) complete epoch(s): \(record.message)\n"
        }
        if !notes.isEmpty { text += "\n" + notes.joined() }
        text +=
            "\nTrain img/s: training images over the epochs' time; epoch s: the mean epoch (training only); "
            + "peak memory: the most bytes tensors held on the device; inference: the mean forward pass per image at the test batch size; "
            + "top-1 and top-5: test accuracy after the last epoch.\n"
        return text
    }
}
