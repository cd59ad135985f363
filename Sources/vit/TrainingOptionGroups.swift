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
    @Option(name: .long, help: "The data set (imagefolder: DIR/train/CLASS/*.jpg|png and DIR/val/CLASS/..., as torchvision's ImageFolder).")
    var dataset = DatasetKind(rawValue: TrainingOptions().dataset) ?? .fashionMNIST
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Folder of the data set files (default: "
                + DatasetKind.allCases.filter { $0 != .imageFolder }.map { "\($0.defaultDirectory) for \($0.rawValue)" }.joined(separator: ", ")
                + "; required for imagefolder).",
            valueName: "folder"))
    var dataDir: String?

    func validate() throws {
        if dataset == .imageFolder && dataDir == nil {
            throw ValidationError("--dataset imagefolder needs --data-dir, the folder holding train/ and val/")
        }
    }
}

/// What `vit train` reads and how it augments it.
struct DataOptions: OptionGroupApplying {
    @OptionGroup var source: DatasetOptions
    @Option(name: .long, help: "Use only N training images (quick runs; default: all): the first N, or for an image folder N spread evenly over it.")
    var trainLimit: Int?
    @Option(name: .long, help: "Use only N test images (quick runs; default: all), chosen as for --train-limit.")
    var testLimit: Int?
    @Option(name: .long, help: "Random-crop augmentation: pad by this many pixels, then crop back (0: off; not for image folders).")
    var cropPadding = TrainingOptions().cropPadding
    @Flag(name: .long, inversion: .prefixedNo, help: "Random horizontal flips (default: on for an image folder, off otherwise).")
    var horizontalFlip: Bool?
    @OptionGroup var images: ImageOptions

    func apply(to options: inout TrainingOptions) throws {
        options.dataset = source.dataset.rawValue
        options.dataDirectory = source.dataDir
        options.trainingLimit = trainLimit
        options.testLimit = testLimit
        options.cropPadding = cropPadding
        options.horizontalFlip = horizontalFlip ?? (source.dataset == .imageFolder)
        options.workers = images.workers
        options.imagePreprocessing = try images.preprocessing(for: source.dataset, channels: options.model.numChannels)
    }
}

/// Numbers separated by commas, as `--mean 0.5,0.5,0.5` takes them.
struct NumberList: ExpressibleByArgument {
    let values: [Double]

    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0?.isFinite == true }) else { return nil }
        values = parts.map { $0! }
    }
}

extension Interpolation: ExpressibleByArgument {}

/// How an image folder's files become inputs (timm's transforms), and how many threads decode them.
struct ImageOptions: ParsableArguments {
    private static let defaults = ImagePreprocessing()

    @Option(name: .long, help: "Threads decoding image files (default: the cores the backend leaves free, at least 1).")
    var workers: Int?
    @Option(
        name: .long, help: "Resampling of crops and resizes, antialiased like Pillow's (image folders; default \(defaults.interpolation.rawValue)).")
    var interpolation: Interpolation?
    @Option(
        name: .long,
        help: ArgumentHelp("RandomResizedCrop's area range (image folders; default \(Self.list(defaults.cropScale))).", valueName: "min,max"))
    var cropScale: NumberList?
    @Option(name: .long, help: ArgumentHelp("RandomResizedCrop's aspect-ratio range (image folders; default 3/4,4/3).", valueName: "min,max"))
    var cropRatio: NumberList?
    @Option(
        name: .long,
        help: "Evaluation: resize the shorter side to size / crop-pct, then take the central crop (image folders; default \(defaults.cropFraction)).")
    var cropPct: Double?
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Per-channel mean of the normalisation (image folders; default ImageNet's \(Self.list(defaults.mean))).", valueName: "m1,m2,m3"))
    var mean: NumberList?
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Per-channel deviation of the normalisation (image folders; default ImageNet's \(Self.list(defaults.standardDeviation))).",
            valueName: "s1,s2,s3"))
    var std: NumberList?
    @Flag(name: .long, inversion: .prefixedNo, help: "Train on RandomResizedCrops; off, on the evaluation crop (image folders; default on).")
    var randomResizedCrop: Bool?
    @Flag(
        name: .long, inversion: .prefixedNo,
        help: "Decode JPEGs at the smallest DCT scale that still covers the crop (faster, close to exact; image folders; default on).")
    var dctScaling: Bool?
    @Option(name: .long, help: "Refuse images of more pixels, as decompression bombs (image folders; default \(defaults.maximumPixels)).")
    var maxImagePixels: Int?
    @Flag(name: .long, help: "Leave undecodable images out of their batch and count them, instead of stopping (image folders).")
    var skipBadImages = false

