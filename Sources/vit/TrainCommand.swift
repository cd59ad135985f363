import ArgumentParser
import Foundation
import ViTBackends
import ViTCore
import ViTData
import ViTNN
import ViTTraining

/// `vit train`: trains a ViT and writes config.json, metrics.jsonl, checkpoints and a
/// summary row under OUTPUT/EXP.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a Vision Transformer (default: Fashion-MNIST, the seed ViT, 10 epochs of AdamW)."
    )

    @Option(name: .customLong("exp-name"), help: "Experiment name: outputs go to OUTPUT/EXP-NAME.")
    var experimentName = "vit"
    @Option(name: .long, help: "Images per step.")
    var batchSize = TrainingOptions().batchSize
    @Option(name: .long, help: "Epochs to train.")
    var epochs = TrainingOptions().epochs
    @Option(name: .customLong("lr"), help: "Peak learning rate (after warm-up, before the cosine decay).")
    var learningRate = TrainingOptions().learningRate
    @Option(name: .long, help: "Weight decay (decoupled for AdamW and Muon, L2 for SGD; not applied to biases, norms, pos_embed, cls_token).")
    var weightDecay = TrainingOptions().weightDecay
    @Option(name: .long, help: "adamw, sgd (with momentum 0.9) or muon (Muon for the blocks' matrices, AdamW for the rest).")
    var optimizer = TrainingOptions().optimizer
    @Option(name: .long, help: "AdamW's beta2 (decay of the running mean of squared gradients).")
    var adamBeta2 = TrainingOptions().adamBeta2
    @Option(name: .long, help: "Warm-up epochs (linear), then cosine decay.")
    var warmupEpochs = TrainingOptions().warmupEpochs
    @Option(name: .long, help: "Label smoothing of the cross-entropy.")
    var labelSmoothing = TrainingOptions().labelSmoothing
    @Option(name: .long, help: "Clip the gradient norm to this value (0: no clipping).")
    var clipGradientNorm = TrainingOptions().gradientClipNorm
    @Option(name: .long, help: "Random-crop augmentation: pad by this many pixels, then crop back (0: off).")
    var cropPadding = TrainingOptions().cropPadding
    @Flag(name: .long, inversion: .prefixedNo, help: "Random horizontal flips.")
    var horizontalFlip = TrainingOptions().horizontalFlip
    @Option(name: .long, help: "Attention mechanism: \(AttentionKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var attention: String?
    @Option(name: .long, help: "What the head sees: token (the class token, default) or avg (the mean of the patch tokens), as timm's global_pool.")
    var globalPool: String?
    @Option(name: .long, help: "Starting weights of the attention projections: \(WeightInitialization.allCases.map(\.rawValue).joined(separator: ", ")) (config weight_init; default mimetic; with --config, the file's value or timm).")
    var weightInit: String?
    @Option(name: .long, help: "Position embeddings: \(PositionEmbeddingKind.allCases.map(\.rawValue).joined(separator: ", ")) (config position_embedding).")
    var positionEmbedding: String?
    @Option(name: .long, help: "Images smaller than the model's: \(ImageFit.allCases.map(\.rawValue).joined(separator: ", ")) (config image_fit; default resize; with --config, the file's value or pad).")
    var imageFit: String?
    @Option(name: .long, help: "Fibottention: smallest window w_min (default 5).")
    var fibWmin: Int?
    @Option(name: .long, help: "Fibottention: largest window w_max (default N // 3 for N patches).")
    var fibWmax: Int?
    @Flag(name: .long, help: "Fibottention: Wythoff-modified offsets (include offset 0).")
    var fibModified = false
    @Option(name: .long, help: "Fibottention: masked logits are 'zero' (official code, default) or 'neg-inf' (true masking).")
    var fibMaskMode: String?
    @Option(name: .long, help: "Dilated attention: odd side of each head's window (default 3).")
    var dilatedWindow: Int?
    @Option(name: .long, help: "Dilated attention: comma-separated dilation rates cycled over the heads (default 1,2,...,H).")
    var dilationRates: String?
    @Option(name: .long, help: "Performer's random features M (default: int(D ln D) for head size D).")
    var performerFeatures: Int?
    @Option(name: .long, help: "Redraw Performer's random features every K training steps (0: never).")
    var performerRedraw: Int?
    @Option(name: .long, help: "Linformer's projected sequence length K (default 64, at most the token count).")
    var linformerK: Int?
    @Option(name: .long, help: "Nystromformer's landmarks M (default 32; M >= tokens gives exact attention).")
    var nystromLandmarks: Int?
    @Option(name: .long, help: "Nystromformer: add a depthwise convolution of V along the tokens with this odd number of taps (the authors use 33).")
    var nystromConv: Int?
    @Option(name: .long, help: "Hybrid attention: heads that attend sparsely and locally (default half the heads); the others attend globally.")
    var hybridLocalHeads: Int?
    @Option(name: .long, help: "Hybrid attention: the local heads' pattern, dilated (default) or fibottention.")
    var hybridLocal: String?
    @Option(name: .long, help: "Hybrid attention: the global heads' mechanism, linear (default) or performer.")
    var hybridGlobal: String?
    @Option(name: .long, help: "fashion-mnist, cifar10 or cifar100.")
    var dataset = TrainingOptions().dataset
    @Option(name: .long, help: "Folder of the data set files (default: Debian's for Fashion-MNIST, ./data for CIFAR).")
    var dataDir: String?
    @Option(name: .long, help: "Folder for experiment outputs.")
    var outputDir = TrainingOptions().outputDirectory
    @Option(name: .long, help: "Also save a checkpoint every N epochs (0: only the final model).")
    var saveModelEvery = 0
    @Option(name: .long, help: "Seed of initialisation, shuffling, augmentation and dropout.")
    var seed: UInt64 = TrainingOptions().seed
    @Option(name: .long, help: "Model configuration JSON (patch_size, hidden_size, ...); fields it leaves out take the seed project's defaults. Without it: the seed model with mimetic init and resized images.")
    var config: String?
    @Option(name: .long, help: "Continue from a checkpoint written by vit train.")
    var resume: String?
    @Option(name: .long, help: "Use only the first N training images (quick runs).")
    var trainLimit: Int?
    @Option(name: .long, help: "Use only the first N test images (quick runs).")
    var testLimit: Int?
    @OptionGroup var deviceOptions: DeviceOptions

    func run() throws {
        var options = TrainingOptions()
        options.experimentName = experimentName
        options.batchSize = batchSize
        options.epochs = epochs
        options.learningRate = learningRate
        options.weightDecay = weightDecay
        options.optimizer = optimizer
        options.warmupEpochs = warmupEpochs
        options.adamBeta2 = adamBeta2
        options.labelSmoothing = labelSmoothing
        options.gradientClipNorm = clipGradientNorm
        options.cropPadding = cropPadding
        options.horizontalFlip = horizontalFlip
        options.dataset = dataset
        options.dataDirectory = dataDir
        options.outputDirectory = outputDir
        options.saveModelEvery = saveModelEvery
        options.seed = seed
        options.trainingLimit = trainLimit
        options.testLimit = testLimit
        guard let kind = DatasetKind(rawValue: dataset) else {
            throw ValidationError("unknown --dataset '\(dataset)'; choose one of \(DatasetKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let config {
            options.model = try ViTConfiguration.load(from: URL(fileURLWithPath: config))
        } else {
            options.model = ViTConfiguration.trainingDefault(for: kind)
        }
        if let attention { options.model.attentionType = attention }
        if let globalPool { options.model.globalPool = globalPool }
        if let weightInit { options.model.weightInit = weightInit }
        if let positionEmbedding { options.model.positionEmbedding = positionEmbedding }
        if let imageFit { options.model.imageFit = imageFit }
        if let fibWmin { options.model.fibWindowMinimum = fibWmin }
        if let fibWmax { options.model.fibWindowMaximum = fibWmax }
        if fibModified { options.model.fibModified = true }
        if let fibMaskMode { options.model.fibMaskMode = fibMaskMode }
        if let dilatedWindow { options.model.dilatedWindow = dilatedWindow }
        if let dilationRates {
            options.model.dilationRates = try dilationRates.split(separator: ",").map { text in
                guard let rate = Int(text.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--dilation-rates: '\(text)' is not an integer; give comma-separated rates such as 1,2,3")
                }
                return rate
            }
        }
        if let performerFeatures { options.model.performerFeatures = performerFeatures }
        if let performerRedraw { options.model.performerRedraw = performerRedraw }
        if let linformerK { options.model.linformerK = linformerK }
        if let nystromLandmarks { options.model.nystromLandmarks = nystromLandmarks }
        if let nystromConv { options.model.nystromConv = nystromConv }
        if let hybridLocalHeads { options.model.hybridLocalHeads = hybridLocalHeads }
        if let hybridLocal { options.model.hybridLocal = hybridLocal }
        if let hybridGlobal { options.model.hybridGlobal = hybridGlobal }
        try options.validate()
        let backend = try DeviceRegistry.shared.backend(for: deviceOptions.resolveDevice())
        let trainer = try Trainer(options: options, backend: backend, resume: resume.map { URL(fileURLWithPath: $0) })
        try trainer.run()
        if Profiler.shared.isEnabled { print(Profiler.shared.report()) }
    }
}

/// `vit eval`: top-1, top-5 and loss of a checkpoint on a test split.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint (from vit train, or a timm VisionTransformer saved as safetensors) on the test split."
    )

    @Option(name: .long, help: "The .safetensors checkpoint.")
    var checkpoint: String
    @Option(name: .long, help: "fashion-mnist, cifar10 or cifar100.")
    var dataset = TrainingOptions().dataset
    @Option(name: .long, help: "Folder of the data set files.")
    var dataDir: String?
    @Option(name: .long, help: "Images per forward pass.")
    var batchSize = 256
    @Option(name: .long, help: "Attention heads, for a checkpoint without a stored configuration (timm's).")
    var heads = ViTConfiguration().numAttentionHeads
    @OptionGroup var deviceOptions: DeviceOptions

    func run() throws {
        guard let kind = DatasetKind(rawValue: dataset) else {
            throw ValidationError("unknown --dataset '\(dataset)'; choose one of \(DatasetKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let url = URL(fileURLWithPath: checkpoint)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ValidationError("no checkpoint at \(checkpoint)")
        }
        let file = try Checkpoint.read(url)
        let configuration = try Checkpoint.configuration(in: file) ?? Checkpoint.inferConfiguration(from: file, heads: heads)
        let backend = try DeviceRegistry.shared.backend(for: deviceOptions.resolveDevice())
        let model = try VisionTransformer(configuration: configuration, on: backend)
        try Checkpoint.load(file, into: model.stateTensors, source: url.lastPathComponent)
        var train = try kind.load(split: .train, directory: dataDir)
        var test = try kind.load(split: .test, directory: dataDir)
        guard test.channels == configuration.numChannels, test.classCount == configuration.numClasses else {
            throw ValidationError("the checkpoint expects \(configuration.numChannels) channels and \(configuration.numClasses) classes; \(test.name) has \(test.channels) and \(test.classCount)")
        }
        train = try train.fitted(to: configuration)
        test = try test.fitted(to: configuration)
        let normalizer = Normalizer(statistics: ChannelStatistics(computedOver: train))
        let loader = try BatchLoader(dataset: test, normalizer: normalizer, batchSize: batchSize)
        let result = try model.evaluate(on: loader)
        print(String(format: "%@ on %@ (%d images): loss %.4f, top-1 %.2f%%, top-5 %.2f%%", url.lastPathComponent, test.name, result.count,
                     result.loss, result.top1, result.top5))
    }
}
