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
        case model
    }

    /// Checks the values a user can get wrong, before any data is read.
    public func validate() throws {
        func fail(_ detail: String) -> TrainingError { .invalidOption(detail) }
        guard epochs > 0 else { throw fail("--epochs must be positive, got \(epochs)") }
        guard batchSize > 0 else { throw fail("--batch-size must be positive, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else { throw fail("--lr must be positive, got \(learningRate)") }
        guard weightDecay >= 0 else { throw fail("--weight-decay must not be negative, got \(weightDecay)") }
        _ = try optimizerKind()
        guard adamBeta2 >= 0, adamBeta2 < 1 else { throw fail("--adam-beta2 must be in [0, 1), got \(adamBeta2)") }
        guard warmupEpochs >= 0 else { throw fail("--warmup-epochs must not be negative, got \(warmupEpochs)") }
        guard gradientClipNorm >= 0 else { throw fail("--clip-gradient-norm must not be negative (0: no clipping), got \(gradientClipNorm)") }
        for (flag, limit) in [("--train-limit", trainingLimit), ("--test-limit", testLimit)] {
            if let limit, limit <= 0 { throw fail("\(flag) must be a positive number of images, got \(limit)") }
        }
        guard (0...1).contains(labelSmoothing) else { throw fail("--label-smoothing must be in [0, 1], got \(labelSmoothing)") }
        guard cropPadding >= 0 else { throw fail("--crop-padding must not be negative, got \(cropPadding)") }
        guard saveModelEvery >= 0 else { throw fail("--save-model-every must not be negative, got \(saveModelEvery)") }
        guard DatasetKind(rawValue: dataset) != nil else {
            throw fail("unknown --dataset '\(dataset)'; choose one of \(DatasetKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard !experimentName.isEmpty, !experimentName.contains("/") else { throw fail("--exp-name must be a non-empty name without '/'") }
        try model.validate()
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

    public var description: String {
        switch self {
        case .invalidOption(let detail): return detail
        case .mismatch(let detail): return detail
        }
    }
}