    private static func list(_ values: [Double]) -> String { values.map { "\($0)" }.joined(separator: ",") }

    /// The preprocessing these flags give for `dataset` (nil unless it is an image folder;
    /// an error naming the flag when one is given for another data set).
    func preprocessing(for dataset: DatasetKind, channels: Int) throws -> ImagePreprocessing? {
        let given: [(String, Bool)] = [
            ("--interpolation", interpolation != nil), ("--crop-scale", cropScale != nil), ("--crop-ratio", cropRatio != nil),
            ("--crop-pct", cropPct != nil), ("--mean", mean != nil), ("--std", std != nil), ("--random-resized-crop", randomResizedCrop != nil),
            ("--dct-scaling", dctScaling != nil), ("--max-image-pixels", maxImagePixels != nil), ("--skip-bad-images", skipBadImages),
        ]
        guard dataset == .imageFolder else {
            if let flag = given.first(where: { $0.1 }) {
                throw ValidationError("\(flag.0) applies to --dataset imagefolder only (the data set is \(dataset.rawValue))")
            }
            return nil
        }
        var settings = ImagePreprocessing(channels: channels)
        if let interpolation { settings.interpolation = interpolation }
        if let cropScale { settings.cropScale = cropScale.values }
        if let cropRatio { settings.cropRatio = cropRatio.values }
        if let cropPct { settings.cropFraction = cropPct }
        if let mean { settings.mean = mean.values }
        if let std { settings.standardDeviation = std.values }
        if let randomResizedCrop { settings.randomResizedCrop = randomResizedCrop }
        if let dctScaling { settings.dctScaling = dctScaling }
        if let maxImagePixels { settings.maximumPixels = maxImagePixels }
        settings.skipBadImages = skipBadImages
        return settings
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
        name: .customLong("model"),
        help: ArgumentHelp(
            "A standard architecture by timm's name (\(ModelPreset.names.joined(separator: ", ")); default \(ModelPreset.seedName), the seed ViT); "
                + "channels and classes follow the data set; 'list' prints them with parameters and MACs.",
            valueName: "name"))
    var preset: String?
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
    func configuration(for dataset: DatasetKind, directory: String?, resuming resumed: ViTConfiguration? = nil) throws -> ViTConfiguration {
        if preset != nil && config != nil { throw ValidationError("--model and --config both give the architecture; give one of them") }
        var configuration =
            try config.map { try ViTConfiguration.load(from: URL(fileURLWithPath: $0)) } ?? presetConfiguration(for: dataset, directory: directory)
            ?? resumed ?? .trainingDefault(for: dataset, classCount: dataset.classCount(directory: directory))
        apply(to: &configuration)
        return configuration
    }

    /// The `--model` preset's configuration for `dataset` (the seed ViT's is the training
    /// default), nil without `--model`.
    private func presetConfiguration(for dataset: DatasetKind, directory: String?) throws -> ViTConfiguration? {
        guard let preset else { return nil }
        guard let found = ModelPreset.named(preset) else {
            throw ValidationError("unknown --model '\(preset)'; choose one of \(ModelPreset.names.joined(separator: ", ")), or list")
        }
        let classes = try dataset.classCount(directory: directory)
        if found.name == ModelPreset.seedName { return .trainingDefault(for: dataset, classCount: classes) }
        // timm's initialisation; smaller images (Fashion-MNIST's) are resized, not padded.
        var base = ViTConfiguration()
        base.imageFit = .resize
        return found.configuration(channels: dataset.channels, classes: classes, base: base)
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
        optimization.apply(to: &self)
        self.model = try model.configuration(for: data.source.dataset, directory: data.source.dataDir, resuming: resumed)
        try data.apply(to: &self)
    }
}
