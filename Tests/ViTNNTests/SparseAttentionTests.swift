import ViTBackends
import ViTCore
import ViTOpenCL
import XCTest

@testable import ViTNN

/// The sparse mechanisms against the dense masked reference: the naive CPU attention with the
/// full N x N mask, written straight from the formulas, forward and every gradient, on both backends.
final class SparseAttentionTests: XCTestCase {
    private typealias Band = SparseAttentionBands.Band
    private let cpu = try! DeviceRegistry.shared.backend(for: .cpu)
    private let heads = 3

    /// One dense masked attention pass: logits = scale Q K^T; zero mode multiplies them by the
    /// mask, neg-inf mode adds -1e30 off the mask (exp gives exactly 0); softmax; rows without a
    /// key (neg-inf) are zeroed; times V.
    private func densePass(query: Tensor, key: Tensor, value: Tensor, pattern: SparseAttentionPattern, mode: SparseAttentionMaskMode) throws -> Tensor
    {
        let (batch, tokens, headSize) = (query.shape[0], query.shape[2], query.shape[3])
        let mask = pattern.denseMask()
        let batchMask = Array((0..<batch).map { _ in mask }.joined())
        let shape: Shape = [batch, pattern.heads, tokens, tokens]
        let logits = try matmul(query, key, transposeB: true, alpha: 1 / Float(headSize).squareRoot())
        switch mode {
        case .zero:
            return try matmul((logits * Tensor(batchMask, shape: shape, on: cpu)).softmax(), value)
        case .negativeInfinity:
            let bias = try Tensor(batchMask.map { $0 == 1 ? 0 : -1e30 }, shape: shape, on: cpu)
            let rowHasKey = (0..<batch * pattern.heads * tokens).flatMap { row in
                [Float](repeating: pattern.keys[row / tokens % pattern.heads][row % tokens].isEmpty ? 0 : 1, count: tokens)
            }
            let probabilities = try (logits + bias).softmax() * Tensor(rowHasKey, shape: shape, on: cpu)
            return try matmul(probabilities, value)
        }
    }

    /// Output and gradients of Q, K, V for an upstream gradient of fixed random values.
    private func outputsAndGradients(
        on backend: Backend, tokens: Int, headSize: Int,
        _ attention: (Tensor, Tensor, Tensor) throws -> Tensor
    ) throws -> [[Float]] {
        let shape: Shape = [2, heads, tokens, headSize]
        let inputs = try (0..<3).map {
            try Tensor(
                KernelFamilies.values(shape.elementCount, seed: UInt32(50 + $0), scale: 1.5), shape: shape, on: backend, requiresGradient: true)
        }
        let output = try attention(inputs[0], inputs[1], inputs[2])
        try output.backward(Tensor(KernelFamilies.values(shape.elementCount, seed: 60), shape: shape, on: backend))
        return try [output.toArray()] + inputs.map { try XCTUnwrap($0.gradient).toArray() }
    }

    private func assertClose(_ actual: [[Float]], _ expected: [[Float]], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        // Sums of up to N products in another order (online softmax, column lists; zero mode's
        // V_all - sum_S v_j), terms of order 1: float32 rounding stays near sqrt(N) u |terms|.
        for (output, (got, wanted)) in zip(actual, expected).enumerated() {
            let worst = zip(got, wanted).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(label) output \(output)", file: file, line: line)
        }
    }

    private func compareMechanisms(on backend: Backend) throws {
        let cases: [(kind: AttentionKind, mode: SparseAttentionMaskMode, tokens: [Int])] = [
            (.fibottention, .zero, [16, 65, 197]), (.fibottention, .negativeInfinity, [16, 65, 197]),
            // Grid mechanisms need N - 1 square: 17 stands for 16.
            (.dilated, .negativeInfinity, [17, 65, 197]), (.axial, .negativeInfinity, [17, 65, 197]),
        ]
        for (kind, mode, counts) in cases {
            for tokens in counts {
                for headSize in [16, 32] {
                    var configuration = ViTConfiguration()
                    configuration.numAttentionHeads = heads
                    configuration.hiddenSize = heads * headSize
                    configuration.attention.fibottention.maskMode = mode
                    var generator = SeededRandomGenerator(seed: 1)
                    let core = try AttentionFactory.makeCore(kind, configuration: configuration, layer: 2, on: backend, generator: &generator)
                    let patterns = try XCTUnwrap(core as? SparseAttentionCore).patterns(tokens: tokens)
                    let sparse = try outputsAndGradients(on: backend, tokens: tokens, headSize: headSize) {
                        try core(query: $0, key: $1, value: $2, context: ForwardContext(training: true))
                    }
                    let dense = try outputsAndGradients(on: cpu, tokens: tokens, headSize: headSize) { query, key, value in
                        try patterns.reduce(value) { try self.densePass(query: query, key: key, value: $0, pattern: $1, mode: mode) }
                    }
                    assertClose(sparse, dense, "\(kind.rawValue) \(mode.rawValue) N=\(tokens) D=\(headSize) on \(backend.device)")
                }
            }
        }
    }

