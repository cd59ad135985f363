import ViTBackends
import ViTCore
import XCTest

@testable import ViTNN

/// Performer, elu + 1 linear attention, Linformer and Nystromformer against the plain
/// double-precision references of AttentionReference.swift, forward and gradients, on the
/// CPU backend and on OpenCL, at N in {7, 65, 197} and D in {16, 32}.
///
/// Gradients: for loss = sum(w * out) with fixed random w, the backend's gradient of every
/// input (and parameter) is compared with central differences of the double reference
/// along a random direction u, `<g, u>` against `(L(x + h u) - L(x - h u)) / 2h`; h = 1e-3
/// leaves a truncation error near h^2 = 1e-6 relative, and float32 sums over the tensor
/// stay within 1e-3 of `sum |g u|`.
final class EfficientAttentionTests: XCTestCase {
    private let sizes = [(7, 16), (7, 32), (65, 16), (65, 32), (197, 16), (197, 32)]
    private let (batch, heads) = (1, 2)

    private static let cpu: Backend = try! DeviceRegistry.shared.backend(for: .cpu)

    private static func openCL() throws -> Backend {
        guard !DeviceRegistry.shared.openCLDevices.isEmpty else {
            throw XCTSkip("no OpenCL platform found: OpenCL attention checks skipped (install pocl-opencl-icd to run them on the CPU)")
        }
        return try DeviceRegistry.shared.backend(for: DeviceRegistry.shared.device(for: "opencl"))
    }

    /// A mechanism under test: its core on a backend and its reference.
    private typealias Mechanism = (_ backend: Backend, _ tokens: Int, _ headSize: Int) throws -> (core: AttentionCore, reference: AttentionReference)

    private func performer(_ backend: Backend, _ tokens: Int, _ headSize: Int) throws -> (core: AttentionCore, reference: AttentionReference) {
        let features = try RandomFeatures(count: 24, headSize: headSize, redrawInterval: 0, seed: 5, on: backend)
        let projections = try features.directions.toArray().map(Double.init)
        let matrix = stride(from: 0, to: projections.count, by: headSize).map { Array(projections[$0..<($0 + headSize)]) }
        return (
            LinearAttentionCore(featureMap: .favor(features), headSize: headSize),
            PerformerReference(projections: matrix, batch: batch, heads: heads, tokens: tokens, headSize: headSize)
        )
    }

    private func linear(_ backend: Backend, _ tokens: Int, _ headSize: Int) throws -> (core: AttentionCore, reference: AttentionReference) {
        (
            LinearAttentionCore(featureMap: .eluPlusOne, headSize: headSize),
            EluLinearReference(batch: batch, heads: heads, tokens: tokens, headSize: headSize)
        )
    }

    private func linformer(_ backend: Backend, _ tokens: Int, _ headSize: Int) throws -> (core: AttentionCore, reference: AttentionReference) {
        var generator = SeededRandomGenerator(seed: 6)
        return (
            try LinformerCore(tokens: tokens, projectedLength: 5, dropout: 0, on: backend, generator: &generator),
            LinformerReference(batch: batch, heads: heads, tokens: tokens, headSize: headSize)
        )
    }

    /// Five landmarks: 7 and 197 tokens make segments of unequal length, 65 equal ones.
    private func nystromformer(_ backend: Backend, _ tokens: Int, _ headSize: Int) throws -> (core: AttentionCore, reference: AttentionReference) {
        (
            NystromCore(landmarks: 5, headSize: headSize, dropout: 0),
            NystromReference(landmarks: 5, batch: batch, heads: heads, tokens: tokens, headSize: headSize)
        )
    }

