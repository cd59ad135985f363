import Foundation
import ViTData
import ViTNN

/// Everything a training run needs besides the device; written to config.json so a run can
/// be repeated.
public struct TrainingOptions: Codable, Sendable {
    public var experimentName = "vit"
    public var dataset = DatasetKind.fashionMNIST.rawValue
    public var dataDirectory: String?
    public var outputDirectory = "outputs"
    public var epochs = 10
    public var batchSize = 128
    /// Peak learning rate. 4e-3 gave the seed ViT 89.1% on Fashion-MNIST in 10 epochs with AdamW,
    /// against 87.7% at 2e-3, 89.0% at 6e-3 and 88.2% at 8e-3, and Muon 90.08-90.65% (four runs);
    /// see BENCHMARKS.md.
    public var learningRate: Float = 4e-3
    public var minimumLearningRate: Float = 1e-5
    /// Weight decay (decoupled for AdamW and Muon, L2 for SGD). 0.1 with label smoothing 0.2 beat 0.05 with 0.1 for the seed ViT,
    /// which over-fits Fashion-MNIST within 10 epochs (BENCHMARKS.md).
    public var weightDecay: Float = 0.1
    public var warmupEpochs: Float = 1
    /// Muon by default: at the same lr and schedule it led AdamW at every epoch of 10 and ended
    /// 0.6-1.2 points higher on Fashion-MNIST (BENCHMARKS.md).
    public var optimizer = "muon"
    public var momentum: Float = 0.9
    /// AdamW's beta2, the decay of its running mean of squared gradients (PyTorch's default 0.999).
    public var adamBeta2: Float = 0.999
    public var labelSmoothing: Float = 0.2
    public var gradientClipNorm: Float = 1
    public var cropPadding = 0
    public var horizontalFlip = false
    public var seed: UInt64 = 42
    public var saveModelEvery = 0
    public var trainingLimit: Int?
    public var testLimit: Int?
    /// How image-folder files become inputs (nil: the defaults; only for `--dataset imagefolder`).
    public var imagePreprocessing: ImagePreprocessing?
    /// Threads decoding image files (nil: the cores the backend leaves free, at least one).
    public var workers: Int?
    public var model = ViTConfiguration()

    public init() {}

    enum CodingKeys: String, CodingKey {
        case experimentName = "exp_name"
        case dataset
        case dataDirectory = "data_dir"
        case outputDirectory = "output_dir"
        case epochs
        case batchSize = "batch_size"
        case learningRate = "lr"
        case minimumLearningRate = "min_lr"
        case weightDecay = "weight_decay"
        case warmupEpochs = "warmup_epochs"
        case optimizer, momentum
        case adamBeta2 = "adam_beta2"
        case labelSmoothing = "label_smoothing"
        case gradientClipNorm = "clip_grad_norm"
        case cropPadding = "crop_padding"
        case horizontalFlip = "horizontal_flip"
        case seed
        case saveModelEvery = "save_model_every"
        case trainingLimit = "train_limit"
        case testLimit = "test_limit"
        case imagePreprocessing = "image_preprocessing"
        case workers
        case model
    }

    /// The most epochs a run may have (a year of one-minute epochs is far less).
    public static let maximumEpochs = 100_000
    /// The most images a step may have.
    public static let maximumBatchSize = 1 << 20

