import ViTCore

/// How images become patch tokens (`patch_embedding`, `--patch-embedding`).
public enum PatchEmbeddingKind: String, ConfigurationChoice {
    /// timm's patchify projection: one patch x patch convolution at stride patch.
    case patch
    /// A convolutional stem (Xiao et al. 2021): stride-2 3 x 3 convolutions, each with a
    /// channel norm and GELU, then a 1 x 1 convolution to the width (`ConvolutionalStem`).
    case convolutionalStem = "conv-stem"

    /// The patch embedding of this kind for `configuration`, its weights drawn from `generator`.
    func make(configuration: ViTConfiguration, on backend: Backend, generator: inout SeededRandomGenerator) throws -> PatchEmbedding {
        switch self {
        case .patch: return try PatchProjection(configuration: configuration, on: backend, generator: &generator)
        case .convolutionalStem: return try ConvolutionalStem(configuration: configuration, on: backend, generator: &generator)
        }
    }
}

/// The part of a ViT that turns images [batch, channels, size, size] into patch tokens
/// [batch, patches, width] in row-major grid order; its tensors are named below timm's
/// `patch_embed`.
public protocol PatchEmbedding: Layer {
    /// Patch tokens [batch, patches, width] for images [batch, channels, size, size].
    func callAsFunction(_ images: Tensor) throws -> Tensor
    /// Multiply-accumulates to embed one image.
    var multiplyAccumulates: Int { get }
}

/// A 2D convolution of channels-last images [batch, height, width, in] with PyTorch's
/// weight [out, in, k, k] and optional bias [out], started as PyTorch's `Conv2d` (kaiming
/// uniform with a = sqrt(5): U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both).
public final class Convolution2D: Layer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int

    init(
        inputs: Int, outputs: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, bias: Bool, on backend: Backend,
        generator: inout SeededRandomGenerator
    ) throws {
        let fanIn = inputs * kernelSize * kernelSize
        let bound = 1 / Float(fanIn).squareRoot()
        weight = try Tensor(
            Initialization.uniform(count: outputs * fanIn, bound: bound, generator: &generator),
            shape: [outputs, inputs, kernelSize, kernelSize], on: backend, requiresGradient: true)
        self.bias =
            bias
            ? try Tensor(
                Initialization.uniform(count: outputs, bound: bound, generator: &generator), shape: [outputs], on: backend, requiresGradient: true)
            : nil
        (self.stride, self.padding) = (stride, padding)
    }

    /// [batch, outHeight, outWidth, out] for channels-last images [batch, height, width, in].
    public func callAsFunction(_ input: Tensor) throws -> Tensor {
        try convolution2D(input, weight: weight, bias: bias, stride: stride, padding: padding)
    }

    /// Multiply-accumulates for one image whose output grid has `pixels` pixels.
    func multiplyAccumulates(pixels: Int) -> Int { pixels * weight.elementCount }

    public var stateTensors: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
}

/// timm's patch embedding: a patch x patch convolution at stride patch (`proj`), applied
/// as `patchify` plus one GEMM with the weight viewed as [width, channels patch patch].
public final class PatchProjection: PatchEmbedding {
    /// The convolution, kept for its tensors: images arrive channels-first, which
    /// `patchify` reads directly, so `Convolution2D`'s channels-last path is not taken.
    public let projection: Convolution2D
    let configuration: ViTConfiguration

    init(configuration: ViTConfiguration, on backend: Backend, generator: inout SeededRandomGenerator) throws {
        self.configuration = configuration
        let patch = configuration.patchSize
        projection = try Convolution2D(
            inputs: configuration.numChannels, outputs: configuration.hiddenSize, kernelSize: patch, stride: patch, bias: true,
            on: backend, generator: &generator)
    }

    public func callAsFunction(_ images: Tensor) throws -> Tensor {
        let c = configuration
        let weight = try projection.weight.reshaped([c.hiddenSize, c.numChannels * c.patchSize * c.patchSize])
        return try linear(images.patchified(patch: c.patchSize), weight: weight, bias: projection.bias)
    }

    public var multiplyAccumulates: Int {
        projection.multiplyAccumulates(pixels: configuration.patchCount)
    }

    public var stateTensors: [(name: String, tensor: Tensor)] { projection.tensors(prefixed: "proj") }
}
