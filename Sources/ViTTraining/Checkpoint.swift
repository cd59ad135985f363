import Foundation
import ViTCore
import ViTData
import ViTNN
import ViTSerialization

/// Model checkpoints in safetensors with timm's parameter names and shapes, so a
/// standard-attention checkpoint loads into `timm.models.vision_transformer.VisionTransformer`
/// with `strict=True`. The configuration and progress go into the file's metadata; the
/// optimizer's state goes into a second file beside it (`<name>.optimizer.safetensors`),
/// so the model file holds exactly the model's tensors.
public enum Checkpoint {
    /// Metadata keys.
    public static let configurationKey = "config"
    public static let epochKey = "epoch"
    public static let stepKey = "step"
    public static let optimizerKey = "optimizer"
    /// The run's identifier, in both files of a training checkpoint, so that a model file and
    /// an optimizer file from two different saves are told apart.
    public static let runKey = "run"
    /// The training options (as config.json) of the run that wrote the checkpoint.
    public static let trainingKey = "training"
    /// The per-channel mean and deviation that normalised the model's inputs (computed over
    /// its training images), so evaluation prepares images exactly as training did.
    public static let normalizationKey = "normalization"
    /// The number of processes that trained together (data parallel), whose batches at the
    /// stored `batch_size` made each global batch.
    public static let processesKey = "processes"
    /// The names of the classes, in class-index order (JSON array), so that predictions can be named.
    public static let classNamesKey = "class_names"

    /// Where the optimizer state of the checkpoint at `url` lives.
    public static func optimizerURL(for url: URL) -> URL {
        let name = url.deletingPathExtension().lastPathComponent + ".optimizer.safetensors"
        return url.deletingLastPathComponent().appendingPathComponent(name)
    }

    /// Writes the model (and the optimizer state, when given), each atomically, both with
    /// the step, `run`, the run's `options` and its number of `processes` in their metadata.
    /// The optimizer file is renamed into place first and the model file last, so a model
    /// checkpoint that exists after a kill has its optimizer state beside it.
    public static func save(
        model: VisionTransformer, optimizer: Optimizer?, epoch: Int, run: String? = nil, options: TrainingOptions? = nil,
        processes: Int = 1, normalization: ChannelStatistics? = nil, classNames: [String]? = nil, preparation: InputPreparation? = nil,
        to url: URL
    ) throws {
        var metadata = [
            "format": "pt",
            configurationKey: String(decoding: try model.configuration.jsonData(), as: UTF8.self),
            epochKey: String(epoch),
        ]
        if let optimizer { metadata[stepKey] = String(optimizer.stepCount) }
        if let run { metadata[runKey] = run }
        if let options {
            metadata[trainingKey] = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
            metadata[processesKey] = String(processes)
        }
        if let normalization {
            let object = ["mean": normalization.mean, "std": normalization.standardDeviation]
            metadata[normalizationKey] = String(decoding: try JSONEncoder().encode(object), as: UTF8.self)
        }
        if let classNames { metadata[classNamesKey] = String(decoding: try JSONEncoder().encode(classNames), as: UTF8.self) }
        if let preparation { metadata[InputPreparation.metadataKey] = String(decoding: try JSONEncoder().encode(preparation), as: UTF8.self) }
        let modelFile = try file(of: model.stateTensors, metadata: metadata)
        if let optimizer {
            var optimizerMetadata = metadata
            optimizerMetadata[optimizerKey] = String(describing: type(of: optimizer))
            try file(of: optimizer.stateTensors, metadata: optimizerMetadata).write(to: optimizerURL(for: url))
        }
        try modelFile.write(to: url)
    }

    /// The configuration stored in a checkpoint, or nil when it has none (a file from timm).
    public static func configuration(in file: SafeTensorsFile) throws -> ViTConfiguration? {
        guard let text = file.metadata[configurationKey] else { return nil }
        do {
            return try JSONDecoder().decode(ViTConfiguration.self, from: Data(text.utf8))
        } catch {
            throw ViTError.invalidArgument(operation: "checkpoint", detail: "the stored configuration cannot be read: \(error)")
        }
    }

    /// The input normalisation stored in a checkpoint, or nil when it has none (a file from
    /// timm, or from before checkpoints stored it).
    public static func normalization(in file: SafeTensorsFile) throws -> ChannelStatistics? {
        guard let text = file.metadata[normalizationKey] else { return nil }
        guard let object = try? JSONDecoder().decode([String: [Float]].self, from: Data(text.utf8)),
            let mean = object["mean"], let deviation = object["std"], mean.count == deviation.count, !mean.isEmpty
        else {
            throw ViTError.invalidArgument(operation: "checkpoint", detail: "the stored normalization cannot be read: \(text.prefix(200))")
        }
        return ChannelStatistics(mean: mean, standardDeviation: deviation)
    }

