import ArgumentParser
import Foundation
import ViTCore
import ViTData
import ViTNN
import ViTSerialization
import ViTTraining

/// The checkpoint to read (`vit eval`, `vit attention-maps`).
struct CheckpointOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The .safetensors checkpoint (of vit train, or a timm VisionTransformer).", valueName: "file"))
    var checkpoint: String
    @Option(name: .long, help: "Attention heads, for a checkpoint without a stored configuration (timm's).")
    var heads = ViTConfiguration().numAttentionHeads

    func validate() throws {
        guard heads > 0 else { throw ValidationError("--heads must be positive, got \(heads)") }
    }

    /// The checkpoint read into a model on `backend`.
    func read(on backend: Backend) throws -> StoredModel {
        try StoredModel(checkpoint: checkpoint, heads: heads, on: backend)
    }
}

/// A checkpoint read back into a model, and the test split prepared as its inputs: what
/// `vit eval` and `vit attention-maps` share.
struct StoredModel {
    let url: URL
    let file: SafeTensorsFile
    let configuration: ViTConfiguration
    let model: VisionTransformer

    /// Reads `path`, a checkpoint of vit train or a timm state dict (whose configuration is
    /// inferred from its tensors, with `heads` attention heads), into a model on `backend`.
    init(checkpoint path: String, heads: Int, on backend: Backend) throws {
        url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ValidationError("no checkpoint at \(path)")
        }
        file = try Checkpoint.read(url)
        configuration = try Checkpoint.configuration(in: file) ?? Checkpoint.inferConfiguration(from: file, heads: heads)
        model = try VisionTransformer(configuration: configuration, on: backend)
        try Checkpoint.load(file, into: model.stateTensors, source: url.lastPathComponent)
    }

    /// The test split of `kind`, checked against the model and fitted to its images, with the
    /// normaliser of the checkpoint's stored statistics (a timm file has none: they are
    /// computed over the training split).
    func testSplit(_ kind: DatasetKind, directory: String?) throws -> (dataset: Dataset, normalizer: Normalizer) {
        var test = try kind.load(split: .test, directory: directory)
        guard test.channels == configuration.numChannels, test.classCount == configuration.numClasses else {
            throw ValidationError(
                "the checkpoint expects \(configuration.numChannels) channels and \(configuration.numClasses) classes; \(test.name) has \(test.channels) and \(test.classCount)"
            )
        }
        test = try test.fitted(to: configuration)
        let statistics =
            try Checkpoint.normalization(in: file)
            ?? ChannelStatistics(computedOver: kind.load(split: .train, directory: directory).fitted(to: configuration))
        guard statistics.channels == test.channels else {
            throw ValidationError("the checkpoint's normalization has \(statistics.channels) channels; \(test.name) has \(test.channels)")
        }
        return (test, Normalizer(statistics: statistics))
    }
}
