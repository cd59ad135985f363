import Foundation
import ViTTraining

/// What `vit train` left in one run folder: its per-epoch metrics (metrics.jsonl) and its
/// recipe (config.json).
public struct RunOutputs {
    /// The run's name in legends: its folder's name.
    public var name: String
    public var epochs: [EpochMetrics]
    /// The recipe the run was trained with, or nil when the folder has no config.json.
    public var options: TrainingOptions?

    public init(name: String, epochs: [EpochMetrics], options: TrainingOptions?) {
        self.name = name
        self.epochs = epochs
        self.options = options
    }

    /// Reads `folder`; an error names the path and what is wrong with it.
    public init(folder: URL) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw ReportError.unreadableRun("\(folder.path) is not a folder: give the folder of a run, such as outputs/vit")
        }
        name = folder.standardizedFileURL.lastPathComponent
        let metrics = folder.appendingPathComponent("metrics.jsonl")
        epochs = try Self.readMetrics(metrics)
        guard !epochs.isEmpty else { throw ReportError.unreadableRun("\(metrics.path) has no epoch yet: the run ended before its first epoch") }
        options = try Self.readOptions(folder.appendingPathComponent("config.json"))
    }

    /// The epochs of a metrics.jsonl in epoch order (none for an empty file, which a run
    /// stopped in its first epoch leaves); a missing file is an error.
    static func readMetrics(_ url: URL) throws -> [EpochMetrics] {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ReportError.unreadableRun("\(url.path) does not exist: vit train writes it in the run's folder after each epoch")
        }
        let text = try readText(url)
        let decoder = JSONDecoder()
        let epochs = try text.split(separator: "\n").enumerated().map { number, line in
            do {
                return try decoder.decode(EpochMetrics.self, from: Data(line.utf8))
            } catch {
                throw ReportError.unreadableRun("\(url.path) line \(number + 1) is not one epoch's metrics as vit train writes them")
            }
        }
        return epochs.sorted { $0.epoch < $1.epoch }
    }

    /// The options of a config.json, or nil when there is none.
    static func readOptions(_ url: URL) throws -> TrainingOptions? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            return try JSONDecoder().decode(TrainingOptions.self, from: Data(readText(url).utf8))
        } catch let error as ReportError {
            throw error
        } catch {
            throw ReportError.unreadableRun("\(url.path) is not the config.json of a vit train run (\(error))")
        }
    }

    /// A text file's contents, or an error naming it.
    static func readText(_ url: URL) throws -> String {
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ReportError.unreadableRun("\(url.path) cannot be read as UTF-8 text (\(error.localizedDescription))")
        }
    }
}

extension RunOutputs {
    /// The second title line of plots of `runs`: their shared recipe and attention, or the
    /// data sets and a note where the recipes differ or are unknown.
    public static func subtitle(for runs: [RunOutputs]) -> String {
        let options = runs.compactMap(\.options)
        guard options.count == runs.count else { return "recipe unknown: a run has no config.json" }
        let recipes = Set(options.map(\.recipeDescription))
        let mechanisms = Set(options.map(\.model.attention.kind.rawValue))
        guard recipes.count == 1, let recipe = recipes.first else {
            return Set(options.map(\.dataset)).sorted().joined(separator: ", ") + "; the runs' recipes differ (see each run's config.json)"
        }
        return mechanisms.count == 1 ? recipe + ", attention " + mechanisms.first! : recipe
    }
}

extension TrainingOptions {
    /// The recipe in one line for plot titles, without the attention mechanism (which the
    /// legends name): "fashion-mnist, 1024 training images, 1 epoch, muon lr 0.004, batch 128, seed 42".
    public var recipeDescription: String {
        let images = trainingLimit.map { "\($0) training images" } ?? "all training images"
        let epochText = epochs == 1 ? "1 epoch" : "\(epochs) epochs"
        return "\(dataset), \(images), \(epochText), \(optimizer) lr \(learningRate), batch \(batchSize), seed \(seed)"
    }
}
