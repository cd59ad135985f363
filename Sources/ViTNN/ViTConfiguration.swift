import Foundation
import ViTCore

/// The model's hyper-parameters, with the seed project's field names in JSON
/// (`patch_size`, `hidden_size`, ...). Missing fields take the defaults below, which are the
/// seed default: 32 px images, patch 4, width 48, 4 layers, 4 heads, MLP 192, 10 classes,
/// 3 channels: 119,194 parameters. The attention mechanism and its hyperparameters are in
/// `attention`, stored flat beside these fields (`attention_type`, `fib_wmin`, ...).
public struct ViTConfiguration: ConfigurationSection {
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
    /// The attention mechanism (`attention_type`, `--attention`) and every mechanism's hyperparameters.
    public var attention = AttentionSettings()
    /// Position embeddings (`position_embedding`): learned from a random start by default.
    public var positionEmbedding = PositionEmbeddingKind.learned
    /// Starting weights of the attention projections (`weight_init`): timm's by default.
    public var weightInit = WeightInitialization.timm
    /// How images smaller than `image_size` are brought to it (`image_fit`): padded by
    /// default. Part of the model's description so that evaluation prepares images as
    /// training did.
    public var imageFit = ImageFit.pad
    /// What the head sees, as timm's `global_pool`: the class token by default.
    public var globalPool = GlobalPool.token
    /// How images become patch tokens (`patch_embedding`): timm's patchify projection by
    /// default, or a convolutional stem.
    public var patchEmbedding = PatchEmbeddingKind.patch

    public init() {}

    public static var fields: [ConfigurationField<Self>] {
        [
            .value("patch_size", \.patchSize), .value("hidden_size", \.hiddenSize), .value("num_hidden_layers", \.numHiddenLayers),
            .value("num_attention_heads", \.numAttentionHeads), .value("intermediate_size", \.intermediateSize),
            .value("hidden_dropout_prob", \.hiddenDropoutProb), .value("attention_probs_dropout_prob", \.attentionProbsDropoutProb),
            .value("initializer_range", \.initializerRange), .value("image_size", \.imageSize), .value("num_classes", \.numClasses),
            .value("num_channels", \.numChannels), .value("qkv_bias", \.qkvBias), .section(\.attention),
            .choice("position_embedding", \.positionEmbedding), .choice("global_pool", \.globalPool), .choice("weight_init", \.weightInit),
            .choice("image_fit", \.imageFit), .choice("patch_embedding", \.patchEmbedding, flag: "--patch-embedding"),
        ]
    }

    /// Reads a configuration file; unknown fields are an error (a typo would otherwise be ignored).
    public static func load(from url: URL) throws -> ViTConfiguration {
        let data: Data
        do {
            // Only a regular file: reading a FIFO or a device would wait or never end.
            let type = try FileManager.default.attributesOfItem(atPath: url.path)[.type] as? FileAttributeType
            guard type == .typeRegular else {
                throw ViTError.invalidArgument(operation: "config", detail: "cannot read \(url.path): it is not a regular file")
            }
            data = try Data(contentsOf: url)
        } catch let error as ViTError {
            throw error
        } catch {
            throw ViTError.invalidArgument(operation: "config", detail: "cannot read \(url.path): \(error.localizedDescription)")
        }
        return try decode(data, source: url.path)
    }