    /// With the residual convolution of 5 taps (the padding shows at every N).
    private func nystromformerWithConvolution(_ backend: Backend, _ tokens: Int, _ headSize: Int) throws -> (
        core: AttentionCore, reference: AttentionReference
    ) {
        var generator = SeededRandomGenerator(seed: 7)
        let weight = try NystromCore.makeConvolutionWeight(heads: heads, taps: 5, on: backend, generator: &generator)
        return (
            NystromCore(landmarks: 5, headSize: headSize, dropout: 0, convolutionWeight: weight),
            NystromReference(landmarks: 5, convolutionTaps: 5, batch: batch, heads: heads, tokens: tokens, headSize: headSize)
        )
    }

    private func check(_ mechanism: Mechanism, on backend: Backend, file: StaticString = #filePath, line: UInt = #line) throws {
        for (tokens, headSize) in sizes {
            let (core, reference) = try mechanism(backend, tokens, headSize)
            let shape: Shape = [batch, heads, tokens, headSize]
            let inputs =
                try (0..<3).map {
                    try Tensor(
                        KernelFamilies.values(shape.elementCount, seed: UInt32(60 + $0)), shape: shape, on: backend, requiresGradient: true)
                } + core.namedParameters.map(\.tensor)
            for input in inputs { input.zeroGradient() }
            let output = try core(query: inputs[0], key: inputs[1], value: inputs[2], context: ForwardContext(training: false))
            let weights = KernelFamilies.values(output.elementCount, seed: 70)
            try output.backward(Tensor(weights, shape: output.shape, on: backend))

            let values = try inputs.map { try $0.toArray().map(Double.init) }
            let expected = reference(values)
            let actual = try output.toArray()
            let label = "\(type(of: reference)) N=\(tokens) D=\(headSize) on \(backend.device)"
            var worst = 0.0
            for (got, wanted) in zip(actual, expected) {
                worst = max(worst, abs(Double(got) - wanted))
                // Float32 against double through softmax or exp and sums of N terms.
                XCTAssertEqual(Double(got), wanted, accuracy: 2e-5 + 1e-4 * abs(wanted), "\(label): output", file: file, line: line)
            }
            let loss = { (inputs: [[Double]]) in zip(reference(inputs), weights).reduce(0) { $0 + $1.0 * Double($1.1) } }
            for (number, input) in inputs.enumerated() {
                let gradient = try XCTUnwrap(input.gradient, "\(label): input \(number) got no gradient", file: file, line: line).toArray()
                let direction = KernelFamilies.values(input.elementCount, seed: UInt32(80 + number)).map(Double.init)
                let step = 1e-3
                var (plus, minus) = (values, values)
                plus[number] = zip(values[number], direction).map { $0 + step * $1 }
                minus[number] = zip(values[number], direction).map { $0 - step * $1 }
                let numeric = (loss(plus) - loss(minus)) / (2 * step)
                let analytic = zip(gradient, direction).reduce(0) { $0 + Double($1.0) * $1.1 }
                let magnitude = zip(gradient, direction).reduce(0) { $0 + abs(Double($1.0) * $1.1) }
                XCTAssertEqual(analytic, numeric, accuracy: 1e-5 + 1e-3 * magnitude, "\(label): gradient of input \(number)", file: file, line: line)
            }
            print("\(label): max |output - reference| = \(worst)")
        }
    }

    func testPerformerMatchesReferenceOnCPU() throws { try check(performer, on: Self.cpu) }
    func testPerformerMatchesReferenceOnOpenCL() throws { try check(performer, on: Self.openCL()) }
    func testLinearAttentionMatchesReferenceOnCPU() throws { try check(linear, on: Self.cpu) }
    func testLinearAttentionMatchesReferenceOnOpenCL() throws { try check(linear, on: Self.openCL()) }
    func testLinformerMatchesReferenceOnCPU() throws { try check(linformer, on: Self.cpu) }
    func testLinformerMatchesReferenceOnOpenCL() throws { try check(linformer, on: Self.openCL()) }
    func testNystromformerMatchesReferenceOnCPU() throws { try check(nystromformer, on: Self.cpu) }
    func testNystromformerMatchesReferenceOnOpenCL() throws { try check(nystromformer, on: Self.openCL()) }
    func testNystromformerConvolutionMatchesReferenceOnCPU() throws { try check(nystromformerWithConvolution, on: Self.cpu) }
    func testNystromformerConvolutionMatchesReferenceOnOpenCL() throws { try check(nystromformerWithConvolution, on: Self.openCL()) }

