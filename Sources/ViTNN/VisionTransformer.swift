import Foundation
import ViTCore

/// One pre-norm transformer block: x + attn(norm1(x)), then + mlp(norm2(.)).
public final class TransformerBlock: Layer {
    public let norm1: LayerNorm
    public let attention: AttentionMechanism
    public let norm2: LayerNorm
    public let mlp: MLP

    /// `layer`: the block's index (0-based), which per-layer attention patterns depend on.
    public init(configuration: ViTConfiguration, layer: Int = 0, on backend: Backend, generator: inout SeededRandomGenerator) throws {
        norm1 = try LayerNorm(size: configuration.hiddenSize, on: backend)
        attention = try AttentionFactory.make(configuration: configuration, layer: layer, on: backend, generator: &generator)
        norm2 = try LayerNorm(size: configuration.hiddenSize, on: backend)
        mlp = try MLP(configuration: configuration, on: backend, generator: &generator)
    }

    public func callAsFunction(_ input: Tensor, context: ForwardContext) throws -> Tensor {
        let attended = try input + attention(norm1(input), context: context)
        return try attended + mlp(norm2(attended), context: context)
    }

    public var stateTensors: [(name: String, tensor: Tensor)] {
        norm1.tensors(prefixed: "norm1") + attention.tensors(prefixed: "attn") + norm2.tensors(prefixed: "norm2")
            + mlp.tensors(prefixed: "mlp")
    }
}

/// A Vision Transformer as timm's `VisionTransformer` (class token, pre-norm blocks, final
/// norm, linear head on the class token), with parameters named as timm names them.
public final class VisionTransformer: Layer {
    public let configuration: ViTConfiguration
    public let backend: Backend
    /// Images to patch tokens: timm's patchify projection or a convolutional stem
    /// (`patch_embedding`).
    public let patchEmbedding: PatchEmbedding
    public let classToken: Tensor
    public let positionEmbedding: Tensor
    public let blocks: [TransformerBlock]
    /// The final norm: on the tokens before the class token is taken (timm's `norm`), or
    /// on the mean of the patch tokens with `global_pool` avg (timm's `fc_norm`).
    public let norm: LayerNorm
    public let head: Linear

    /// A model with initial weights drawn from `seed` (the same on every backend).
    public init(configuration: ViTConfiguration, on backend: Backend, seed: UInt64 = 0) throws {
        try configuration.validate()
        self.configuration = configuration
        self.backend = backend
        var generator = SeededRandomGenerator(seed: seed)
        let (width, patch) = (configuration.hiddenSize, configuration.patchSize)
        patchEmbedding = try configuration.patchEmbedding.make(configuration: configuration, on: backend, generator: &generator)
        // timm: cls_token normal(std 1e-6), pos_embed trunc_normal(std 0.02).
        classToken = try Tensor(
            Initialization.truncatedNormal(count: width, standardDeviation: 1e-6, generator: &generator),
            shape: [1, 1, width], on: backend, requiresGradient: true)
        let tokens = configuration.tokenCount
        let kind = configuration.positionEmbedding
        switch kind {
        case .learned:
            positionEmbedding = try Tensor(
                Initialization.truncatedNormal(count: tokens * width, standardDeviation: 0.02, generator: &generator),
                shape: [1, tokens, width], on: backend, requiresGradient: true)
        case .sinusoidal1D:
            positionEmbedding = try Tensor(PositionEncoding.sinusoidal1D(tokens: tokens, width: width), shape: [1, tokens, width], on: backend)
        case .sinusoidal2D, .learnedSinusoidal2D:
            positionEmbedding = try Tensor(
                PositionEncoding.sinusoidal2D(gridSide: configuration.imageSize / patch, width: width),
                shape: [1, tokens, width], on: backend, requiresGradient: kind == .learnedSinusoidal2D)
        }
        blocks = try (0..<configuration.numHiddenLayers).map {
            try TransformerBlock(configuration: configuration, layer: $0, on: backend, generator: &generator)
        }
        norm = try LayerNorm(size: width, on: backend)
        head = try Linear(
            inputSize: width, outputSize: configuration.numClasses, standardDeviation: configuration.initializerRange,
            on: backend, generator: &generator)
        // Drawn after timm's start, which stays the same draw for draw whatever is chosen here.
        let attentions = blocks.compactMap { $0.attention as? MultiHeadAttention }
        switch configuration.weightInit {
        case .timm:
            break
        case .mimetic:
            for attention in attentions {
                try MimeticInitialization.apply(to: attention, heads: configuration.numAttentionHeads, generator: &generator)
            }
        case .impulse:
            try ImpulseInitialization.apply(
                to: attentions, positionEmbedding: positionEmbedding, gridSide: configuration.imageSize / patch,
                heads: configuration.numAttentionHeads, generator: &generator)
        }
    }

