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

    /// How image files become this model's inputs: the checkpoint's `pretrained_cfg`, else the
    /// image preprocessing of its stored training options, else (a timm file, an older
    /// checkpoint) the image-folder defaults, with a note.
    func imagePreprocessing() throws -> ImagePreprocessing {
        if let preparation = try InputPreparation.stored(in: file) {
            guard preparation.mean.count == configuration.numChannels, preparation.standardDeviation.count == configuration.numChannels else {
                throw ValidationError("the checkpoint's pretrained_cfg has \(preparation.mean.count) means for \(configuration.numChannels) channels")
            }
            return preparation.imagePreprocessing
        }
        let stored = try file.metadata[Checkpoint.trainingKey].map { try JSONDecoder().decode(TrainingOptions.self, from: Data($0.utf8)) }
        if let settings = stored?.imagePreprocessing { return settings }
        print("note: \(url.lastPathComponent) does not say how its images were prepared; using the image-folder defaults (ImageNet's mean and std)")
        return ImagePreprocessing(channels: configuration.numChannels)
    }

    /// The class names: the checkpoint's, else "class 0", "class 1", ...
    func classNames() throws -> [String] {
        try InputPreparation.stored(in: file)?.classNames ?? Checkpoint.classNames(in: file) ?? (0..<configuration.numClasses).map { "class \($0)" }
    }

    /// The test split of `kind` as the model's inputs, checked against the model: in-memory
    /// data fitted to its images and normalised by the checkpoint's stored statistics (a timm
    /// file has none: they are computed over the training split); an image folder's files
    /// prepared as the checkpoint's training options say (their defaults for a file without them).
    func testSamples(_ kind: DatasetKind, directory: String?) throws -> any SampleSource {
        let samples: any SampleSource
        if kind == .imageFolder {
            guard let directory else { throw ValidationError("--dataset imagefolder needs --data-dir, the folder holding train/ and val/") }
            let preprocessing = try imagePreprocessing()
            let split = try ImageFolder.scan(root: directory, split: .test)
            if let names = try Checkpoint.classNames(in: file), names != split.classNames {
                throw ValidationError(
                    "the checkpoint's classes (\(names.prefix(5).joined(separator: ", "))...) are not the class folders of \(directory)/train "
                        + "(\(split.classNames.prefix(5).joined(separator: ", "))...)")
            }
            samples = try ImageFileSamples(
                split: split, preprocessing: preprocessing, size: configuration.imageSize, channels: configuration.numChannels,
                training: false)
        } else {
            var test = try kind.load(split: .test, directory: directory)
            guard test.channels == configuration.numChannels else {
                throw ValidationError("the checkpoint expects \(configuration.numChannels) channels; \(test.name) has \(test.channels)")
            }
            test = try test.fitted(to: configuration)
            let statistics =
                try Checkpoint.normalization(in: file)
                ?? ChannelStatistics(computedOver: kind.load(split: .train, directory: directory).fitted(to: configuration))
            guard statistics.channels == test.channels else {
                throw ValidationError("the checkpoint's normalization has \(statistics.channels) channels; \(test.name) has \(test.channels)")
            }
            samples = try InMemorySamples(dataset: test, normalizer: Normalizer(statistics: statistics))
        }
        try TrainingData.requireImages(samples, for: "evaluate on")
        guard samples.classNames.count == configuration.numClasses else {
            throw ValidationError(
                "the checkpoint expects \(configuration.numClasses) classes; \(samples.name) has \(samples.classNames.count)")
        }
        return samples
    }
}