    /// The class names stored in a checkpoint, or nil when it has none.
    public static func classNames(in file: SafeTensorsFile) throws -> [String]? {
        guard let text = file.metadata[classNamesKey] else { return nil }
        guard let names = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
            throw ViTError.invalidArgument(operation: "checkpoint", detail: "the stored class names cannot be read: \(text.prefix(200))")
        }
        return names
    }

    /// A configuration that fits the tensors of a checkpoint without one (as timm writes
    /// them): sizes come from the shapes; the head count cannot, so it is `heads`.
    public static func inferConfiguration(from file: SafeTensorsFile, heads: Int) throws -> ViTConfiguration {
        func shape(_ name: String) throws -> [Int] {
            guard let tensor = file[name] else {
                throw ViTError.invalidArgument(operation: "checkpoint", detail: "tensor '\(name)' is missing: this is not a ViT checkpoint")
            }
            return tensor.shape
        }
        let patch = try shape("patch_embed.proj.weight")
        let positions = try shape("pos_embed")
        guard patch.count == 4, positions.count == 3 else {
            throw ViTError.invalidArgument(
                operation: "checkpoint", detail: "patch_embed.proj.weight \(patch) or pos_embed \(positions) has an unexpected rank")
        }
        func fail(_ detail: String) -> ViTError { .invalidArgument(operation: "checkpoint", detail: detail) }
        let patches = positions[1] - 1
        let side = Int(Double(max(patches, 0)).squareRoot().rounded())
        guard patches >= 1, side * side == patches else {
            throw fail("pos_embed \(positions) holds \(positions[1]) tokens, not a class token and a square grid of at least one patch")
        }
        // The rows of a weight that must be a matrix.
        func rows(_ name: String) throws -> Int {
            let dimensions = try shape(name)
            guard dimensions.count == 2 else { throw fail("\(name) has shape \(dimensions), not a matrix") }
            return dimensions[0]
        }
        var configuration = ViTConfiguration()
        configuration.hiddenSize = patch[0]
        configuration.numChannels = patch[1]
        configuration.patchSize = patch[2]
        configuration.imageSize = side * patch[2]
        configuration.numHiddenLayers =
            Set(
                file.tensors.keys.compactMap { name -> Int? in
                    guard name.hasPrefix("blocks.") else { return nil }
                    return Int(name.dropFirst("blocks.".count).prefix { $0 != "." })
                }
            ).count
        configuration.intermediateSize = try rows("blocks.0.mlp.fc1.weight")
        configuration.numClasses = try rows("head.weight")
        configuration.qkvBias = file["blocks.0.attn.qkv.bias"] != nil
        if file["fc_norm.weight"] != nil { configuration.globalPool = .avg }
        configuration.numAttentionHeads = heads
        return configuration
    }

    /// Copies the tensors of `file` into `tensors` after checking every name and shape and
    /// that every value is finite; a difference names the tensor and both shapes, a NaN or
    /// infinity the tensor and the element (a model with one gives no meaningful output).
    public static func load(_ file: SafeTensorsFile, into tensors: [(name: String, tensor: Tensor)], source: String) throws {
        do {
            try file.requireShapes(tensors.map { ($0.name, $0.tensor.shape.dimensions) }, file: source)
        } catch let error as SerializationError {
            throw ViTError.invalidArgument(operation: "checkpoint", detail: error.description)
        }
        for (name, _) in tensors {
            guard let values = file[name]?.values, let bad = values.firstIndex(where: { !$0.isFinite }) else { continue }
            throw ViTError.invalidArgument(
                operation: "checkpoint",
                detail: "\(source): tensor '\(name)' holds \(values[bad]) at element \(bad); the file is corrupt or was saved from a diverged run")
        }
        for (name, tensor) in tensors {
            guard let values = file[name]?.values else { continue }
            try values.withUnsafeBufferPointer { try tensor.backend.write($0, to: tensor.storage) }
        }
    }

    /// Reads a checkpoint file, turning format errors into errors that name the file.
    public static func read(_ url: URL) throws -> SafeTensorsFile {
        do {
            return try SafeTensorsFile.read(from: url)
        } catch let error as SerializationError {
            throw ViTError.invalidArgument(operation: "checkpoint", detail: error.description)
        }
    }

    private static func file(of tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) throws -> SafeTensorsFile {
        var contents: [String: NamedTensor] = [:]
        for (name, tensor) in tensors {
            contents[name] = NamedTensor(shape: tensor.shape.dimensions, values: try tensor.toArray())
        }
        return SafeTensorsFile(metadata: metadata, tensors: contents)
    }
}
