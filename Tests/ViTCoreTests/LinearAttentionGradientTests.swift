import ViTBackends
import ViTCore
import XCTest

/// Finite-difference checks of the linear-attention, feature-map and pseudo-inverse
/// backward rules, with GradientCheckTests' helper and tolerances.
extension GradientCheckTests {
    func testLinearAttention() throws {
        let queryFeatures = try tensor([2, 7, 5], seed: 30, scale: 0.5, shift: 0.6)
        let keyFeatures = try tensor([2, 7, 5], seed: 31, scale: 0.5, shift: 0.6)
        let value = try tensor([2, 7, 3], seed: 32)
        try checkGradients([queryFeatures, keyFeatures, value]) {
            try linearAttention(queryFeatures: $0[0], keyFeatures: $0[1], value: $0[2], epsilon: 1e-6)
        }
    }

    func testEluFeatures() throws {
        // Away from 0, where elu's second derivative jumps and central differences straddle it.
        let values = KernelFamilies.values(40, seed: 33, scale: 2).map { $0 + ($0 < 0 ? -0.05 : 0.05) }
        try checkGradients([try Tensor(values, shape: [4, 10], on: TestDevices.cpu, requiresGradient: true)]) { try $0[0].eluFeatures() }
    }

    /// FAVOR+ features through linear attention: the stabilizers, detached in the backward
    /// rule, cancel in its quotient, so the finite differences see the same function.
    func testFavorFeaturesThroughLinearAttention() throws {
        let query = try tensor([2, 6, 4], seed: 34)
        let key = try tensor([2, 6, 4], seed: 35)
        let value = try tensor([2, 6, 3], seed: 36)
        let projections = try tensor([9, 4], seed: 37, scale: 1.5)
        projections.requiresGradient = false
        try checkGradients([query, key, value]) {
            try linearAttention(
                queryFeatures: $0[0].favorFeatures(projections: projections, stabilizer: .perRow),
                keyFeatures: $0[1].favorFeatures(projections: projections, stabilizer: .perMatrix), value: $0[2], epsilon: 1e-6)
        }
    }

    /// On well-conditioned matrices the iteration converges, so its result (and gradient) no
    /// longer depends on the starting scale that the backward rule holds constant.
    func testPseudoInverseOfWellConditionedMatrices() throws {
        let noise = KernelFamilies.values(2 * 16, seed: 38, scale: 0.15)
        let values = noise.enumerated().map { index, value in value + (index % 16 % 5 == 0 ? 1 : 0) }
        let matrices = try Tensor(values, shape: [2, 4, 4], on: TestDevices.cpu, requiresGradient: true)
        let product = try matmul(matrices, try matrices.pseudoInverse(iterations: 6)).toArray()
        for (index, value) in product.enumerated() {
            XCTAssertEqual(value, index % 16 % 5 == 0 ? 1 : 0, accuracy: 1e-5, "K pinv(K) is not the identity at \(index)")
        }
        try checkGradients([matrices]) { try $0[0].pseudoInverse(iterations: 6) }
    }
}

/// Finite-difference check of the token-axis depthwise convolution (Nystromformer's residual).
extension GradientCheckTests {
    /// Seven tokens and five taps: the first and last two rows see the zero padding.
    func testSequenceConvolution() throws {
        let input = try tensor([2, 3, 7, 4], seed: 39)
        let weight = try tensor([3, 5], seed: 40)
        try checkGradients([input, weight]) { try $0[0].sequenceConvolution(weight: $0[1]) }
    }

    /// The convolution against its definition, summed directly in double precision.
    func testSequenceConvolutionMatchesItsDefinition() throws {
        let (batch, heads, tokens, width, taps) = (2, 3, 6, 2, 5)
        let input = try tensor([batch, heads, tokens, width], seed: 41)
        let weight = try tensor([heads, taps], seed: 42)
        let (x, w) = (try input.toArray(), try weight.toArray())
        let output = try input.sequenceConvolution(weight: weight).toArray()
        for b in 0..<batch {
            for h in 0..<heads {
                for n in 0..<tokens {
                    for d in 0..<width {
                        var expected = 0.0
                        for t in 0..<taps where (0..<tokens).contains(n + t - taps / 2) {
                            expected += Double(w[h * taps + t]) * Double(x[((b * heads + h) * tokens + n + t - taps / 2) * width + d])
                        }
                        XCTAssertEqual(Double(output[((b * heads + h) * tokens + n) * width + d]), expected, accuracy: 1e-5)
                    }
                }
            }
        }
        XCTAssertThrowsError(try input.sequenceConvolution(weight: try tensor([heads, 4], seed: 43))) {
            XCTAssertTrue("\($0)".contains("odd taps"), "\($0)")
        }
    }
}
