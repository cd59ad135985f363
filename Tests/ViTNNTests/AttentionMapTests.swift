import ViTBackends
import ViTCore
import XCTest

@testable import ViTNN

/// The attention probabilities every mechanism that has them gives for attention maps: the
/// weights its core applies to the values (rows of probabilities over the tokens), exactly
/// the softmax probabilities for standard attention, and a named reason for a mechanism whose
/// weights are no probabilities. Tolerances: float32 sums over at most 17 terms of size near
/// 1 stay within 1e-5 of the double results.
final class AttentionMapTests: XCTestCase {
    private let backend = try! DeviceRegistry.shared.backend(for: .cpu)
    /// 16 px images in 4 px patches: 16 patches and the class token, 2 heads of size 8.
    private let (batch, heads, tokens, headSize) = (2, 2, 17, 8)

    private func configuration(_ kind: AttentionKind) -> ViTConfiguration {
        var configuration = ViTConfiguration()
        configuration.imageSize = 16
        configuration.patchSize = 4
        configuration.numAttentionHeads = heads
        configuration.hiddenSize = heads * headSize
        configuration.numHiddenLayers = 2
        configuration.attention.kind = kind
        return configuration
    }

    private func random(seed: UInt32, on target: Backend? = nil) throws -> Tensor {
        let shape: Shape = [batch, heads, tokens, headSize]
        return try Tensor(KernelFamilies.values(shape.elementCount, seed: seed), shape: shape, on: target ?? backend)
    }

    /// The flash core's weights, read off through the identity, are softmax(Q K^T / sqrt(d)) as
    /// computed in double, entry by entry; 17 tokens in blocks of 8 exercise the partial last block.
    func testStandardAttentionWeightsAreTheSoftmaxProbabilities() throws {
        let (query, key) = (try random(seed: 1), try random(seed: 2))
        let weights = try impliedAttentionWeights(of: FlashAttentionCore(), query: query, key: key).toArray()
        XCTAssertEqual(weights.count, batch * heads * tokens * tokens)
        let (queries, keys) = (try query.toArray().map(Double.init), try key.toArray().map(Double.init))
        for head in 0..<(batch * heads) {
            func matrix(_ values: [Double]) -> AttentionReference.Matrix {
                (0..<tokens).map { row in Array(values[(head * tokens + row) * headSize..<(head * tokens + row + 1) * headSize]) }
            }
            let scale = 1 / Double(headSize).squareRoot()
            let scores = AttentionReference.product(matrix(queries), AttentionReference.transposed(matrix(keys))).map { $0.map { $0 * scale } }
            let expected = AttentionReference.rowSoftmax(scores).flatMap { $0 }
            for (index, value) in expected.enumerated() {
                XCTAssertEqual(Double(weights[head * tokens * tokens + index]), value, accuracy: 1e-6)
            }
        }
        // The exact cores' own probabilities are the same matrix.
        let direct = try MaterializedAttentionCore(dropout: 0).attentionProbabilities(query: query, key: key).toArray()
        for (implied, exact) in zip(weights, direct) { XCTAssertEqual(implied, exact, accuracy: 1e-6) }
    }

    /// For every mechanism with maps, the weights are rows over the tokens that sum to 1 (and are
    /// non-negative, but for Nystromformer's pseudo-inverse), and weights x V is the core's output.
    func testEveryMechanismsWeightsAreTheProbabilitiesItMixesTheValuesWith() throws {
        try checkEveryMechanismsWeights(on: backend)
    }

    /// The same on the OpenCL backend (PoCL in CI), whose kernels compute the cores there.
    func testEveryMechanismsWeightsOnOpenCL() throws {
        guard !DeviceRegistry.shared.openCLDevices.isEmpty else {
            throw XCTSkip("no OpenCL platform found: OpenCL attention-map checks skipped (install pocl-opencl-icd to run them on the CPU)")
        }
        try checkEveryMechanismsWeights(on: DeviceRegistry.shared.backend(for: DeviceRegistry.shared.device(for: "opencl")))
    }

    private func checkEveryMechanismsWeights(on backend: Backend) throws {
        let (query, key, value) = (try random(seed: 3, on: backend), try random(seed: 4, on: backend), try random(seed: 5, on: backend))
        for kind in [AttentionKind.naive, .fibottention, .dilated, .axial, .performer, .linear, .nystromformer, .hybrid] {
            var settings = configuration(kind)
            settings.attention.nystromformer.landmarks = 5
            var generator = SeededRandomGenerator(seed: 7)
            let core = try AttentionFactory.makeCore(kind, configuration: settings, on: backend, generator: &generator)
            XCTAssertNil(core.attentionMapsUnavailableReason, kind.rawValue)
            let weights = try core.attentionProbabilities(query: query, key: key)
            XCTAssertEqual(weights.shape, [batch, heads, tokens, tokens], kind.rawValue)
            let values = try weights.toArray()
            // Nystromformer's rows sum to 1 only as far as 6 iterations invert its landmark
            // kernel: here within 0.8%.
            let rowTolerance: Float = kind == .nystromformer ? 1e-2 : 1e-5
            for row in stride(from: 0, to: values.count, by: tokens) {
                XCTAssertEqual(values[row..<row + tokens].reduce(0, +), 1, accuracy: rowTolerance, "\(kind.rawValue) row \(row / tokens)")
            }
            if kind != .nystromformer { XCTAssertGreaterThanOrEqual(values.min() ?? -1, 0, kind.rawValue) }
            let mixed = try matmul(weights, value).toArray()
            let output = try core(query: query, key: key, value: value, context: ForwardContext(training: false)).toArray()
            for (index, (expected, actual)) in zip(output, mixed).enumerated() {
                XCTAssertEqual(actual, expected, accuracy: 1e-4, "\(kind.rawValue) output \(index)")
            }
        }
    }

    func testAModelsMapsAreItsBlocksProbabilities() throws {
        let model = try VisionTransformer(configuration: configuration(.linear), on: backend)
        let images = try Tensor(KernelFamilies.values(2 * 3 * 16 * 16, seed: 9), shape: [2, 3, 16, 16], on: backend)
        let maps = try model.attentionMaps(images)
        XCTAssertEqual(maps.map(\.shape), [[2, heads, tokens, tokens], [2, heads, tokens, tokens]])
        for sum in try maps[1].sum(axis: 3).toArray() { XCTAssertEqual(sum, 1, accuracy: 1e-5) }
    }

    /// Linformer's weights pass through its signed projection F, and Nystromformer's residual
    /// convolution adds signed weights: both refuse with one sentence naming the mechanism and why.
    func testMechanismsWithoutProbabilitiesSayWhy() throws {
        var linformer = configuration(.linformer)
        linformer.attention.linformer.projectedLength = 5
        var nystrom = configuration(.nystromformer)
        nystrom.attention.nystromformer.convolutionTaps = 3
        for (settings, expected) in [(linformer, "linformer mixes the values"), (nystrom, "nystromformer with nystrom_conv")] {
            let model = try VisionTransformer(configuration: settings, on: backend)
            XCTAssertThrowsError(try model.checkAttentionMapsAvailable()) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(expected), message)
                XCTAssertTrue(message.contains("no attention probabilities over the patches"), message)
            }
        }
        var large = configuration(.standard)
        large.imageSize = 66
        large.patchSize = 2
        XCTAssertThrowsError(try VisionTransformer(configuration: large, on: backend).checkAttentionMapsAvailable()) { error in
            XCTAssertTrue("\(error)".contains("1090 tokens") && "\(error)".contains("at most 1025 tokens"), "\(error)")
        }
    }
}
