import Foundation
import ViTCore

/// The model's hyper-parameters, with the seed project's field names in JSON
/// (`patch_size`, `hidden_size`, ...). Missing fields take the defaults below, which are the
/// seed default: 32 px images, patch 4, width 48, 4 layers, 4 heads, MLP 192, 10 classes,
/// 3 channels: 119,194 parameters.
public struct ViTConfiguration: Codable, Equatable, Sendable {
    public var patchSize = 4
    public var hiddenSize = 48
    public var numHiddenLayers = 4
    public var numAttentionHeads = 4
    public var intermediateSize = 192
    public var hiddenDropoutProb: Float = 0
    public var attentionProbsDropoutProb: Float = 0
    public var initializerRange: Float = 0.02
    public var imageSize = 32
    public var numClasses = 10
    public var numChannels = 3
    public var qkvBias = true
    /// The attention mechanism (`--attention`), one of `AttentionKind`.
    public var attentionType = "standard"
    /// Position embeddings: `learned` (default, random start), `learned-sincos2d` (learned,
    /// starting from the 2D sine-cosine table), `sincos1d` or `sincos2d` (fixed).
    public var positionEmbedding = "learned"
    /// Starting weights of the attention projections, one of `WeightInitialization`: `timm`
    /// (truncated normal of `initializer_range`), `mimetic` or `impulse`.
    public var weightInit = WeightInitialization.timm.rawValue
    /// How images smaller than `image_size` are brought to it, one of `ImageFit`: `pad`
    /// (centred on a zero border) or `resize` (bilinear). Part of the model's description so
    /// that evaluation prepares images as training did.
    public var imageFit = ImageFit.pad.rawValue
    /// What the head sees, as timm's `global_pool`: `token` (the class token after the final
    /// norm) or `avg` (the mean of the patch tokens, then a norm named `fc_norm`).
    public var globalPool = GlobalPool.token.rawValue
    /// Fibottention's smallest window w_min (`--fib-wmin`).
    public var fibWindowMinimum = 5
    /// Fibottention's largest window w_max (`--fib-wmax`); nil: N // 3 for N patches.
    public var fibWindowMaximum: Int?
    /// Fibottention's Wythoff-modified offsets, which include offset 0 (`--fib-modified`).
    public var fibModified = false
    /// How Fibottention's masked pairs enter the softmax (`--fib-mask-mode`): `zero` (logit 0,
    /// as the official code) or `neg-inf` (true masking), one of `SparseAttentionMaskMode`.
    public var fibMaskMode = SparseAttentionMaskMode.zero.rawValue
    /// Side of the square window of dilated attention, odd (`--dilated-window`).
    public var dilatedWindow = 3
    /// Dilation rates of dilated attention, cycled over the heads (`--dilation-rates`); empty: 1, 2, ..., H.
    public var dilationRates: [Int] = []
    /// Performer's random features M (`--performer-features`); nil: int(D ln D) for head size D.
    public var performerFeatures: Int?
    /// Redraw Performer's random features every this many training steps (`--performer-redraw`; 0: never).
    public var performerRedraw = 0
    /// Linformer's projected length K (`--linformer-k`).
    public var linformerK = 64
    /// Nystromformer's landmarks M (`--nystrom-landmarks`).
    public var nystromLandmarks = 32
    /// Taps of Nystromformer's depthwise convolution residual on V (`--nystrom-conv`, odd; the
    /// authors use 33); nil: no residual.
    public var nystromConv: Int?
    /// Hybrid attention: heads that attend sparsely and locally (`--hybrid-local-heads`); the
    /// others attend globally through linear attention. nil: half the heads.
    public var hybridLocalHeads: Int?
    /// Hybrid attention's local pattern (`--hybrid-local`): `dilated` or `fibottention`.
    public var hybridLocal = AttentionKind.dilated.rawValue
    /// Hybrid attention's global mechanism (`--hybrid-global`): `linear` or `performer`.
    public var hybridGlobal = AttentionKind.linear.rawValue

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case patchSize = "patch_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size"
        case hiddenDropoutProb = "hidden_dropout_prob", attentionProbsDropoutProb = "attention_probs_dropout_prob"
        case initializerRange = "initializer_range", imageSize = "image_size", numClasses = "num_classes"
        case numChannels = "num_channels", qkvBias = "qkv_bias", attentionType = "attention_type"
        case positionEmbedding = "position_embedding", globalPool = "global_pool", weightInit = "weight_init"
        case imageFit = "image_fit"
        case fibWindowMinimum = "fib_wmin", fibWindowMaximum = "fib_wmax", fibModified = "fib_modified", fibMaskMode = "fib_mask_mode"
        case dilatedWindow = "dilated_window", dilationRates = "dilation_rates"
        case performerFeatures = "performer_features", performerRedraw = "performer_redraw", linformerK = "linformer_k"
        case nystromLandmarks = "nystrom_landmarks", nystromConv = "nystrom_conv"
        case hybridLocalHeads = "hybrid_local_heads", hybridLocal = "hybrid_local", hybridGlobal = "hybrid_global"
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = ViTConfiguration()
        patchSize = try container.decodeIfPresent(Int.self, forKey: .patchSize) ?? defaults.patchSize
        hiddenSize = try container.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? defaults.hiddenSize
        numHiddenLayers = try container.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? defaults.numHiddenLayers
        numAttentionHeads = try container.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? defaults.numAttentionHeads
        intermediateSize = try container.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? defaults.intermediateSize
        hiddenDropoutProb = try container.decodeIfPresent(Float.self, forKey: .hiddenDropoutProb) ?? defaults.hiddenDropoutProb
        attentionProbsDropoutProb = try container.decodeIfPresent(Float.self, forKey: .attentionProbsDropoutProb) ?? defaults.attentionProbsDropoutProb
        initializerRange = try container.decodeIfPresent(Float.self, forKey: .initializerRange) ?? defaults.initializerRange
        imageSize = try container.decodeIfPresent(Int.self, forKey: .imageSize) ?? defaults.imageSize
        numClasses = try container.decodeIfPresent(Int.self, forKey: .numClasses) ?? defaults.numClasses
        numChannels = try container.decodeIfPresent(Int.self, forKey: .numChannels) ?? defaults.numChannels
        qkvBias = try container.decodeIfPresent(Bool.self, forKey: .qkvBias) ?? defaults.qkvBias
        attentionType = try container.decodeIfPresent(String.self, forKey: .attentionType) ?? defaults.attentionType
        positionEmbedding = try container.decodeIfPresent(String.self, forKey: .positionEmbedding) ?? defaults.positionEmbedding
        globalPool = try container.decodeIfPresent(String.self, forKey: .globalPool) ?? defaults.globalPool
        weightInit = try container.decodeIfPresent(String.self, forKey: .weightInit) ?? defaults.weightInit
        imageFit = try container.decodeIfPresent(String.self, forKey: .imageFit) ?? defaults.imageFit
        fibWindowMinimum = try container.decodeIfPresent(Int.self, forKey: .fibWindowMinimum) ?? defaults.fibWindowMinimum
        fibWindowMaximum = try container.decodeIfPresent(Int.self, forKey: .fibWindowMaximum) ?? defaults.fibWindowMaximum
        fibModified = try container.decodeIfPresent(Bool.self, forKey: .fibModified) ?? defaults.fibModified
        fibMaskMode = try container.decodeIfPresent(String.self, forKey: .fibMaskMode) ?? defaults.fibMaskMode
        dilatedWindow = try container.decodeIfPresent(Int.self, forKey: .dilatedWindow) ?? defaults.dilatedWindow
        dilationRates = try container.decodeIfPresent([Int].self, forKey: .dilationRates) ?? defaults.dilationRates
        performerFeatures = try container.decodeIfPresent(Int.self, forKey: .performerFeatures) ?? defaults.performerFeatures
        performerRedraw = try container.decodeIfPresent(Int.self, forKey: .performerRedraw) ?? defaults.performerRedraw
        linformerK = try container.decodeIfPresent(Int.self, forKey: .linformerK) ?? defaults.linformerK
        nystromLandmarks = try container.decodeIfPresent(Int.self, forKey: .nystromLandmarks) ?? defaults.nystromLandmarks
        nystromConv = try container.decodeIfPresent(Int.self, forKey: .nystromConv) ?? defaults.nystromConv
        hybridLocalHeads = try container.decodeIfPresent(Int.self, forKey: .hybridLocalHeads) ?? defaults.hybridLocalHeads
        hybridLocal = try container.decodeIfPresent(String.self, forKey: .hybridLocal) ?? defaults.hybridLocal
        hybridGlobal = try container.decodeIfPresent(String.self, forKey: .hybridGlobal) ?? defaults.hybridGlobal
    }

    /// Reads a configuration file; unknown fields are an error (a typo would otherwise be ignored).
    public static func load(from url: URL) throws -> ViTConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ViTError.invalidArgument(operation: "config", detail: "cannot read \(url.path): \(error.localizedDescription)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ViTError.invalidArgument(operation: "config", detail: "\(url.path) is not a JSON object")
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw ViTError.invalidArgument(operation: "config", detail: "\(url.path): unknown field '\(unknown)'; known fields: \(known.sorted().joined(separator: ", "))")
        }
        do {
            return try JSONDecoder().decode(ViTConfiguration.self, from: data)
        } catch {
            throw ViTError.invalidArgument(operation: "config", detail: "\(url.path): \(error)")
        }
    }

    /// The configuration as pretty-printed JSON with sorted keys.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// Patches per image.
    public var patchCount: Int { (imageSize / patchSize) * (imageSize / patchSize) }
    /// Tokens per image: the patches and the class token.
    public var tokenCount: Int { patchCount + 1 }
    /// Width of one attention head.
    public var headSize: Int { hiddenSize / numAttentionHeads }
    /// Performer's random features: `performer_features`, else int(D ln D) (at least 1).
    public var performerFeatureCount: Int {
        performerFeatures ?? max(1, Int(Double(headSize) * log(Double(headSize))))
    }

    /// Throws a clear error for a configuration that cannot build a model, before any work.
    public func validate() throws {
        func fail(_ detail: String) -> ViTError { .invalidArgument(operation: "config", detail: detail) }
        for (name, value) in [("patch_size", patchSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                              ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
                              ("image_size", imageSize), ("num_classes", numClasses), ("num_channels", numChannels)] where value <= 0 {
            throw fail("\(name) must be positive, got \(value)")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw fail("hidden_size \(hiddenSize) is not divisible by num_attention_heads \(numAttentionHeads)")
        }
        guard imageSize % patchSize == 0 else {
            throw fail("image_size \(imageSize) is not divisible by patch_size \(patchSize)")
        }
        for (name, value) in [("hidden_dropout_prob", hiddenDropoutProb), ("attention_probs_dropout_prob", attentionProbsDropoutProb)]
        where !(0..<1).contains(value) {
            throw fail("\(name) must be in [0, 1), got \(value)")
        }
        guard initializerRange >= 0 else { throw fail("initializer_range must not be negative, got \(initializerRange)") }
        guard AttentionKind(rawValue: attentionType) != nil else {
            throw fail("unknown attention_type '\(attentionType)'; choose one of \(AttentionKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard PositionEmbeddingKind(rawValue: positionEmbedding) != nil else {
            throw fail("unknown position_embedding '\(positionEmbedding)'; choose one of \(PositionEmbeddingKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard GlobalPool(rawValue: globalPool) != nil else {
            throw fail("unknown global_pool '\(globalPool)'; choose one of \(GlobalPool.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard WeightInitialization(rawValue: weightInit) != nil else {
            throw fail("unknown weight_init '\(weightInit)'; choose one of \(WeightInitialization.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard ImageFit(rawValue: imageFit) != nil else {
            throw fail("unknown image_fit '\(imageFit)'; choose one of \(ImageFit.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if weightInit == WeightInitialization.impulse.rawValue && positionEmbedding != PositionEmbeddingKind.learned.rawValue {
            throw fail("weight_init 'impulse' starts from the learned position embedding, so it needs position_embedding 'learned', got '\(positionEmbedding)'")
        }
        try validateAttentionHyperparameters()
        if positionEmbedding == PositionEmbeddingKind.sinusoidal1D.rawValue && hiddenSize % 2 != 0 {
            throw fail("sincos1d position embeddings need an even hidden_size, got \(hiddenSize)")
        }
        if [PositionEmbeddingKind.sinusoidal2D, .learnedSinusoidal2D].map(\.rawValue).contains(positionEmbedding) && hiddenSize % 4 != 0 {
            throw fail("sincos2d position embeddings need a hidden_size divisible by 4, got \(hiddenSize)")
        }
        try validateSparseAttention()
    }
}

extension ViTConfiguration {
    /// The efficient mechanisms' hyper-parameters, checked whichever mechanism is chosen (a bad
    /// value in a config file is a mistake either way); Linformer's K also against the length.
    func validateAttentionHyperparameters() throws {
        func fail(_ detail: String) -> ViTError { .invalidArgument(operation: "config", detail: detail) }
        if let performerFeatures, performerFeatures <= 0 {
            throw fail("performer_features (--performer-features) must be positive, got \(performerFeatures)")
        }
        guard performerRedraw >= 0 else {
            throw fail("performer_redraw (--performer-redraw) must be 0 (never) or a positive number of steps, got \(performerRedraw)")
        }
        guard linformerK > 0 else { throw fail("linformer_k (--linformer-k) must be positive, got \(linformerK)") }
        if attentionType == AttentionKind.linformer.rawValue && linformerK > tokenCount {
            throw fail("linformer_k (--linformer-k) \(linformerK) is larger than the \(tokenCount) tokens it should compress; choose at most \(tokenCount)")
        }
        guard nystromLandmarks > 0 else { throw fail("nystrom_landmarks (--nystrom-landmarks) must be positive, got \(nystromLandmarks)") }
        if let nystromConv, nystromConv < 1 || nystromConv % 2 == 0 {
            throw fail("nystrom_conv (--nystrom-conv) must be an odd number of taps of at least 1 (the kernel is centred on its token), got \(nystromConv)")
        }
        if let hybridLocalHeads, !(0...numAttentionHeads).contains(hybridLocalHeads) {
            throw fail("hybrid_local_heads (--hybrid-local-heads) must be between 0 and the \(numAttentionHeads) heads, got \(hybridLocalHeads)")
        }
    }
}

/// The attention mechanisms `--attention` can name.
public enum AttentionKind: String, CaseIterable, Sendable {
    /// Exact softmax attention through the tiled flash kernels, merged QKV projection (timm's layout).
    case standard
    /// Exact softmax attention with separate Q, K and V projections.
    case standardSeparate = "standard-separate"
    /// Exact softmax attention that materialises the N x N probabilities.
    case naive
    /// Fibottention: per-head Fibonacci-offset masks through the sparse kernels.
    case fibottention
    /// Dilated (atrous) attention: per-head dilated 2D windows through the sparse kernels.
    case dilated
    /// Axial attention: along the patch grid's rows, then its columns, through the sparse kernels.
    case axial
    /// Performer: linear attention with FAVOR+ positive orthogonal random features.
    case performer
    /// Linear attention with the feature map elu + 1 (Katharopoulos et al.).
    case linear
    /// Linformer: keys and values projected along the sequence to K rows.
    case linformer
    /// Nystromformer: softmax attention through M landmarks and a Moore-Penrose inverse.
    case nystromformer
    /// Hybrid: some heads sparse and local (dilated or Fibottention), the others global linear attention.
    case hybrid
}

/// How the head pools the tokens, as timm's `global_pool`.
public enum GlobalPool: String, CaseIterable, Sendable {
    /// The class token after the final norm (timm's default).
    case token
    /// The mean of the patch tokens (the class token left out), then a norm (`fc_norm`).
    case avg
}

/// The position embeddings the configuration can name.
public enum PositionEmbeddingKind: String, CaseIterable, Sendable {
    /// Learned, from timm's random start (truncated normal, std 0.02).
    case learned
    /// Learned, starting from the fixed 2D sine-cosine table.
    case learnedSinusoidal2D = "learned-sincos2d"
    case sinusoidal1D = "sincos1d"
    case sinusoidal2D = "sincos2d"
}

/// How the attention projections start.
public enum WeightInitialization: String, CaseIterable, Sendable {
    /// timm's: truncated normal of `initializer_range`.
    case timm
    /// Mimetic (Trockman and Kolter 2023): W_q^T W_k near the identity, W_proj W_v near its negative.
    case mimetic
    /// Impulse (Zheng et al. 2025): each head starts as one tap of a 3 x 3 convolution over
    /// the patch grid, through a scaled-up learned position embedding.
    case impulse
}

/// How images smaller than the model's `image_size` are brought to it.
public enum ImageFit: String, CaseIterable, Sendable {
    /// Centred on a border of zero pixels.
    case pad
    /// Scaled up by bilinear interpolation.
    case resize
}
