/// Standard ViT architectures by timm's names: a preset sets the patch size, width, depth,
/// heads, MLP width and image size of `timm.create_model(NAME)`; the channel and class
/// counts come from the data, and every other field (attention mechanism, position
/// embedding, patch embedding, ...) keeps its own default or flag.
public struct ModelPreset: Sendable, Equatable {
    /// timm's model name.
    public let name: String
    /// Other names for the same architecture (DeiT's, which timm builds as these ViTs).
    public let aliases: [String]
    public let patchSize: Int
    public let hiddenSize: Int
    public let depth: Int
    public let heads: Int
    public let intermediateSize: Int
    public let imageSize: Int

    /// The seed project's ViT (32 px, patch 4, width 48, 4 layers, 4 heads, MLP 192): `vit
    /// train`'s default model.
    public static let seedName = "vit_seed_patch4_32"

    /// Every preset: the seed ViT, then ViT-Ti, -S and -B with 16 px patches at 224 and 384 px.
    public static let all: [ModelPreset] = [
        ModelPreset(name: seedName, aliases: [], patchSize: 4, hiddenSize: 48, depth: 4, heads: 4, intermediateSize: 192, imageSize: 32),
        ModelPreset(
            name: "vit_tiny_patch16_224", aliases: ["deit_tiny_patch16_224"], patchSize: 16, hiddenSize: 192, depth: 12, heads: 3,
            intermediateSize: 768, imageSize: 224),
        ModelPreset(
            name: "vit_tiny_patch16_384", aliases: [], patchSize: 16, hiddenSize: 192, depth: 12, heads: 3, intermediateSize: 768,
            imageSize: 384),
        ModelPreset(
            name: "vit_small_patch16_224", aliases: ["deit_small_patch16_224"], patchSize: 16, hiddenSize: 384, depth: 12, heads: 6,
            intermediateSize: 1536, imageSize: 224),
        ModelPreset(
            name: "vit_small_patch16_384", aliases: [], patchSize: 16, hiddenSize: 384, depth: 12, heads: 6, intermediateSize: 1536,
            imageSize: 384),
        ModelPreset(
            name: "vit_base_patch16_224", aliases: ["deit_base_patch16_224"], patchSize: 16, hiddenSize: 768, depth: 12, heads: 12,
            intermediateSize: 3072, imageSize: 224),
        ModelPreset(
            name: "vit_base_patch16_384", aliases: [], patchSize: 16, hiddenSize: 768, depth: 12, heads: 12, intermediateSize: 3072,
            imageSize: 384),
    ]

    /// Every name a preset answers to, in listing order.
    public static var names: [String] { all.flatMap { [$0.name] + $0.aliases } }

    /// The preset called `name` (or one of its aliases), nil for none.
    public static func named(_ name: String) -> ModelPreset? {
        all.first { $0.name == name || $0.aliases.contains(name) }
    }

    /// `base` (the other fields' values) with this preset's architecture, `channels` input
    /// channels and `classes` outputs.
    public func configuration(channels: Int, classes: Int, base: ViTConfiguration = ViTConfiguration()) -> ViTConfiguration {
        var configuration = base
        configuration.patchSize = patchSize
        configuration.hiddenSize = hiddenSize
        configuration.numHiddenLayers = depth
        configuration.numAttentionHeads = heads
        configuration.intermediateSize = intermediateSize
        configuration.imageSize = imageSize
        configuration.numChannels = channels
        configuration.numClasses = classes
        configuration.qkvBias = true
        return configuration
    }
}
