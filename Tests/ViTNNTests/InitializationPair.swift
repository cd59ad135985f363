import ViTCore
import ViTNN
import XCTest

/// The seed ViT with `layers` blocks built twice from one seed, once with timm's starting
/// weights and once with `initialization`, so a test can compare exactly what changed.
func initializationPair(_ initialization: WeightInitialization, layers: Int, seed: UInt64, on backend: Backend)
    throws -> (timm: VisionTransformer, initialized: VisionTransformer)
{
    var configuration = ViTConfiguration()
    configuration.numHiddenLayers = layers
    let timm = try VisionTransformer(configuration: configuration, on: backend, seed: seed)
    configuration.weightInit = initialization
    return (timm, try VisionTransformer(configuration: configuration, on: backend, seed: seed))
}

/// Asserts that the attention projections differ from timm's start and that every other
/// parameter, except those named in `skipped` (which the caller checks), equals it.
func assertOnlyAttentionProjectionsDiffer(
    _ timm: VisionTransformer, _ initialized: VisionTransformer, except skipped: Set<String> = [],
    file: StaticString = #filePath, line: UInt = #line
) throws {
    for ((name, expected), (_, actual)) in zip(timm.namedParameters, initialized.namedParameters) where !skipped.contains(name) {
        let changes = name.hasSuffix("attn.qkv.weight") || name.hasSuffix("attn.proj.weight")
        XCTAssertEqual(try expected.toArray() == actual.toArray(), !changes, name, file: file, line: line)
    }
}

/// The merged `qkv` projection of a block's attention (timm's layout), or a failure.
func mergedProjection(of block: TransformerBlock, file: StaticString = #filePath, line: UInt = #line) throws -> Linear {
    let attention = try XCTUnwrap(block.attention as? MultiHeadAttention, file: file, line: line)
    guard case .merged(let layer) = attention.projections else {
        return try XCTUnwrap(nil, "the projections are separate, not merged", file: file, line: line)
    }
    return layer
}