    func testMechanismsMatchDenseReferenceOnCPU() throws {
        try compareMechanisms(on: cpu)
    }

    func testMechanismsMatchDenseReferenceOnOpenCL() throws {
        guard !DeviceRegistry.shared.openCLDevices.isEmpty else { throw XCTSkip("no OpenCL platform found: sparse attention on OpenCL skipped") }
        try compareMechanisms(on: DeviceRegistry.shared.backend(for: DeviceRegistry.shared.device(for: "opencl")))
    }

    /// The OpenCL sparse kernels against the CPU's, forward and every gradient, both mask modes,
    /// at the sequence lengths and head sizes of the attention issue: at every (N, D) the
    /// index-list kernels on lists with an empty row, and the band kernels (with the index
    /// lists on the class token's row and column) on one band pattern, the head sizes of an N
    /// taking in turn a band pattern on the flattened patches, Fibottention where its windows
    /// fit, and dilated (rates 1 and 2) and both axial passes where N - 1 is a square.
    func testSparseKernelsMatchTheCPUOverTheIssueGrid() throws {
        guard !DeviceRegistry.shared.openCLDevices.isEmpty else { throw XCTSkip("no OpenCL platform found: the band kernels skipped") }
        let device = try DeviceRegistry.shared.backend(for: DeviceRegistry.shared.device(for: "opencl"))
        // The band kernels whatever the device's heuristic (index lists on CPU devices such as PoCL).
        let openCL = try XCTUnwrap(device as? OpenCLBackend)
        openCL.sparseBandKernels = true
        defer { openCL.sparseBandKernels = nil }
        for tokens in [1, 7, 65, 197, 257, 1025] {
            let line = try SparseAttentionBands(
                gridWidth: 0, heads: (0..<heads).map { head in [0, head + 1, 3 * head + 2].flatMap { [Band(offset: -$0), Band(offset: $0)] } })
            var patterns = [("line", try SparseAttentionPattern(bands: line, tokens: tokens))]
            if tokens >= 65 {
                patterns.append(
                    (
                        "fibottention",
                        try Fibottention.pattern(tokens: tokens, heads: heads, layer: 1, minimumWindow: 5, maximumWindow: nil, modified: false)
                    ))
            }
            if let (rows, columns) = try? SparsePatterns.axial(tokens: tokens, heads: heads) {
                patterns += [
                    ("dilated", try SparsePatterns.dilated(tokens: tokens, heads: heads, window: 3, rates: [1, 2])), ("axial rows", rows),
                    ("axial columns", columns),
                ]
            }
            // Index lists with an empty row (the last query of every head but the first, when N > 1).
            let lists = try SparseAttentionPattern(
                keys: (0..<heads).map { head in
                    (0..<tokens).map { query in head > 0 && query == tokens - 1 && tokens > 1 ? [] : [0, query, query + head + 1, query - head - 1] }
                        .map { $0.filter { (0..<tokens).contains($0) } }
                },
                tokens: tokens)
            let indices = try patterns.map { name, pattern in
                XCTAssertNotNil(pattern.bands, name)
                return (name, try pattern.upload(to: cpu), try pattern.upload(to: device))
            }
            let listIndices = ("lists", try lists.upload(to: cpu), try lists.upload(to: device))
            // Every (N, D) with the index lists and with one of the band patterns in turn, each
            // band pattern at several head sizes.
            for (position, headSize) in [12, 16, 32, 64, 128].enumerated() {
                for (name, cpuIndex, deviceIndex) in [indices[position % indices.count], listIndices] {
                    for mode in SparseAttentionMaskMode.allCases {
                        let expected = try outputsAndGradients(on: cpu, tokens: tokens, headSize: headSize) {
                            try sparseAttention(query: $0, key: $1, value: $2, index: cpuIndex, mode: mode)
                        }
                        let actual = try outputsAndGradients(on: device, tokens: tokens, headSize: headSize) {
                            try sparseAttention(query: $0, key: $1, value: $2, index: deviceIndex, mode: mode)
                        }
                        // As `vit check`: the class token's dense row sums N terms, so the bound grows like sqrt(N) u.
                        for (output, (got, wanted)) in zip(actual, expected).enumerated() {
                            let worst = zip(got, wanted).map { abs($0 - $1) - 1e-4 * abs($1) }.max() ?? 0
                            XCTAssertLessThanOrEqual(
                                worst, 2e-6 * Float(tokens).squareRoot(), "\(name) \(mode.rawValue) N=\(tokens) D=\(headSize) output \(output)")
                        }
                    }
                }
            }
        }
    }