    /// Decodes the JSON of a configuration file held in memory, checked as `load(from:)`
    /// checks a file; `source` is the name error messages use.
    public static func decode(_ data: Data, source: String) throws -> ViTConfiguration {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ViTError.invalidArgument(operation: "config", detail: "\(source) is not a JSON object")
        }
        let known = Set(Self.keys)
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw ViTError.invalidArgument(
                operation: "config", detail: "\(source): unknown field '\(unknown)'; known fields: \(known.sorted().joined(separator: ", "))")
        }
        do {
            return try JSONDecoder().decode(ViTConfiguration.self, from: data)
        } catch let ViTError.invalidArgument(_, detail) {
            throw ViTError.invalidArgument(operation: "config", detail: "\(source): \(detail)")
        } catch let error as DecodingError {
            throw ViTError.invalidArgument(operation: "config", detail: "\(source): \(Self.describe(error))")
        } catch {
            throw ViTError.invalidArgument(operation: "config", detail: "\(source): \(error)")
        }
    }

    /// The configuration as pretty-printed JSON with sorted keys.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// A decoding failure as "field 'hidden_size': expected Int" rather than Foundation's dump.
    static func describe(_ error: DecodingError) -> String {
        func field(_ context: DecodingError.Context) -> String {
            context.codingPath.last.map { "field '\($0.stringValue)': " } ?? ""
        }
        switch error {
        case .typeMismatch(let type, let context):
            return field(context) + "expected a value of type \(type)"
        case .valueNotFound(let type, let context):
            return field(context) + "expected a value of type \(type), found null"
        case .keyNotFound(let key, _):
            return "field '\(key.stringValue)' is missing"
        case .dataCorrupted(let context):
            return field(context) + context.debugDescription
        @unknown default:
            return "\(error)"
        }
    }

    /// Patches per image.
    public var patchCount: Int { (imageSize / patchSize) * (imageSize / patchSize) }
    /// Tokens per image: the patches and the class token.
    public var tokenCount: Int { patchCount + 1 }
    /// Width of one attention head.
    public var headSize: Int { hiddenSize / numAttentionHeads }

    /// About as many parameters as the model has (its blocks, embeddings and head), in
    /// floating point so that no size overflows.
    public var estimatedParameterCount: Double {
        let (width, hidden) = (Double(hiddenSize), Double(intermediateSize))
        let patchInputs = Double(numChannels) * Double(patchSize) * Double(patchSize)
        let tokens = (Double(imageSize) / Double(patchSize)) * (Double(imageSize) / Double(patchSize)) + 1
        let block = 4 * width * width + 2 * width * hidden + 9 * width + hidden
        // The patchify projection's weight, or the stem's convolutions and norms and its 1 x 1's weight.
        let embeddingWeights = patchEmbedding == .patch ? patchInputs * width : ConvolutionalStem.weightCount(self)
        return embeddingWeights + (tokens + 4) * width + Double(numHiddenLayers) * block + (width + 1) * Double(numClasses)
    }

    /// Throws a clear error for a configuration that cannot build a model, before any work:
    /// these fields' checks (`validate(in:)`), then every section's.
    public func validate() throws {
        try validateSection(in: self)
    }

    /// Checks this level's fields; `validate()` runs these and every section's checks.
    public func validate(in configuration: ViTConfiguration) throws {
        func fail(_ detail: String) -> ViTError { .invalidArgument(operation: "config", detail: detail) }
        for (name, value) in [
            ("patch_size", patchSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
            ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
            ("image_size", imageSize), ("num_classes", numClasses), ("num_channels", numChannels),
        ] where value <= 0 {
            throw fail("\(name) must be positive, got \(value)")
        }
        for (name, value, limit) in [
            ("patch_size", patchSize, imageSize), ("hidden_size", hiddenSize, 1 << 16), ("num_hidden_layers", numHiddenLayers, 1 << 10),
            ("num_attention_heads", numAttentionHeads, hiddenSize), ("intermediate_size", intermediateSize, 1 << 18),
            ("image_size", imageSize, 1 << 14), ("num_classes", numClasses, 1 << 20), ("num_channels", numChannels, 1 << 10),
        ] where value > limit {
            throw fail("\(name) must be at most \(limit), got \(value)")
        }
        // Parameters, their gradients and two optimizer moments, in float32: a model that
        // cannot hold them in this machine's memory is refused before any allocation.
        let bytes = 16 * estimatedParameterCount
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        guard bytes <= available else {
            throw fail(
                String(
                    format: "the model has about %.3g parameters, which with gradients and optimizer state need %.1f GiB; this machine has %.1f GiB",
                    estimatedParameterCount, bytes / 1_073_741_824, available / 1_073_741_824))
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw fail("hidden_size \(hiddenSize) is not divisible by num_attention_heads \(numAttentionHeads)")
        }
        guard imageSize % patchSize == 0 else {
            throw fail("image_size \(imageSize) is not divisible by patch_size \(patchSize)")
        }
        // Each stride-2 convolution of the stem halves the grid, so only a power of two can
        // end on the patch grid; patch 1 would leave a stem of no convolutions.
        if patchEmbedding == .convolutionalStem && (patchSize < 2 || patchSize.nonzeroBitCount != 1) {
            throw fail(
                "patch_embedding (--patch-embedding) 'conv-stem' halves the image once per stride-2 convolution, so it needs a patch_size that is a power of two of at least 2, got \(patchSize)"
            )
        }
        for (name, value) in [("hidden_dropout_prob", hiddenDropoutProb), ("attention_probs_dropout_prob", attentionProbsDropoutProb)]
        where !(0..<1).contains(value) {
            throw fail("\(name) must be in [0, 1), got \(value)")
        }
        guard initializerRange >= 0, initializerRange.isFinite else {
            throw fail("initializer_range must be finite and not negative, got \(initializerRange)")
        }
        if weightInit == .impulse && positionEmbedding != .learned {
            throw fail(
                "weight_init 'impulse' starts from the learned position embedding, so it needs position_embedding 'learned', got '\(positionEmbedding.rawValue)'"
            )
        }
        if positionEmbedding == .sinusoidal1D && hiddenSize % 2 != 0 {
            throw fail("sincos1d position embeddings need an even hidden_size, got \(hiddenSize)")
        }
        if [.sinusoidal2D, .learnedSinusoidal2D].contains(positionEmbedding) && hiddenSize % 4 != 0 {
            throw fail("sincos2d position embeddings need a hidden_size divisible by 4, got \(hiddenSize)")
        }
    }
}

/// How the head pools the tokens, as timm's `global_pool`.
public enum GlobalPool: String, ConfigurationChoice {
    /// The class token after the final norm (timm's default).
    case token
    /// The mean of the patch tokens (the class token left out), then a norm (`fc_norm`).
    case avg
}

/// The position embeddings the configuration can name.
public enum PositionEmbeddingKind: String, ConfigurationChoice {
    /// Learned, from timm's random start (truncated normal, std 0.02).
    case learned
    /// Learned, starting from the fixed 2D sine-cosine table.
    case learnedSinusoidal2D = "learned-sincos2d"
    case sinusoidal1D = "sincos1d"
    case sinusoidal2D = "sincos2d"
}

/// How the attention projections start.
public enum WeightInitialization: String, ConfigurationChoice {
    /// timm's: truncated normal of `initializer_range`.
    case timm
    /// Mimetic (Trockman and Kolter 2023): W_q^T W_k near the identity, W_proj W_v near its negative.
    case mimetic
    /// Impulse (Zheng et al. 2025): each head starts as one tap of a 3 x 3 convolution over
    /// the patch grid, through a scaled-up learned position embedding.
    case impulse
}

/// How images smaller than the model's `image_size` are brought to it.
public enum ImageFit: String, ConfigurationChoice {
    /// Centred on a border of zero pixels.
    case pad
    /// Scaled up by bilinear interpolation.
    case resize
}
