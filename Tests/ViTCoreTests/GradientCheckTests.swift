import ViTBackends
import ViTCore
import XCTest

/// Finite-difference checks of every operation's backward rule on the CPU backend.
///
/// The loss is sum(w * f(x)) for fixed random w, accumulated in Double on the host, so the
/// only float32 noise is that of f itself. Central differences with h = 1e-2 have a
/// truncation error of order h^2 |f'''| (about 1e-4 here) and amplify f's rounding by
/// 1/(2h) = 50, so a tolerance of 2e-3 + 1e-2 |numeric| separates right from wrong.
final class GradientCheckTests: XCTestCase {
    let backend = TestDevices.cpu

    func tensor(_ shape: Shape, seed: UInt32, scale: Float = 1, shift: Float = 0) throws -> Tensor {
        try Tensor(
            KernelFamilies.values(shape.elementCount, seed: seed, scale: scale, shift: shift), shape: shape, on: backend, requiresGradient: true)
    }

    func checkGradients(
        _ inputs: [Tensor], file: StaticString = #filePath, line: UInt = #line, _ function: @escaping ([Tensor]) throws -> Tensor
    ) throws {
        for input in inputs { input.zeroGradient() }
        let output = try function(inputs)
        let weights = KernelFamilies.values(output.elementCount, seed: 99)
        try output.backward(Tensor(weights, shape: output.shape, on: backend))
        let loss = { () throws -> Double in
            let values = try GradientMode.withoutGradient { try function(inputs).toArray() }
            return zip(values, weights).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        let step: Float = 1e-2
        for (number, input) in inputs.enumerated() where input.requiresGradient {
            let analytic = try XCTUnwrap(input.gradient, "input \(number) got no gradient", file: file, line: line).toArray()
            var values = try input.toArray()
            // Up to 24 positions spread over the tensor keep the test fast on big inputs.
            let positions = Set((0..<min(24, values.count)).map { $0 * values.count / min(24, values.count) })
            var worst: Float = 0
            for position in positions.sorted() {
                let original = values[position]
                values[position] = original + step
                try values.withUnsafeBufferPointer { try backend.write($0, to: input.storage) }
                let plus = try loss()
                values[position] = original - step
                try values.withUnsafeBufferPointer { try backend.write($0, to: input.storage) }
                let minus = try loss()
                values[position] = original
                try values.withUnsafeBufferPointer { try backend.write($0, to: input.storage) }
                let numeric = Float((plus - minus) / Double(2 * step))
                let difference = abs(numeric - analytic[position])
                worst = max(worst, difference)
                XCTAssertLessThanOrEqual(
                    difference, 2e-3 + 1e-2 * abs(numeric),
                    "input \(number)[\(position)]: analytic \(analytic[position]) numeric \(numeric)", file: file, line: line)
            }
            print("gradient check input \(number) \(input.shape): max |analytic - numeric| = \(worst)")
        }
    }

    func testMatmulAllTransposes() throws {
        for (transposeA, transposeB) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = try tensor(transposeA ? [5, 3] : [3, 5], seed: 1)
            let b = try tensor(transposeB ? [4, 5] : [5, 4], seed: 2)
            try checkGradients([a, b]) { try matmul($0[0], $0[1], transposeA: transposeA, transposeB: transposeB) }
        }
    }

    func testBatchedMatmul() throws {
        for (transposeA, transposeB) in [(false, false), (false, true), (true, false)] {
            let a = try tensor(transposeA ? [2, 3, 5, 4] : [2, 3, 4, 5], seed: 3)
            let b = try tensor(transposeB ? [2, 3, 6, 5] : [2, 3, 5, 6], seed: 4)
            try checkGradients([a, b]) { try matmul($0[0], $0[1], transposeA: transposeA, transposeB: transposeB, alpha: 0.5) }
        }
    }

    func testLinearWithSharedWeight() throws {
        let input = try tensor([2, 7, 5], seed: 5)
        let weight = try tensor([3, 5], seed: 6)
        let bias = try tensor([3], seed: 7)
        try checkGradients([input, weight, bias]) { try linear($0[0], weight: $0[1], bias: $0[2]) }
        let weightNotTransposed = try tensor([5, 3], seed: 8)
        try checkGradients([input, weightNotTransposed]) { try matmul($0[0], $0[1]) }
    }

    func testElementwise() throws {
        let a = try tensor([4, 6], seed: 9)
        let b = try tensor([4, 6], seed: 10)
        try checkGradients([a, b]) { try $0[0] + $0[1] }
        try checkGradients([a, b]) { try $0[0] - $0[1] }
        try checkGradients([a, b]) { try $0[0] * $0[1] }
        try checkGradients([a]) { try $0[0].scaled(by: -2.5) }
        try checkGradients([a]) { try $0[0] * $0[0] }
    }

    func testAddBias() throws {
        try checkGradients([try tensor([3, 4, 5], seed: 11), try tensor([5], seed: 12)]) { try $0[0].addingBias($0[1]) }
    }

    func testGelu() throws {
        try checkGradients([try tensor([3, 33], seed: 13, scale: 3)]) { try $0[0].gelu() }
    }