    /// Checks the values a user can get wrong, before any data is read: each error names the
    /// flag, its value and what is allowed.
    public func validate() throws {
        func fail(_ detail: String) -> TrainingError { .invalidOption(detail) }
        func require(_ flag: String, _ value: Int, in range: ClosedRange<Int>) throws {
            guard range.contains(value) else { throw fail("\(flag) must be in \(range.lowerBound)...\(range.upperBound), got \(value)") }
        }
        for (flag, value) in [
            ("--lr", learningRate), ("min_lr", minimumLearningRate), ("--weight-decay", weightDecay), ("--warmup-epochs", warmupEpochs),
            ("momentum", momentum), ("--adam-beta2", adamBeta2), ("--label-smoothing", labelSmoothing),
            ("--clip-gradient-norm", gradientClipNorm),
        ] where !value.isFinite {
            throw fail("\(flag) must be a finite number, got \(value)")
        }
        try require("--epochs", epochs, in: 1...Self.maximumEpochs)
        try require("--batch-size", batchSize, in: 1...Self.maximumBatchSize)
        guard learningRate > 0 else { throw fail("--lr must be positive, got \(learningRate)") }
        guard minimumLearningRate >= 0, minimumLearningRate <= learningRate else {
            throw fail("min_lr must be in [0, --lr \(learningRate)], got \(minimumLearningRate)")
        }
        guard weightDecay >= 0 else { throw fail("--weight-decay must not be negative, got \(weightDecay)") }
        _ = try optimizerKind()
        guard momentum >= 0, momentum < 1 else { throw fail("momentum must be in [0, 1), got \(momentum)") }
        guard adamBeta2 >= 0, adamBeta2 < 1 else { throw fail("--adam-beta2 must be in [0, 1), got \(adamBeta2)") }
        guard warmupEpochs >= 0 else { throw fail("--warmup-epochs must not be negative, got \(warmupEpochs)") }
        guard warmupEpochs <= Float(epochs) else {
            throw fail("--warmup-epochs must be at most --epochs \(epochs) (the warm-up is part of the run), got \(warmupEpochs)")
        }
        guard gradientClipNorm >= 0 else { throw fail("--clip-gradient-norm must not be negative (0: no clipping), got \(gradientClipNorm)") }
        for (flag, limit) in [("--train-limit", trainingLimit), ("--test-limit", testLimit)] {
            if let limit, limit <= 0 { throw fail("\(flag) must be a positive number of images, got \(limit)") }
        }
        guard (0...1).contains(labelSmoothing) else { throw fail("--label-smoothing must be in [0, 1], got \(labelSmoothing)") }
        try require("--crop-padding", cropPadding, in: 0...model.imageSize)
        try require("--save-model-every", saveModelEvery, in: 0...Self.maximumEpochs)
        guard let kind = DatasetKind(rawValue: dataset) else {
            throw fail("unknown --dataset '\(dataset)'; choose one of \(DatasetKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let workers { try require("--workers", workers, in: 1...BatchLoader.maximumWorkers) }
        if kind == .imageFolder {
            guard dataDirectory != nil else { throw fail("--dataset imagefolder needs --data-dir, the folder holding train/ and val/") }
            guard cropPadding == 0 else {
                throw fail("--crop-padding must be 0 for --dataset imagefolder, whose training crop is RandomResizedCrop, got \(cropPadding)")
            }
            guard model.numChannels == 1 || model.numChannels == 3 else {
                throw fail("an image folder's images become 1 or 3 channels; the model's num_channels is \(model.numChannels)")
            }
            do {
                try (imagePreprocessing ?? ImagePreprocessing(channels: model.numChannels)).validate(channels: model.numChannels)
            } catch let error as DataError {
                if case .invalidArgument(_, let reason) = error { throw fail(reason) }
                throw error
            }
        } else if imagePreprocessing != nil {
            throw fail("the image preprocessing options (--interpolation, --crop-scale, --mean, ...) apply to --dataset imagefolder only")
        }
        try Self.validateExperimentName(experimentName)
        guard !outputDirectory.isEmpty else { throw fail("--output-dir must not be empty") }
        try model.validate()
    }

    /// An experiment name is one folder name that summary.csv can hold in a field: letters,
    /// digits and `._-+=@`, not `.` or `..`, at most 200 characters.
    static func validateExperimentName(_ name: String) throws {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._-+=@"))
        guard !name.isEmpty, name.count <= 200, name != ".", name != "..",
            name.unicodeScalars.allSatisfy({ allowed.contains($0) && $0.isASCII })
        else {
            throw TrainingError.invalidOption(
                "--exp-name must be a folder name of 1 to 200 letters, digits and ._-+=@ (not . or ..), got '\(name.debugDescription.dropFirst().dropLast())'"
            )
        }
    }
}

/// The optimizers `--optimizer` names.
public enum OptimizerKind: String, CaseIterable, Sendable {
    /// AdamW, no decay on biases, norms, position embedding and class token.
    case adamw
    /// SGD with momentum and L2 weight decay.
    case sgd
    /// Muon for the blocks' matrices, AdamW for the rest.
    case muon

    /// What the optimizer does, in a few words (for help texts).
    public var summary: String {
        switch self {
        case .adamw: return "AdamW"
        case .sgd: return "SGD with momentum \(TrainingOptions().momentum)"
        case .muon: return "Muon for the blocks' matrices, AdamW for the rest"
        }
    }
}

extension TrainingOptions {
    /// The optimizer `optimizer` names, or an error listing the names there are.
    public func optimizerKind() throws -> OptimizerKind {
        guard let kind = OptimizerKind(rawValue: optimizer) else {
            throw TrainingError.invalidOption(
                "unknown --optimizer '\(optimizer)'; choose one of \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return kind
    }

    /// The optimizer `optimizer` names, with these options' momentum, beta2 and weight decay.
    public func makeOptimizer(for parameters: [OptimizedParameter]) throws -> Optimizer {
        switch try optimizerKind() {
        case .adamw: return try AdamW(parameters: parameters, betas: (0.9, adamBeta2), weightDecay: weightDecay)
        case .sgd: return try SGD(parameters: parameters, momentum: momentum, weightDecay: weightDecay)
        case .muon: return try Muon(parameters: parameters, adamBeta2: adamBeta2, weightDecay: weightDecay)
        }
    }
}

/// Errors of the training layer a user can cause.
public enum TrainingError: Error, CustomStringConvertible {
    case invalidOption(String)
    case mismatch(String)
    /// A NaN or infinite loss stopped training.
    case diverged(String)
    /// SIGINT or SIGTERM stopped training after a step.
    case interrupted(signal: Int32, epoch: Int, step: Int, of: Int, lastCheckpoint: URL?)

    public var description: String {
        switch self {
        case .invalidOption(let detail): return detail
        case .mismatch(let detail): return detail
        case .diverged(let detail): return detail
        case .interrupted(let signal, let epoch, let step, let steps, let lastCheckpoint):
            let resume =
                lastCheckpoint.map { "the last complete checkpoint is \($0.path): continue with --resume \($0.path)" }
                ?? "no checkpoint was written yet (--save-model-every N writes one every N epochs)"
            return "\(StopRequest.name(of: signal)): stopped at epoch \(epoch), step \(step)/\(steps); \(resume)"
        }
    }
}
