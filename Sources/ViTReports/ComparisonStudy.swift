import Foundation
import ViTSerialization
import ViTTraining

/// The folder of a `vit compare` study: one run folder per mechanism, named after it, the
/// summary.csv those runs append their rows to, and the table and plots made from them.
public struct ComparisonStudy {
    /// Where a mechanism stands in the study.
    public enum State {
        /// Not trained, or interrupted: it is (re)trained from the start.
        case toTrain
        /// Trained to the end, or diverged, with this recipe: it is not trained again.
        case done(ComparisonEntry)
    }

    public let folder: URL

    public init(folder: URL) {
        self.folder = folder
    }

    /// The run folder of `mechanism`.
    public func runFolder(for mechanism: String) -> URL {
        folder.appendingPathComponent(mechanism)
    }

    private var summaryURL: URL { folder.appendingPathComponent("summary.csv") }

    private func divergenceURL(for mechanism: String) -> URL {
        runFolder(for: mechanism).appendingPathComponent("divergence.json")
    }

    /// Where the run of `options` (whose experiment name is its mechanism) stands when trained
    /// on `device`. A folder holding a run of another recipe or device is an error, so one
    /// table never mixes recipes.
    public func state(of options: TrainingOptions, device: String) throws -> State {
        let mechanism = options.experimentName
        let run = runFolder(for: mechanism)
        let configuration = run.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configuration.path) else { return .toTrain }
        try requireSameRecipe(options, device: device, as: configuration)
        let divergence = divergenceURL(for: mechanism)
        let metrics = run.appendingPathComponent("metrics.jsonl")
        let epochs = FileManager.default.fileExists(atPath: metrics.path) ? try RunOutputs.readMetrics(metrics) : []
        if FileManager.default.fileExists(atPath: divergence.path) {
            let record = try decode(DivergenceRecord.self, from: divergence)
            return .done(ComparisonEntry(mechanism: mechanism, outcome: .diverged(record), epochs: epochs))
        }
        guard epochs.map(\.epoch) == Array(1...options.epochs), FileManager.default.fileExists(atPath: summaryURL.path),
            let summary = try RunSummary.latest(forExperiment: mechanism, inCSV: RunOutputs.readText(summaryURL), source: summaryURL.path)
        else { return .toTrain }
        return .done(ComparisonEntry(mechanism: mechanism, outcome: .finished(summary), epochs: epochs))
    }

    /// Records that `mechanism`'s training diverged, so the study reports it and does not train it again.
    public func recordDivergence(_ record: DivergenceRecord, mechanism: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(encoder.encode(record), to: divergenceURL(for: mechanism))
    }

    /// compare.md's heading for a study of `recipe`.
    public static func title(recipe: String) -> String {
        "Attention mechanisms compared: \(recipe)"
    }

    /// Writes compare.csv, compare.md and the plots that have points; returns the files
    /// written and the plots without points (every mechanism diverged), whose older files
    /// are removed so that none passes for this study's.
    public func writeReport(entries: [ComparisonEntry], recipe: String, plotter: Gnuplot) throws -> (written: [URL], notDrawn: [String]) {
        let table = ComparisonTable(entries: entries)
        let csv = folder.appendingPathComponent("compare.csv")
        let markdown = folder.appendingPathComponent("compare.md")
        try AtomicFile.write(Data(table.csv.utf8), to: csv)
        try AtomicFile.write(Data(table.markdown(title: Self.title(recipe: recipe)).utf8), to: markdown)
        let plots = ComparisonPlots.plots(for: entries, recipe: recipe)
        let notDrawn = plots.filter(\.isEmpty).map(\.fileName)
        for name in notDrawn { try? FileManager.default.removeItem(at: folder.appendingPathComponent(name)) }
        return (try [csv, markdown] + plotter.render(plots, into: folder), notDrawn)
    }

    /// Throws unless the run's config.json holds `options` and `device`.
    private func requireSameRecipe(_ options: TrainingOptions, device: String, as url: URL) throws {
        guard var stored = try JSONSerialization.jsonObject(with: Data(RunOutputs.readText(url).utf8)) as? [String: Any] else {
            throw ReportError.unreadableRun("\(url.path) is not a JSON object")
        }
        // The device's long name carries details (a thread count) that do not change the run.
        stored["device_name"] = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var expected = try JSONSerialization.jsonObject(with: encoder.encode(options)) as? [String: Any] ?? [:]
        expected["device"] = device
        let differing = Set(stored.keys).union(expected.keys).sorted().filter { key in
            guard let old = stored[key] as? NSObject, let new = expected[key] as? NSObject else { return true }
            return !old.isEqual(new)
        }
        guard differing.isEmpty else {
            throw ReportError.otherRecipe(
                "\(url.deletingLastPathComponent().path) holds a run of another recipe (it differs in \(differing.joined(separator: ", "))): "
                    + "remove that folder or give another --exp-name")
        }
    }

    private func decode<Value: Decodable>(_ type: Value.Type, from url: URL) throws -> Value {
        do {
            return try JSONDecoder().decode(type, from: Data(RunOutputs.readText(url).utf8))
        } catch let error as ReportError {
            throw error
        } catch {
            throw ReportError.unreadableRun("\(url.path) is not a record vit compare writes (\(error))")
        }
    }
}
