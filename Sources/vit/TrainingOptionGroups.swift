import ArgumentParser
import Foundation
import ViTData
import ViTNN
import ViTTraining

/// A group of command-line options for one concern that writes what it was given into the
/// settings of that concern. Defaults shown in help come from those settings' defaults.
protocol OptionGroupApplying: ParsableArguments {
    associatedtype Settings
    /// Writes the options into `settings`; an option left out keeps the settings' value.
    func apply(to settings: inout Settings) throws
}

extension DatasetKind: ExpressibleByArgument {}

/// The data set and its folder (`vit train` and `vit eval`).
struct DatasetOptions: ParsableArguments {
    @Option(name: .long, help: "The data set.")
    var dataset = DatasetKind(rawValue: TrainingOptions().dataset) ?? .fashionMNIST
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Folder of the data set files (default: "
                + DatasetKind.allCases.map { "\($0.defaultDirectory) for \($0.rawValue)" }.joined(separator: ", ") + ").",
            valueName: "folder"))
    var dataDir: String?
}

/// What `vit train` reads and how it augments it.
struct DataOptions: OptionGroupApplying {
    @OptionGroup var source: DatasetOptions
    @Option(name: .long, help: "Use only the first N training images (quick runs; default: all).")
    var trainLimit: Int?
    @Option(name: .long, help: "Use only the first N test images (quick runs; default: all).")
    var testLimit: Int?
    @Option(name: .long, help: "Random-crop augmentation: pad by this many pixels, then crop back (0: off).")
    var cropPadding = TrainingOptions().cropPadding
    @Flag(name: .long, inversion: .prefixedNo, help: "Random horizontal flips.")
    var horizontalFlip = TrainingOptions().horizontalFlip

    func apply(to options: inout TrainingOptions) {
        options.dataset = source.dataset.rawValue
        options.dataDirectory = source.dataDir
        options.trainingLimit = trainLimit
        options.testLimit = testLimit
        options.cropPadding = cropPadding
        options.horizontalFlip = horizontalFlip
    }
}

/// The optimizer, its schedule and the loss.
struct OptimizationOptions: OptionGroupApplying {
    @Option(name: .long, help: "Images per step.")
    var batchSize = TrainingOptions().batchSize
    @Option(name: .long, help: "Epochs to train.")
    var epochs = TrainingOptions().epochs
    @Option(name: .customLong("lr"), help: "Peak learning rate (after warm-up, before the cosine decay).")
    var learningRate = TrainingOptions().learningRate
    @Option(name: .long, help: "Weight decay (decoupled for AdamW and Muon, L2 for SGD; not applied to biases, norms, pos_embed, cls_token).")
    var weightDecay = TrainingOptions().weightDecay
    @Option(
        name: .long,
        help: ArgumentHelp(
            OptimizerKind.allCases.map { "\($0.rawValue): \($0.summary)" }.joined(separator: "; ") + ".",
            valueName: OptimizerKind.allCases.map(\.rawValue).joined(separator: "|")))
    var optimizer = TrainingOptions().optimizer
    @Option(name: .long, help: "AdamW's beta2 (decay of the running mean of squared gradients).")
    var adamBeta2 = TrainingOptions().adamBeta2
    @Option(name: .long, help: "Warm-up epochs (linear), then cosine decay.")
    var warmupEpochs = TrainingOptions().warmupEpochs
    @Option(name: .long, help: "Label smoothing of the cross-entropy.")
    var labelSmoothing = TrainingOptions().labelSmoothing
    @Option(name: .long, help: "Clip the gradient norm to this value (0: no clipping).")
    var clipGradientNorm = TrainingOptions().gradientClipNorm

    func apply(to options: inout TrainingOptions) {
        options.batchSize = batchSize
        options.epochs = epochs
        options.learningRate = learningRate
        options.weightDecay = weightDecay
        options.optimizer = optimizer
        options.adamBeta2 = adamBeta2
        options.warmupEpochs = warmupEpochs
        options.labelSmoothing = labelSmoothing
        options.gradientClipNorm = clipGradientNorm
    }
}