    func testLayerNorm() throws {
        let input = try tensor([5, 7], seed: 14, scale: 2, shift: 0.3)
        let weight = try tensor([7], seed: 15, shift: 1)
        let bias = try tensor([7], seed: 16)
        try checkGradients([input, weight, bias]) { try $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
    }

    func testSoftmax() throws {
        try checkGradients([try tensor([4, 9], seed: 17, scale: 2)]) { try $0[0].softmax() }
    }

    func testCrossEntropy() throws {
        let logits = try tensor([6, 5], seed: 18, scale: 2)
        let labels = try Tensor([0, 4, 2, 1, 3, 2], shape: [6], on: backend)
        try checkGradients([logits]) { try crossEntropy(logits: $0[0], labels: labels) }
        try checkGradients([logits]) { try crossEntropy(logits: $0[0], labels: labels, labelSmoothing: 0.1) }
    }

    func testSumsAndMean() throws {
        let input = try tensor([3, 4, 5], seed: 19)
        for axis in [0, 1, 2, -1] {
            try checkGradients([input]) { try $0[0].sum(axis: axis) }
        }
        try checkGradients([input]) { try $0[0].mean() }
        try checkGradients([input]) { try $0[0].sum() }
    }

    func testPermuteAndReshape() throws {
        let input = try tensor([2, 3, 4, 5], seed: 20)
        try checkGradients([input]) { try $0[0].permuted([0, 2, 1, 3]) }
        try checkGradients([input]) { try $0[0].permuted([3, 1, 0, 2]) }
        try checkGradients([input]) { try $0[0].reshaped([6, 20]).permuted([1, 0]) }
    }

    func testConcatenateSliceExpand() throws {
        let a = try tensor([2, 3, 4], seed: 24)
        let b = try tensor([2, 1, 4], seed: 25)
        try checkGradients([a, b]) { try concatenate([$0[1], $0[0]], axis: 1) }
        try checkGradients([a]) { try concatenate([$0[0], $0[0]], axis: 2) }
        try checkGradients([a]) { try $0[0].sliced(axis: 1, 1..<3) }
        try checkGradients([b]) { try $0[0].expanded(axis: 0, count: 3) }
    }

    func testSplit() throws {
        let a = try tensor([2, 5, 3], seed: 27)
        // Parts used unequally, one used twice, and parts combined with each other.
        try checkGradients([a]) { inputs in
            let parts = try inputs[0].split(axis: 1, sizes: [2, 1, 2])
            return try concatenate([parts[2].scaled(by: 3), parts[0], parts[2]], axis: 1) * concatenate(Array(repeating: parts[1], count: 6), axis: 1)
        }
        // A part that does not reach the output contributes zeros.
        try checkGradients([a]) { try $0[0].split(axis: 2, sizes: [1, 2])[1] }
        try checkGradients([a]) { try $0[0].split(axis: 0, sizes: [1, 1])[0].gelu() }
    }

    func testPatchify() throws {
        try checkGradients([try tensor([2, 3, 4, 6], seed: 26)]) { try $0[0].patchified(patch: 2) }
    }

    func testPatchifyLayoutMatchesAConvolutionWeight() throws {
        // One 2-channel 4x4 image: patch (grid row 1, column 0), channel 1, pixel (row 0, column 1).
        let image = try Tensor((0..<32).map(Float.init), shape: [1, 2, 4, 4], on: backend)
        let patches = try image.patchified(patch: 2).toArray()
        // Patch 2 (grid row 1, column 0), value index (channel 1, row 0, column 1) = 4 + 0 + 1.
        XCTAssertEqual(patches[2 * 8 + 5], Float(16 + 2 * 4 + 1))
    }

    func testDropout() throws {
        // The mask is fixed by (seed, offset), so dropout is linear in its input.
        try checkGradients([try tensor([4, 50], seed: 21)]) { try $0[0].dropout(probability: 0.3, seed: 5, offset: 2) }
    }

    /// Flash attention with dropout on its probabilities: the mask is fixed by (seed, offset),
    /// so the function is smooth in Q, K and V, and the regenerated mask's gradients must match.
    func testFlashAttentionWithDropout() throws {
        let dropout = AttentionDropout(probability: 0.3, seed: 7, offset: 1)
        let inputs = try (0..<3).map { try tensor([2, 2, 7, 8], seed: 30 + UInt32($0)) }
        try checkGradients(inputs) { try flashAttention(query: $0[0], key: $0[1], value: $0[2], dropout: dropout) }
    }

    /// A composite: a tiny attention block, to exercise accumulation through shared inputs.
    func testAttentionComposite() throws {
        let x = try tensor([2, 5, 8], seed: 22)
        let weight = try tensor([24, 8], seed: 23, scale: 0.5)
        try checkGradients([x, weight]) { inputs in
            let qkv = try linear(inputs[0], weight: inputs[1], bias: nil).reshaped([2, 5, 3, 2, 4]).permuted([2, 0, 3, 1, 4])
            let q = try qkv.reshaped([3, 2 * 2 * 5 * 4])
            // Split q, k, v by reshaping per part (each part is a contiguous third).
            let parts = try (0..<3).map { part -> Tensor in
                let selector = try Tensor((0..<3).map { $0 == part ? 1 : 0 }, shape: [1, 3], on: inputs[0].backend)
                return try matmul(selector, q).reshaped([2, 2, 5, 4])
            }
            let scores = try matmul(parts[0], parts[1], transposeB: true).scaled(by: 0.5).softmax()
            return try matmul(scores, parts[2]).permuted([0, 2, 1, 3]).reshaped([2, 5, 8])
        }
    }
}