    /// Logits [batch, classes] for images [batch, channels, height, width].
    public func callAsFunction(_ images: Tensor, context: ForwardContext) throws -> Tensor {
        let c = configuration
        var tokens = try embed(images, context: context)
        for block in blocks {
            tokens = try block(tokens, context: context)
        }
        let pooled: Tensor
        switch c.globalPool {
        case .token:
            pooled = try norm(tokens).sliced(axis: 1, 0..<1).reshaped([images.shape[0], c.hiddenSize])
        case .avg:
            pooled = try norm(tokens.sliced(axis: 1, 1..<c.tokenCount).sum(axis: 1).scaled(by: 1 / Float(c.patchCount)))
        }
        return try head(pooled)
    }

    /// Patch embedding, class token and position embedding: tokens [batch, tokens, width].
    func embed(_ images: Tensor, context: ForwardContext) throws -> Tensor {
        let c = configuration
        guard images.shape == [images.shape.rank == 4 ? images.shape[0] : -1, c.numChannels, c.imageSize, c.imageSize] else {
            throw ViTError.shapeMismatch(
                operation: "VisionTransformer", detail: "images \(images.shape) must be [batch, \(c.numChannels), \(c.imageSize), \(c.imageSize)]")
        }
        let batch = images.shape[0]
        let width = c.hiddenSize
        let embedded = try patchEmbedding(images)
        let classTokens = try classToken.reshaped([1, width]).expanded(axis: 0, count: batch)
        var tokens = try concatenate([classTokens, embedded], axis: 1)
        tokens = try tokens.reshaped([batch, c.tokenCount * width]).addingBias(positionEmbedding.reshaped([c.tokenCount * width]))
            .reshaped([batch, c.tokenCount, width])
        return try context.dropout(tokens, probability: c.hiddenDropoutProb)
    }

    /// The most tokens attention maps are computed for: each is [batch, heads, N, N], so the
    /// bound keeps them near 4 MiB per head and image (a 32 x 32 patch grid and the class token).
    public static let maximumAttentionMapTokens = 1025

    /// Throws, naming the mechanism and why, when this model has no attention maps: its
    /// mechanism's weights are no probabilities over the tokens, or it has more tokens than
    /// `maximumAttentionMapTokens`.
    public func checkAttentionMapsAvailable() throws {
        let c = configuration
        if let reason = blocks.lazy.compactMap(\.attention.attentionMapsUnavailableReason).first {
            throw ViTError.invalidArgument(operation: "attention maps", detail: reason)
        }
        guard c.tokenCount <= Self.maximumAttentionMapTokens else {
            throw ViTError.invalidArgument(
                operation: "attention maps",
                detail: "the model has \(c.tokenCount) tokens; attention maps are \(c.tokenCount) x \(c.tokenCount) per head and are computed "
                    + "for at most \(Self.maximumAttentionMapTokens) tokens")
        }
    }