/// What a run is called, where it writes and its seed.
struct ExperimentOptions: OptionGroupApplying {
    @Option(name: .customLong("exp-name"), help: "Experiment name: outputs go to OUTPUT/EXP-NAME.")
    var experimentName = TrainingOptions().experimentName
    @Option(name: .long, help: "Folder for experiment outputs.")
    var outputDir = TrainingOptions().outputDirectory
    @Option(name: .long, help: "Also save a checkpoint every N epochs (0: only the final model).")
    var saveModelEvery = TrainingOptions().saveModelEvery
    @Option(name: .long, help: "Seed of initialisation, shuffling, augmentation and dropout.")
    var seed = TrainingOptions().seed

    func apply(to options: inout TrainingOptions) {
        options.experimentName = experimentName
        options.outputDirectory = outputDir
        options.saveModelEvery = saveModelEvery
        options.seed = seed
    }
}

extension GlobalPool: ExpressibleByArgument {}
extension WeightInitialization: ExpressibleByArgument {}
extension PositionEmbeddingKind: ExpressibleByArgument {}
extension ImageFit: ExpressibleByArgument {}
extension PatchEmbeddingKind: ExpressibleByArgument {}

/// The model: a configuration file or the training default, and the fields a flag overrides.
struct ModelOptions: OptionGroupApplying {
    /// The model without `--config` and with one (whose missing fields take these values).
    private static let (withoutFile, withFile) = (ViTConfiguration.trainingDefault(for: .fashionMNIST), ViTConfiguration())

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Model configuration JSON (patch_size, hidden_size, ...); fields it leaves out take the seed project's defaults. "
                + "Without it: the seed model with weight_init \(withoutFile.weightInit.rawValue) and image_fit \(withoutFile.imageFit.rawValue).",
            valueName: "file"))
    var config: String?
    @Option(
        name: .long,
        help:
            "What the head sees, as timm's global_pool: the class token or the mean of the patch tokens (config global_pool; default \(withFile.globalPool.rawValue))."
    )
    var globalPool: GlobalPool?
    @Option(
        name: .long,
        help:
            "Starting weights of the attention projections (config weight_init; default \(withoutFile.weightInit.rawValue); with --config, the file's value or \(withFile.weightInit.rawValue))."
    )
    var weightInit: WeightInitialization?
    @Option(name: .long, help: "Position embeddings (config position_embedding; default \(withFile.positionEmbedding.rawValue)).")
    var positionEmbedding: PositionEmbeddingKind?
    @Option(
        name: .long,
        help:
            "Images smaller than the model's (config image_fit; default \(withoutFile.imageFit.rawValue); with --config, the file's value or \(withFile.imageFit.rawValue))."
    )
    var imageFit: ImageFit?
    @Option(
        name: .long,
        help:
            "How images become patch tokens: timm's patchify projection, or log2(patch) stride-2 3x3 convolutions with channel norm and GELU, then a 1x1 to the width (config patch_embedding; default \(withFile.patchEmbedding.rawValue))."
    )
    var patchEmbedding: PatchEmbeddingKind?

    /// The configuration file's model, else the `resumed` checkpoint's, else the training
    /// default for `dataset`, with the flags applied.
    func configuration(for dataset: DatasetKind, resuming resumed: ViTConfiguration? = nil) throws -> ViTConfiguration {
        var configuration =
            try config.map { try ViTConfiguration.load(from: URL(fileURLWithPath: $0)) } ?? resumed ?? .trainingDefault(for: dataset)
        apply(to: &configuration)
        return configuration
    }

    func apply(to configuration: inout ViTConfiguration) {
        if let globalPool { configuration.globalPool = globalPool }
        if let weightInit { configuration.weightInit = weightInit }
        if let positionEmbedding { configuration.positionEmbedding = positionEmbedding }
        if let imageFit { configuration.imageFit = imageFit }
        if let patchEmbedding { configuration.patchEmbedding = patchEmbedding }
    }
}

extension TrainingOptions {
    /// The recipe the option groups of `vit train` and `vit compare` give (attention aside):
    /// the model is the configuration file's, else the `resumed` checkpoint's, else the
    /// training default for the data set.
    init(
        experiment: ExperimentOptions, data: DataOptions, optimization: OptimizationOptions, model: ModelOptions,
        resuming resumed: ViTConfiguration? = nil
    ) throws {
        self.init()
        experiment.apply(to: &self)
        data.apply(to: &self)
        optimization.apply(to: &self)
        self.model = try model.configuration(for: data.source.dataset, resuming: resumed)
    }
}