    /// In neg-inf mode a query without any key outputs 0 (not NaN) and passes no gradient on.
    func testFullyMaskedRowGivesZeroInNegInfMode() throws {
        var backends = [cpu]
        if !DeviceRegistry.shared.openCLDevices.isEmpty {
            backends.append(try DeviceRegistry.shared.backend(for: DeviceRegistry.shared.device(for: "opencl")))
        }
        let keys = (0..<heads).map { head in (0..<7).map { query in query == 3 ? [] : Array(0...(query + head) % 7) } }
        let pattern = try SparseAttentionPattern(keys: keys, tokens: 7)
        let dense = try outputsAndGradients(on: cpu, tokens: 7, headSize: 16) {
            try self.densePass(query: $0, key: $1, value: $2, pattern: pattern, mode: .negativeInfinity)
        }
        for backend in backends {
            let index = try pattern.upload(to: backend)
            let sparse = try outputsAndGradients(on: backend, tokens: 7, headSize: 16) {
                try sparseAttention(query: $0, key: $1, value: $2, index: index, mode: .negativeInfinity)
            }
            XCTAssertTrue(sparse.allSatisfy { $0.allSatisfy(\.isFinite) })
            // Query 3 of every head and batch: output row 0.
            for row in stride(from: 3, to: 2 * heads * 7, by: 7) {
                XCTAssertEqual(Array(sparse[0][(row * 16)..<(row * 16 + 16)]), [Float](repeating: 0, count: 16))
            }
            assertClose(sparse, dense, "empty row on \(backend.device)")
        }
    }

    /// The core uploads its pattern once per (N, device) and reuses it.
    func testPatternIsUploadedOncePerTokenCount() throws {
        var configuration = ViTConfiguration()
        configuration.attention.kind = .fibottention
        var generator = SeededRandomGenerator(seed: 1)
        let core = try XCTUnwrap(
            AttentionFactory.makeCore(.fibottention, configuration: configuration, layer: 0, on: cpu, generator: &generator)
                as? SparseAttentionCore)
        let first = try core.deviceIndices(tokens: 65, on: cpu)
        let second = try core.deviceIndices(tokens: 65, on: cpu)
        XCTAssertTrue(first[0].storage === second[0].storage)
        XCTAssertFalse(try core.deviceIndices(tokens: 50, on: cpu)[0].storage === first[0].storage)
    }

    func testVisionTransformerTrainsAStepWithEachMechanism() throws {
        for kind in [AttentionKind.fibottention, .dilated, .axial, .hybrid] {
            var configuration = ViTConfiguration()
            configuration.numHiddenLayers = 2
            configuration.attention.kind = kind
            let model = try VisionTransformer(configuration: configuration, on: cpu)
            let images = try Tensor(KernelFamilies.values(2 * 3 * 32 * 32, seed: 3), shape: [2, 3, 32, 32], on: cpu)
            let logits = try model(images, context: ForwardContext(training: true))
            try crossEntropy(logits: logits, labels: Tensor([1, 7], shape: [2], on: cpu)).backward()
            for (name, parameter) in model.namedParameters {
                XCTAssertTrue(try XCTUnwrap(parameter.gradient, "\(kind): \(name)").toArray().allSatisfy(\.isFinite), "\(kind): \(name)")
            }
        }
    }