    /// Performer estimates exp(q.k / sqrt(D)) without bias, with an error that shrinks like
    /// 1 / sqrt(M): on fixed inputs the mean error against exact attention falls as M grows.
    func testPerformerApproachesSoftmaxAttentionAsFeaturesGrow() throws {
        let backend = Self.cpu
        let (tokens, headSize) = (65, 16)
        let shape: Shape = [2, 4, tokens, headSize]
        let inputs = try (0..<3).map { try Tensor(KernelFamilies.values(shape.elementCount, seed: UInt32(90 + $0)), shape: shape, on: backend) }
        let exact = try MaterializedAttentionCore(dropout: 0)(
            query: inputs[0], key: inputs[1], value: inputs[2], context: ForwardContext(training: false)
        ).toArray()
        let errors = try [16, 64, 256].map { features -> Double in
            let randomFeatures = try RandomFeatures(count: features, headSize: headSize, redrawInterval: 0, seed: 11, on: backend)
            let core = LinearAttentionCore(featureMap: .favor(randomFeatures), headSize: headSize)
            let approximate = try core(query: inputs[0], key: inputs[1], value: inputs[2], context: ForwardContext(training: false)).toArray()
            return zip(approximate, exact).reduce(0) { $0 + abs(Double($1.0 - $1.1)) } / Double(exact.count)
        }
        print("Performer mean |error| against softmax attention at M = 16, 64, 256: \(errors)")
        XCTAssertLessThan(errors[1], errors[0])
        XCTAssertLessThan(errors[2], errors[1])
    }

    func testNystromformerWithEnoughLandmarksIsExactAttention() throws {
        let backend = Self.cpu
        let shape: Shape = [2, 3, 9, 8]
        let inputs = try (0..<3).map { try Tensor(KernelFamilies.values(shape.elementCount, seed: UInt32(95 + $0)), shape: shape, on: backend) }
        let context = ForwardContext(training: false)
        let exact = try MaterializedAttentionCore(dropout: 0)(query: inputs[0], key: inputs[1], value: inputs[2], context: context).toArray()
        for landmarks in [9, 12] {
            let output = try NystromCore(landmarks: landmarks, headSize: 8, dropout: 0)(
                query: inputs[0], key: inputs[1], value: inputs[2], context: context)
            XCTAssertEqual(try output.toArray(), exact)
        }
    }

