import Foundation
import ViTCore
import ViTNN
import ViTSerialization

/// A checkpoint to continue training from: its model file and the optimizer file beside it,
/// read and checked to be one pair (the same run and step), with the configuration and
/// recipe they were written with.
public struct ResumePoint {
    /// The model file.
    public let url: URL
    let model: SafeTensorsFile
    let optimizerState: SafeTensorsFile
    /// The last finished epoch.
    public let epoch: Int
    /// Optimisation steps taken.
    public let step: Int
    /// The run both files belong to (nil in a checkpoint written before runs had one).
    public let runIdentifier: String?
    /// The model configuration stored in the checkpoint (nil: none stored).
    public let configuration: ViTConfiguration?
    /// The recipe of the run that wrote it (nil: none stored).
    public let options: TrainingOptions?
    /// The processes that trained it together (1 when none is stored).
    public let processes: Int

    /// Reads the pair; a missing optimizer file or two files from different saves is an error
    /// naming both.
    public init(url: URL) throws {
        self.url = url
        model = try Checkpoint.read(url)
        let optimizerURL = Checkpoint.optimizerURL(for: url)
        guard FileManager.default.fileExists(atPath: optimizerURL.path) else {
            throw TrainingError.mismatch("--resume needs the optimizer state \(optimizerURL.lastPathComponent) beside \(url.lastPathComponent)")
        }
        optimizerState = try Checkpoint.read(optimizerURL)
        let (modelFile, optimizerFile) = (url.lastPathComponent, optimizerURL.lastPathComponent)
        // vit train writes float32 only: another type of the same size would be read as
        // numbers it never held.
        for (file, name) in [(model, modelFile), (optimizerState, optimizerFile)] {
            if let (tensor, type) = file.storedTypes.sorted(by: { $0.key < $1.key }).first(where: { $0.value != .float32 }) {
                throw TrainingError.mismatch(
                    "\(name): tensor '\(tensor)' is stored as \(type.rawValue), but vit train writes F32: the file was not written by it or was changed since"
                )
            }
        }
        func integer(_ key: String, in file: SafeTensorsFile, named name: String) throws -> Int {
            guard let text = file.metadata[key], let value = Int(text), value >= 0 else {
                throw TrainingError.mismatch("\(name) has no valid '\(key)' in its metadata: it was not written by vit train")
            }
            return value
        }
        epoch = try integer(Checkpoint.epochKey, in: model, named: modelFile)
        step = try integer(Checkpoint.stepKey, in: optimizerState, named: optimizerFile)
        let modelStep = try integer(Checkpoint.stepKey, in: model, named: modelFile)
        let runs = (model.metadata[Checkpoint.runKey], optimizerState.metadata[Checkpoint.runKey])
        guard modelStep == step, runs.0 == runs.1 else {
            throw TrainingError.mismatch(
                "\(modelFile) (run \(runs.0 ?? "none"), step \(modelStep)) and \(optimizerFile) (run \(runs.1 ?? "none"), step \(step)) "
                    + "are not one checkpoint: a save was interrupted between the two files; resume from an earlier checkpoint")
        }
        runIdentifier = runs.0
        processes = model.metadata[Checkpoint.processesKey] == nil ? 1 : try integer(Checkpoint.processesKey, in: model, named: modelFile)
        configuration = try Checkpoint.configuration(in: model)
        options = try model.metadata[Checkpoint.trainingKey].map { text in
            do {
                return try JSONDecoder().decode(TrainingOptions.self, from: Data(text.utf8))
            } catch {
                throw TrainingError.mismatch("\(modelFile): the stored training options cannot be read: \(error)")
            }
        }
    }

    /// Checks that `requested` can continue this checkpoint: the same model (a flag or
    /// configuration field that contradicts the stored one is refused, naming it) and epochs
    /// left to train. Returns the recipe changes against the stored run, for the log; a run of
    /// another number of `processes` with the same global batch reads the same batches, so
    /// only its process count is a change then.
    public func check(_ requested: TrainingOptions, processes requestedProcesses: Int = 1) throws -> [String] {
        let name = url.lastPathComponent
        guard requested.epochs > epoch else {
            throw TrainingError.invalidOption(
                "--resume \(name) is at epoch \(epoch), so --epochs \(requested.epochs) leaves nothing to train; give --epochs above \(epoch)")
        }
        if let configuration, configuration != requested.model {
            let changes = try fieldDifferences(configuration, requested.model).map { "\($0.key) \($0.new) (the checkpoint has \($0.old))" }
            throw TrainingError.mismatch(
                "--resume \(name): the model differs from the checkpoint's: " + changes.joined(separator: ", ")
                    + "; leave out the flags or configuration fields that change the model")
        }
        guard let options else { return [] }
        guard options.optimizer == requested.optimizer else {
            throw TrainingError.mismatch(
                "--resume \(name) was trained with --optimizer \(options.optimizer), whose state cannot continue as \(requested.optimizer); "
                    + "resume with --optimizer \(options.optimizer), or start a new run")
        }
        var stored = options
        stored.model = requested.model
        var changes: [String] = []
        if processes != requestedProcesses {
            let (before, after) = (stored.batchSize * processes, requested.batchSize * requestedProcesses)
            changes.append(
                "processes \(processes) -> \(requestedProcesses) (global batch \(before) -> \(after)"
                    + (before == after ? ", the same batches" : ", other batches") + ")")
            if before == after { stored.batchSize = requested.batchSize }
        }
        return try changes + fieldDifferences(stored, requested).map { "\($0.key) \($0.old) -> \($0.new)" }
    }

    /// The top-level JSON fields in which two values differ, with both values as JSON text.
    private func fieldDifferences<Value: Encodable>(_ old: Value, _ new: Value) throws -> [(key: String, old: String, new: String)] {
        func fields(_ value: Value) throws -> [String: String] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let object = try JSONSerialization.jsonObject(with: encoder.encode(value)) as? [String: Any] ?? [:]
            return try object.mapValues { field in
                let data = try JSONSerialization.data(withJSONObject: field, options: [.fragmentsAllowed, .sortedKeys])
                return String(decoding: data, as: UTF8.self)
            }
        }
        let (before, after) = (try fields(old), try fields(new))
        return Set(before.keys).union(after.keys).sorted().compactMap { key in
            let (oldText, newText) = (before[key] ?? "none", after[key] ?? "none")
            return oldText == newText ? nil : (key, oldText, newText)
        }
    }
}