    /// Hybrid attention is its local core on the first K heads and its global core on the
    /// others, concatenated in head order: output and every gradient equal those of the two
    /// cores run alone on their heads (each core is checked against its own reference elsewhere).
    private func checkHybrid(on backend: Backend) throws {
        let (batch, tokens, headSize) = (2, 65, 16)
        let cases: [(Int, HybridAttentionSettings.Local, HybridAttentionSettings.Global)] = [
            (0, .dilated, .linear), (1, .dilated, .linear), (2, .fibottention, .performer), (3, .dilated, .linear),
        ]
        for (localHeads, local, global) in cases {
            var configuration = ViTConfiguration()
            configuration.numAttentionHeads = heads
            configuration.hiddenSize = heads * headSize
            configuration.attention.kind = .hybrid
            configuration.attention.hybrid.localHeads = localHeads
            configuration.attention.hybrid.local = local
            configuration.attention.hybrid.global = global
            var generator = SeededRandomGenerator(seed: 4)
            let hybrid = try XCTUnwrap(
                try AttentionFactory.makeCore(.hybrid, configuration: configuration, on: backend, generator: &generator) as? HybridAttentionCore)
            let shape: Shape = [batch, heads, tokens, headSize]
            let values = (0..<3).map { KernelFamilies.values(shape.elementCount, seed: UInt32(70 + $0)) }
            let upstream = KernelFamilies.values(shape.elementCount, seed: 73)
            let inputs = try values.map { try Tensor($0, shape: shape, on: backend, requiresGradient: true) }
            let output = try hybrid(query: inputs[0], key: inputs[1], value: inputs[2], context: ForwardContext(training: false))
            try output.backward(Tensor(upstream, shape: shape, on: backend))
            let actual = try [output.toArray()] + inputs.map { try XCTUnwrap($0.gradient).toArray() }

            // Heads `range` of a [batch, heads, tokens, headSize] array, and the way back.
            let headLength = tokens * headSize
            func headSlice(_ array: [Float], _ range: Range<Int>) -> [Float] {
                (0..<batch).flatMap { image in
                    array[((image * self.heads + range.lowerBound) * headLength)..<((image * self.heads + range.upperBound) * headLength)]
                }
            }
            var expected = [[Float]](repeating: [Float](repeating: .nan, count: shape.elementCount), count: 4)
            for (core, range) in [(hybrid.local, 0..<localHeads), (hybrid.global, localHeads..<self.heads)] where !range.isEmpty {
                let core = try XCTUnwrap(core)
                let partShape: Shape = [batch, range.count, tokens, headSize]
                let parts = try values.map { try Tensor(headSlice($0, range), shape: partShape, on: backend, requiresGradient: true) }
                let partOutput = try core(query: parts[0], key: parts[1], value: parts[2], context: ForwardContext(training: false))
                try partOutput.backward(Tensor(headSlice(upstream, range), shape: partShape, on: backend))
                let results = try [partOutput.toArray()] + parts.map { try XCTUnwrap($0.gradient).toArray() }
                for (index, result) in results.enumerated() {
                    for image in 0..<batch {
                        let length = range.count * headLength
                        expected[index].replaceSubrange(
                            ((image * self.heads + range.lowerBound) * headLength)..<((image * self.heads + range.upperBound) * headLength),
                            with: result[(image * length)..<((image + 1) * length)])
                    }
                }
            }
            XCTAssertFalse(expected.joined().contains { $0.isNaN }, "every head is covered by one of the two groups")
            // The same cores on the same numbers: identical up to summation order in the
            // gradients of inputs that the slicing routes through one more addition.
            assertClose(actual, expected, "hybrid \(localHeads) \(local) + \(global) on \(backend.device)")
            let macs = hybrid.multiplyAccumulates(tokens: tokens, width: heads * headSize)
            XCTAssertEqual(
                macs,
                (hybrid.local?.multiplyAccumulates(tokens: tokens, width: localHeads * headSize) ?? 0)
                    + (hybrid.global?.multiplyAccumulates(tokens: tokens, width: (heads - localHeads) * headSize) ?? 0))
        }
    }

    func testHybridIsLocalHeadsThenGlobalHeadsOnCPU() throws {
        try checkHybrid(on: cpu)
    }

    func testHybridIsLocalHeadsThenGlobalHeadsOnOpenCL() throws {
        guard !DeviceRegistry.shared.openCLDevices.isEmpty else { throw XCTSkip("no OpenCL platform found: hybrid attention on OpenCL skipped") }
        try checkHybrid(on: DeviceRegistry.shared.backend(for: DeviceRegistry.shared.device(for: "opencl")))
    }
}