    /// With attention dropout the standard mechanism keeps the flash core, which drops inside
    /// its kernels from the context's stream: the materialised core's output and gradients
    /// (softmax, `context.dropout`, product) for a context of the same seed and step, over two
    /// calls (so the second call's fresh offset matches too), on the CPU and on OpenCL.
    func testFlashCoreDropoutMatchesTheMaterialisedCore() throws {
        var configuration = ViTConfiguration()
        configuration.attentionProbsDropoutProb = 0.2
        var generator = SeededRandomGenerator(seed: 1)
        let made = try AttentionFactory.makeCore(.standard, configuration: configuration, on: Self.cpu, generator: &generator)
        XCTAssertTrue(made is FlashAttentionCore, "standard attention with dropout built \(type(of: made))")
        let shape: Shape = [2, 3, 65, 16]
        let values = (0..<4).map { KernelFamilies.values(shape.elementCount, seed: UInt32(110 + $0)) }
        let backends = [Self.cpu] + (DeviceRegistry.shared.openCLDevices.isEmpty ? [] : [try Self.openCL()])
        for backend in backends {
            func run(_ core: AttentionCore) throws -> [[Float]] {
                let inputs = try values.prefix(3).map { try Tensor($0, shape: shape, on: backend, requiresGradient: true) }
                let context = ForwardContext(training: true, seed: 5, step: 3)
                let first = try core(query: inputs[0], key: inputs[1], value: inputs[2], context: context)
                let second = try core(query: first, key: inputs[1], value: inputs[2], context: context)
                try second.backward(Tensor(values[3], shape: shape, on: backend))
                return try [second.toArray()] + inputs.map { try $0.gradient!.toArray() }
            }
            let (flash, materialised) = (try run(FlashAttentionCore(dropout: 0.2)), try run(MaterializedAttentionCore(dropout: 0.2)))
            for (index, name) in ["output", "dQ", "dK", "dV"].enumerated() {
                let worst = zip(flash[index], materialised[index]).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 1e-4, "\(name) on \(backend.device)")
                print("flash core dropout \(name) on \(backend.device): max difference \(worst) from the materialised core")
            }
        }
    }

    func testLinformerRejectsAnotherSequenceLength() throws {
        var generator = SeededRandomGenerator(seed: 1)
        let core = try LinformerCore(tokens: 65, projectedLength: 8, dropout: 0, on: Self.cpu, generator: &generator)
        let input = try Tensor.zeros([1, 2, 17, 4], on: Self.cpu)
        XCTAssertThrowsError(try core(query: input, key: input, value: input, context: ForwardContext(training: false))) {
            XCTAssertTrue("\($0)".contains("built for 65 tokens"), "\($0)")
        }
    }

    /// Redraws happen every K training steps and never in evaluation; a seed and a step fix
    /// every draw, so a fresh instance at step s (a resumed run) holds what a long-lived one does.
    func testPerformerRedrawsEveryKTrainingSteps() throws {
        let features = try RandomFeatures(count: 8, headSize: 4, redrawInterval: 2, seed: 3, on: Self.cpu)
        let draws = try (0..<5).map { try features.projections(for: ForwardContext(training: true, step: $0)).toArray() }
        XCTAssertEqual(draws[0], draws[1])
        XCTAssertNotEqual(draws[1], draws[2])
        XCTAssertEqual(draws[2], draws[3])
        XCTAssertNotEqual(draws[3], draws[4])
        XCTAssertEqual(try features.projections(for: ForwardContext(training: false, step: 9)).toArray(), draws[4])
        let again = try RandomFeatures(count: 8, headSize: 4, redrawInterval: 2, seed: 3, on: Self.cpu)
        XCTAssertEqual(try again.projections(for: ForwardContext(training: false)).toArray(), draws[0])
        XCTAssertEqual(try again.projections(for: ForwardContext(training: true, step: 3)).toArray(), draws[3])
    }

    /// Rows of each block of D are orthogonal; norms are chi-distributed (mean near sqrt(D)).
    func testRandomFeaturesAreOrthogonalWithinBlocks() {
        var generator = SeededRandomGenerator(seed: 9)
        let (rows, columns) = (40, 8)
        let values = RandomFeatures.orthogonalGaussian(rows: rows, columns: columns, generator: &generator).map(Double.init)
        let row = { (index: Int) in Array(values[(index * columns)..<((index + 1) * columns)]) }
        for first in 0..<rows {
            for second in (first + 1)..<rows where first / columns == second / columns {
                XCTAssertEqual(zip(row(first), row(second)).reduce(0) { $0 + $1.0 * $1.1 }, 0, accuracy: 1e-4)
            }
        }
        let meanNorm = (0..<rows).map { index in row(index).reduce(0) { $0 + $1 * $1 }.squareRoot() }.reduce(0, +) / Double(rows)
        XCTAssertEqual(meanNorm, Double(columns).squareRoot(), accuracy: 0.5)
    }

    func testBadHyperparametersAreRejectedBeforeTraining() {
        let cases: [(String, (inout ViTConfiguration) -> Void)] = [
            ("performer_features (--performer-features) must be positive, got 0", { $0.attention.performer.features = 0 }),
            ("performer_redraw (--performer-redraw) must be 0", { $0.attention.performer.redrawInterval = -1 }),
            ("linformer_k (--linformer-k) must be positive, got -3", { $0.attention.linformer.projectedLength = -3 }),
            (
                "linformer_k (--linformer-k) 66 is larger than the 65 tokens",
                {
                    $0.attention.kind = .linformer
                    $0.attention.linformer.projectedLength = 66
                }
            ),
            ("nystrom_landmarks (--nystrom-landmarks) must be positive, got 0", { $0.attention.nystromformer.landmarks = 0 }),
            ("nystrom_conv (--nystrom-conv) must be an odd number of taps of at least 1", { $0.attention.nystromformer.convolutionTaps = 32 }),
            ("nystrom_conv (--nystrom-conv) must be an odd number of taps of at least 1", { $0.attention.nystromformer.convolutionTaps = 0 }),
        ]
        for (message, change) in cases {
            var configuration = ViTConfiguration()
            change(&configuration)
            XCTAssertThrowsError(try configuration.validate(), message) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
        var configuration = ViTConfiguration()
        configuration.attention.kind = .linformer
        configuration.attention.linformer.projectedLength = 65
        XCTAssertNoThrow(try configuration.validate())
    }

    /// The hyper-parameters round-trip through config.json, and the default M is int(D ln D).
    func testHyperparametersRoundTripThroughJSON() throws {
        var configuration = ViTConfiguration()
        XCTAssertEqual(configuration.attention.performer.featureCount(headSize: configuration.headSize), 29)
        configuration.attention.kind = .performer
        configuration.attention.performer.features = 40
        configuration.attention.performer.redrawInterval = 100
        configuration.attention.linformer.projectedLength = 16
        configuration.attention.nystromformer.landmarks = 8
        configuration.attention.nystromformer.convolutionTaps = 33
        let decoded = try JSONDecoder().decode(ViTConfiguration.self, from: configuration.jsonData())
        XCTAssertEqual(decoded, configuration)
        XCTAssertEqual(try JSONDecoder().decode(ViTConfiguration.self, from: Data("{}".utf8)).attention.linformer.projectedLength, 64)
    }

    /// Each mechanism builds a whole model that trains: every parameter (Linformer's E and F
    /// included) gets a gradient, and the summary's parameter and MAC counts reflect the core.
    func testEveryMechanismBuildsAModelThatBackPropagates() throws {
        let backend = Self.cpu
        var macs: [String: Int] = [:]
        for (kind, convolution) in [(AttentionKind.performer, nil), (.linear, nil), (.linformer, nil), (.nystromformer, nil), (.nystromformer, 33)] {
            var configuration = ViTConfiguration()
            configuration.numHiddenLayers = 1
            configuration.attention.kind = kind
            configuration.attention.nystromformer.convolutionTaps = convolution
            let model = try VisionTransformer(configuration: configuration, on: backend)
            let images = try Tensor(KernelFamilies.values(2 * 3 * 32 * 32, seed: 1), shape: [2, 3, 32, 32], on: backend)
            try crossEntropy(logits: model(images, context: ForwardContext(training: true)), labels: Tensor([1, 7], shape: [2], on: backend))
                .backward()
            for (name, parameter) in model.namedParameters {
                XCTAssertNotNil(parameter.gradient, "\(kind): \(name) got no gradient")
            }
            macs[kind.rawValue + (convolution.map { " conv \($0)" } ?? "")] = model.multiplyAccumulates
            // Linformer's E and F [64, 65]; the convolution's [4 heads, 1, 33, 1].
            let coreParameters = kind == .linformer ? 2 * 64 * 65 : 4 * (convolution ?? 0)
            var standard = configuration
            standard.attention.kind = .standard
            XCTAssertEqual(
                model.parameterCount, try VisionTransformer(configuration: standard, on: backend).parameterCount + coreParameters, "\(kind)")
        }
        print("MACs per image, 1 block: \(macs)")
    }
}
