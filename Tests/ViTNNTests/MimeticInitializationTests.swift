import ViTBackends
import ViTCore
import XCTest

@testable import ViTNN

final class MimeticInitializationTests: XCTestCase {
    private let backend = try! DeviceRegistry.shared.backend(for: .cpu)

    /// left x right rebuilds alpha Z + sign beta I from the same draw of Z, and the singular
    /// values are split evenly: left^T left = right right^T = S, diagonal.
    func testFactorsRebuildTheMatrixWithBalancedScale() throws {
        let size = 48
        for sign: Float in [1, -1] {
            var generator = SeededRandomGenerator(seed: 7)
            let (left, right) = try MimeticInitialization.factors(size: size, scales: (0.7, 0.5), sign: sign, generator: &generator)
            var replay = SeededRandomGenerator(seed: 7)
            let z = Initialization.uniform(count: size * size, bound: (3 / Float(size)).squareRoot(), generator: &replay)
            // sgesvd is backward stable: the product is off by about size x epsilon x |A|
            // (|A| <= 2 here), 48 x 6e-8 x 2 = 6e-6; 1e-4 leaves room for the factors' rounding.
            for row in 0..<size {
                for column in 0..<size {
                    let product = (0..<size).reduce(Float(0)) { $0 + left[row * size + $1] * right[$1 * size + column] }
                    let expected = 0.7 * z[row * size + column] + (row == column ? sign * 0.5 : 0)
                    XCTAssertEqual(product, expected, accuracy: 1e-4, "[\(row), \(column)] sign \(sign)")
                }
            }
            for first in 0..<size {
                for second in 0..<size {
                    let leftGram = (0..<size).reduce(Float(0)) { $0 + left[$1 * size + first] * left[$1 * size + second] }
                    let rightGram = (0..<size).reduce(Float(0)) { $0 + right[first * size + $1] * right[second * size + $1] }
                    XCTAssertEqual(leftGram, rightGram, accuracy: 1e-4)
                    if first != second { XCTAssertEqual(leftGram, 0, accuracy: 1e-4) }
                }
            }
        }
    }

    /// Only the attention projections change; each head's W_q^T W_k has a large positive
    /// trace (near the identity) and W_proj W_v a diagonal near -0.4.
    func testMimeticModelChangesOnlyTheAttentionProjections() throws {
        let (timm, mimetic) = try initializationPair(.mimetic, layers: 2, seed: 3, on: backend)
        try assertOnlyAttentionProjectionsDiffer(timm, mimetic)
        let configuration = mimetic.configuration
        let (width, headSize) = (configuration.hiddenSize, configuration.headSize)
        for (index, block) in mimetic.blocks.enumerated() {
            let attention = try XCTUnwrap(block.attention as? MultiHeadAttention)
            let qkv = try mergedProjection(of: block).weight.toArray()
            for head in 0..<configuration.numAttentionHeads {
                // trace(W_q^T W_k) = sum over the head's rows r and inputs c of q[r, c] k[r, c].
                var trace: Float = 0
                for row in (head * headSize)..<((head + 1) * headSize) {
                    for column in 0..<width { trace += qkv[row * width + column] * qkv[(width + row) * width + column] }
                }
                // timm's start gives |trace| of order 12 x 48 x 0.02^2 = 0.2 at most; the
                // rank-12 part of 0.7 (I + Z) keeps singular values near 0.7 and above.
                XCTAssertGreaterThan(trace, 4, "block \(index) head \(head)")
            }
            let projection = try attention.projection.weight.toArray()
            var diagonal: Float = 0
            for row in 0..<width {
                for inner in 0..<width { diagonal += projection[row * width + inner] * qkv[(2 * width + inner) * width + row] }
            }
            // The mean of 0.4 Z_ii over 48 entries has a standard deviation of 0.4 / 48 = 0.008.
            XCTAssertEqual(diagonal / Float(width), -0.4, accuracy: 0.05, "block \(index)")
        }
    }

    func testUnknownStartOrFitAndLearnedSineCosineStart() throws {
        XCTAssertThrowsError(try decodeConfiguration(#"{"weight_init": "orthogonal"}"#)) {
            XCTAssertTrue("\($0)".contains("unknown weight_init 'orthogonal'; choose one of timm, mimetic"), "\($0)")
        }
        XCTAssertThrowsError(try decodeConfiguration(#"{"image_fit": "stretch"}"#)) {
            XCTAssertTrue("\($0)".contains("unknown image_fit 'stretch'; choose one of pad, resize"), "\($0)")
        }
        var configuration = ViTConfiguration()
        configuration.positionEmbedding = .learnedSinusoidal2D
        let model = try VisionTransformer(configuration: configuration, on: backend)
        XCTAssertTrue(model.positionEmbedding.requiresGradient)
        XCTAssertEqual(try model.positionEmbedding.toArray(), PositionEncoding.sinusoidal2D(gridSide: 8, width: 48))
        XCTAssertTrue(model.namedParameters.contains { $0.name == "pos_embed" })
    }
}