    /// The attention probabilities [batch, heads, tokens, tokens] of every block for `images`,
    /// for visualisation: what each block's core mixes its values with, from the block's Q
    /// and K projections (see `AttentionCore.attentionProbabilities`). Computed on request
    /// only; training never materialises them with the flash core.
    public func attentionMaps(_ images: Tensor) throws -> [Tensor] {
        try checkAttentionMapsAvailable()
        return try GradientMode.withoutGradient {
            var tokens = try embed(images, context: ForwardContext(training: false))
            var maps: [Tensor] = []
            for block in blocks {
                maps.append(try block.attention.attentionProbabilities(block.norm1(tokens)))
                tokens = try block(tokens, context: ForwardContext(training: false))
            }
            return maps
        }
    }

    /// Every tensor with its timm name, in timm's order: the parameters and, when fixed, the
    /// position embedding.
    public var stateTensors: [(name: String, tensor: Tensor)] {
        var result: [(name: String, tensor: Tensor)] = [("cls_token", classToken), ("pos_embed", positionEmbedding)]
        result += patchEmbedding.tensors(prefixed: "patch_embed")
        for (index, block) in blocks.enumerated() { result += block.tensors(prefixed: "blocks.\(index)") }
        let normName = configuration.globalPool == .avg ? "fc_norm" : "norm"
        return result + norm.tensors(prefixed: normName) + head.tensors(prefixed: "head")
    }

    /// Number of trainable parameters.
    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.tensor.elementCount } }

    /// Multiply-accumulates to classify one image.
    public var multiplyAccumulates: Int {
        let c = configuration
        let tokens = c.tokenCount
        // The attention's products, then the MLP's two (parenthesised: `??` binds looser than `+`).
        let perBlock =
            (blocks.first.map { $0.attention.multiplyAccumulates(tokens: tokens) } ?? 0)
            + 2 * tokens * c.hiddenSize * c.intermediateSize
        return patchEmbedding.multiplyAccumulates + c.numHiddenLayers * perBlock + c.hiddenSize * c.numClasses
    }

    /// Whether a parameter is decayed by AdamW: weights of linear maps and the patch
    /// embedding's convolutions are; biases, norms, the position embedding and the class
    /// token are not.
    public static func isDecayed(_ name: String, _ tensor: Tensor) -> Bool {
        tensor.shape.rank >= 2 && name != "pos_embed" && name != "cls_token"
    }
}

/// Fixed sine-cosine position encodings (the class token's row is zero).
public enum PositionEncoding {
    /// Transformer-style 1D encoding over the token index, including the class token at 0.
    public static func sinusoidal1D(tokens: Int, width: Int) -> [Float] {
        var values = [Float](repeating: 0, count: tokens * width)
        for position in 1..<max(tokens, 1) {
            for pair in 0..<(width / 2) {
                let angle = Double(position - 1) / pow(10000, Double(2 * pair) / Double(width))
                values[position * width + 2 * pair] = Float(sin(angle))
                values[position * width + 2 * pair + 1] = Float(cos(angle))
            }
        }
        return values
    }

    /// MAE's 2D encoding: half the width encodes the grid row, half the column.
    public static func sinusoidal2D(gridSide: Int, width: Int) -> [Float] {
        let quarter = width / 4
        var values = [Float](repeating: 0, count: (gridSide * gridSide + 1) * width)
        for row in 0..<gridSide {
            for column in 0..<gridSide {
                let base = (1 + row * gridSide + column) * width
                for index in 0..<quarter {
                    let frequency = 1 / pow(10000, Double(index) / Double(quarter))
                    values[base + index] = Float(sin(Double(column) * frequency))
                    values[base + quarter + index] = Float(cos(Double(column) * frequency))
                    values[base + 2 * quarter + index] = Float(sin(Double(row) * frequency))
                    values[base + 3 * quarter + index] = Float(cos(Double(row) * frequency))
                }
            }
        }
        return values
    }
}
