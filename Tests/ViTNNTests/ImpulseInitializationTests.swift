import ViTBackends
import ViTCore
import XCTest

@testable import ViTNN

final class ImpulseInitializationTests: XCTestCase {
    private let backend = try! DeviceRegistry.shared.backend(for: .cpu)

    /// The attention each head of the first block pays, from the layer-normalised position
    /// embedding of every patch alone, to the patch its 3 x 3 tap points at: the mean over
    /// the patches whose neighbour lies inside the grid.
    private func targetMass(of model: VisionTransformer) throws -> [Float] {
        let configuration = model.configuration
        let (width, headSize, heads) = (configuration.hiddenSize, configuration.headSize, configuration.numAttentionHeads)
        let side = configuration.imageSize / configuration.patchSize
        let patches = side * side
        let position = Array(try model.positionEmbedding.toArray()[width...])
        let input = ImpulseInitialization.layerNormalizedRows(position, width: width)
        let weights = try mergedProjection(of: model.blocks[0]).weight.toArray()
        func project(_ patch: Int, _ row: Int) -> Float {
            (0..<width).reduce(Float(0)) { $0 + input[patch * width + $1] * weights[row * width + $1] }
        }
        return (0..<heads).map { head in
            let tap = ImpulseInitialization.tapOrder[head]
            let (rowOffset, columnOffset) = (tap / 3 - 1, tap % 3 - 1)
            let rows = (head * headSize)..<((head + 1) * headSize)
            let keys = (0..<patches).map { patch in rows.map { project(patch, width + $0) } }
            var mass: Float = 0
            var counted = 0
            for row in 0..<side {
                for column in 0..<side {
                    let (targetRow, targetColumn) = (row + rowOffset, column + columnOffset)
                    guard (0..<side).contains(targetRow), (0..<side).contains(targetColumn) else { continue }
                    let query = rows.map { project(row * side + column, $0) }
                    let logits = keys.map { key in zip(query, key).reduce(Float(0)) { $0 + $1.0 * $1.1 } / Float(headSize).squareRoot() }
                    let largest = logits.max()!
                    let weights = logits.map { exp($0 - largest) }
                    mass += weights[targetRow * side + targetColumn] / weights.reduce(0, +)
                    counted += 1
                }
            }
            return mass / Float(counted)
        }
    }

    /// Every head of the seed ViT starts attending to its own tap of a 3 x 3 convolution: the
    /// centre for the first head, the neighbours above, to the right and to the left for the
    /// others. With 64 patches an unstructured start spreads about 1/64 on any one patch.
    func testHeadsStartAsConvolutionTaps() throws {
        let (timm, impulse) = try initializationPair(.impulse, layers: 1, seed: 5, on: backend)
        for (head, mass) in try targetMass(of: impulse).enumerated() {
            XCTAssertGreaterThan(mass, 0.5, "head \(head)")
        }
        for (head, mass) in try targetMass(of: timm).enumerated() {
            XCTAssertLessThan(mass, 0.05, "timm start, head \(head)")
        }
    }

    /// The position embedding is timm's draw scaled by 18; only it and the attention
    /// projections differ from timm's start.
    func testOnlyPositionEmbeddingAndAttentionProjectionsChange() throws {
        let (timm, impulse) = try initializationPair(.impulse, layers: 2, seed: 3, on: backend)
        XCTAssertEqual(try impulse.positionEmbedding.toArray(), try timm.positionEmbedding.toArray().map { $0 * ImpulseInitialization.positionScale })
        try assertOnlyAttentionProjectionsDiffer(timm, impulse, except: ["pos_embed"])
    }

    func testImpulseNeedsTheLearnedPositionEmbedding() throws {
        var configuration = ViTConfiguration()
        configuration.weightInit = .impulse
        configuration.positionEmbedding = .sinusoidal2D
        XCTAssertThrowsError(try configuration.validate()) {
            XCTAssertTrue("\($0)".contains("weight_init 'impulse' starts from the learned position embedding"), "\($0)")
        }
    }
}
