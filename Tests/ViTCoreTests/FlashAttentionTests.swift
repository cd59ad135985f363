import ViTBackends
import ViTCore
import ViTOpenCL
import XCTest

/// Flash attention against the materialised reference on the CPU (softmax(scale Q K^T +
/// bias) V with the N x N matrix, and with dropout `Tensor.dropout` of those probabilities),
/// forward and all three gradients, on both backends.
final class FlashAttentionTests: XCTestCase {
    private let cpu = TestDevices.cpu

    private struct Result {
        var output: [Float]
        var gradients: [[Float]]
    }

    /// Random Q, K, V [batch, heads, tokens, headSize], an output gradient, and optionally a
    /// bias with every other key of some rows and all keys of the last row masked.
    private func inputs(batch: Int, heads: Int, tokens: Int, headSize: Int, masked: Bool) -> (qkv: [[Float]], gradient: [Float], bias: [Float]?) {
        let count = batch * heads * tokens * headSize
        let qkv = (0..<3).map { KernelFamilies.values(count, seed: UInt32(40 + $0), scale: 1.5) }
        var bias: [Float]?
        if masked {
            var values = KernelFamilies.values(heads * tokens * tokens, seed: 43, scale: 0.5)
            for head in 0..<heads {
                for row in 0..<tokens where row % 3 == 1 {
                    for column in stride(from: 0, to: tokens, by: 2) { values[(head * tokens + row) * tokens + column] = -.infinity }
                }
                for column in 0..<tokens { values[(head * tokens + tokens - 1) * tokens + column] = -.infinity }
            }
            bias = values
        }
        return (qkv, KernelFamilies.values(count, seed: 44), bias)
    }

    /// Attention dropout at p 0.25 (a seed and offset of no other test).
    private static let dropout = AttentionDropout(probability: 0.25, seed: 1234, offset: 17)

    private func run(
        flash: Bool, on backend: Backend, batch: Int, heads: Int, tokens: Int, headSize: Int, masked: Bool, dropout: AttentionDropout? = nil
    ) throws -> Result {
        let shape: Shape = [batch, heads, tokens, headSize]
        var data = inputs(batch: batch, heads: heads, tokens: tokens, headSize: headSize, masked: masked)
        if masked && !flash {
            // Softmax over an all -inf row is NaN in the reference; flash defines that row's
            // output as 0 and lets it send no gradient. The reference gets the same behaviour
            // from an unmasked last row whose output gradient is 0 (so it sends none), and its
            // output and dQ rows are zeroed below.
            for head in 0..<heads {
                for column in 0..<tokens { data.bias![(head * tokens + tokens - 1) * tokens + column] = 0 }
            }
            for pair in 0..<(batch * heads) {
                for index in 0..<headSize { data.gradient[(pair * tokens + tokens - 1) * headSize + index] = 0 }
            }
        }
        let (q, k, v) = try (
            Tensor(data.qkv[0], shape: shape, on: backend, requiresGradient: true),
            Tensor(data.qkv[1], shape: shape, on: backend, requiresGradient: true),
            Tensor(data.qkv[2], shape: shape, on: backend, requiresGradient: true)
        )
        let bias = try data.bias.map { try Tensor($0, shape: [heads, tokens, tokens], on: backend) }
        let output: Tensor
        if flash {
            output = try flashAttention(query: q, key: k, value: v, bias: bias, dropout: dropout)
        } else {
            var scores = try matmul(q, k, transposeB: true, alpha: 1 / Float(headSize).squareRoot())
            if let bias {
                scores = try scores.reshaped([batch, heads * tokens * tokens]).addingBias(bias.reshaped([heads * tokens * tokens])).reshaped(
                    scores.shape)
            }
            var probabilities = try scores.softmax()
            if let dropout {
                probabilities = try probabilities.dropout(probability: dropout.probability, seed: dropout.seed, offset: dropout.offset)
            }
            output = try matmul(probabilities, v)
        }
        try output.backward(Tensor(data.gradient, shape: shape, on: backend))
        var result = Result(output: try output.toArray(), gradients: try [q, k, v].map { try $0.gradient!.toArray() })
        if masked && !flash {
            let rowLength = headSize
            for pair in 0..<(batch * heads) {
                let start = (pair * tokens + tokens - 1) * rowLength
                for index in start..<(start + rowLength) {
                    result.output[index] = 0
                    result.gradients[0][index] = 0
                }
            }
        }
        return result
    }

    /// Compares `backend`'s flash attention with the N x N reference on the CPU.
    private func compare(
        _ backend: Backend, tokens: Int, headSize: Int, masked: Bool = false, batch: Int = 1, heads: Int = 2, dropout: AttentionDropout? = nil
    ) throws {
        let expected = try run(
            flash: false, on: cpu, batch: batch, heads: heads, tokens: tokens, headSize: headSize, masked: masked, dropout: dropout)
        let actual = try run(
            flash: true, on: backend, batch: batch, heads: heads, tokens: tokens, headSize: headSize, masked: masked, dropout: dropout)
        // Sums over N keys in another order (tiles, online softmax): rounding grows like
        // sqrt(N) u |terms|; the gradients sum one more level of such terms.
        let tolerance = 2e-6 * Float(tokens).squareRoot() * 4
        let label =
            "\(backend.device), N \(tokens), D \(headSize), masked \(masked)" + (dropout == nil ? "" : ", dropout \(dropout!.probability)")
        for (name, wanted, got) in [
            ("output", expected.output, actual.output), ("dQ", expected.gradients[0], actual.gradients[0]),
            ("dK", expected.gradients[1], actual.gradients[1]), ("dV", expected.gradients[2], actual.gradients[2]),
        ] {
            XCTAssertFalse(got.contains { $0.isNaN }, "\(name) has NaN (\(label))")
            let worst = zip(wanted, got).map { abs($0 - $1) / (1 + abs($0)) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, tolerance, "\(name) on \(label)")
            print("flash \(label) \(name): max difference \(worst)")
        }
    }

    func testCPUAgainstReference() throws {
        for tokens in [1, 7, 65, 197, 257, 1025] {
            for headSize in [16, 32, 64] {
                try compare(cpu, tokens: tokens, headSize: headSize)
            }
        }
    }

    /// The tiled kernels at the sequence lengths and head sizes of the attention issue, the head
    /// sizes of each N taking masked and fully masked rows in turn (the other half of those the
    /// dropout test masks).
    func testOpenCLAgainstReference() throws {
        let device = try TestDevices.openCL()
        for (row, tokens) in [1, 7, 65, 197, 257, 1025].enumerated() {
            for (column, headSize) in [12, 16, 32, 64, 128].enumerated() {
                try compare(device, tokens: tokens, headSize: headSize, masked: (row + column) % 2 == 1)
            }
        }
    }

    func testEveryHeadSize() throws {
        let devices = [cpu] + (DeviceRegistry.shared.openCLDevices.isEmpty ? [] : [try TestDevices.openCL()])
        for backend in devices {
            for headSize in [12, 16, 32, 48, 64, 96, 128] {
                try compare(backend, tokens: 33, headSize: headSize, batch: 2, heads: 1)
            }
        }
    }

    func testMaskedAndFullyMaskedRows() throws {
        let devices = [cpu] + (DeviceRegistry.shared.openCLDevices.isEmpty ? [] : [try TestDevices.openCL()])
        for backend in devices {
            for tokens in [7, 65, 300] {
                try compare(backend, tokens: tokens, headSize: 16, masked: true, batch: 2, heads: 2)
            }
        }
    }

    /// Dropout inside the kernels against softmax, `Tensor.dropout` with the same seed and
    /// offset, then the product: the forward pass and the three gradients, masked and fully
    /// masked rows included.
    func testDropoutCPUAgainstReference() throws {
        for tokens in [1, 7, 65, 197] {
            for headSize in [16, 64] {
                for masked in [false, true] {
                    try compare(cpu, tokens: tokens, headSize: headSize, masked: masked, batch: 2, dropout: Self.dropout)
                }
            }
        }
    }

    /// The same on the OpenCL device at the sequence lengths and head sizes of the attention
    /// issue, the head sizes of each N taking masked and fully masked rows in turn.
    func testDropoutOpenCLAgainstReference() throws {
        let device = try TestDevices.openCL()
        for (row, tokens) in [1, 7, 65, 197, 257, 1025].enumerated() {
            for (column, headSize) in [12, 16, 32, 64, 128].enumerated() {
                try compare(device, tokens: tokens, headSize: headSize, masked: (row + column) % 2 == 0, batch: 1, dropout: Self.dropout)
            }
        }
    }

    /// The masks themselves: with V and dO the identity (N = D), the output is the dropped
    /// probabilities, M P / (1 - p), and dV their transpose, so every entry's zero or not shows
    /// whether it was dropped. The CPU, the OpenCL device and `Tensor.dropout` of the
    /// materialised probabilities must drop exactly the same entries (p 0.5, so about half).
    func testDropoutMasksMatchAcrossBackendsAndTheReference() throws {
        let devices = [cpu] + (DeviceRegistry.shared.openCLDevices.isEmpty ? [] : [try TestDevices.openCL()])
        let (batch, heads, tokens) = (2, 3, 64)
        let shape: Shape = [batch, heads, tokens, tokens]
        let dropout = AttentionDropout(probability: 0.5, seed: 99, offset: 4096 + 3)
        let identity = (0..<(batch * heads)).flatMap { _ in (0..<(tokens * tokens)).map { $0 / tokens == $0 % tokens ? Float(1) : 0 } }
        let (queries, keys) = (KernelFamilies.values(shape.elementCount, seed: 70), KernelFamilies.values(shape.elementCount, seed: 71))
        let reference = try matmul(
            Tensor(queries, shape: shape, on: cpu), Tensor(keys, shape: shape, on: cpu), transposeB: true, alpha: 1 / Float(tokens).squareRoot()
        ).softmax().dropout(probability: dropout.probability, seed: dropout.seed, offset: dropout.offset).toArray()
        let dropped = reference.filter { $0 == 0 }.count
        XCTAssertEqual(Double(dropped) / Double(reference.count), 0.5, accuracy: 0.02)
        for backend in devices {
            let (q, k, v) = try (
                Tensor(queries, shape: shape, on: backend, requiresGradient: true),
                Tensor(keys, shape: shape, on: backend, requiresGradient: true),
                Tensor(identity, shape: shape, on: backend, requiresGradient: true)
            )
            let output = try flashAttention(query: q, key: k, value: v, dropout: dropout)
            try output.backward(Tensor(identity, shape: shape, on: backend))
            let (probabilities, valueGradient) = (try output.toArray(), try v.gradient!.toArray())
            var (maskDifferences, worst) = (0, Float(0))
            for index in reference.indices {
                let (row, column) = ((index / tokens) % tokens, index % tokens)
                let transposed = index - row * tokens - column + column * tokens + row
                for got in [probabilities[index], valueGradient[transposed]] {
                    if (got == 0) != (reference[index] == 0) { maskDifferences += 1 }
                    worst = max(worst, abs(got - reference[index]))
                }
            }
            XCTAssertEqual(maskDifferences, 0, "entries dropped differently on \(backend.device)")
            XCTAssertLessThanOrEqual(worst, 1e-6, "dropped probabilities on \(backend.device)")
            print(
                "flash dropout masks \(backend.device): \(dropped) of \(reference.count) dropped, \(maskDifferences) differ, max difference \(worst)")
        }
    }

    /// Probability 0 is no dropout: the same numbers as without it.
    func testZeroDropoutIsNoDropout() throws {
        let shape: Shape = [1, 2, 9, 16]
        let inputs = try (0..<3).map { try Tensor(KernelFamilies.values(shape.elementCount, seed: UInt32(80 + $0)), shape: shape, on: cpu) }
        let plain = try flashAttention(query: inputs[0], key: inputs[1], value: inputs[2]).toArray()
        let zero = try flashAttention(
            query: inputs[0], key: inputs[1], value: inputs[2], dropout: AttentionDropout(probability: 0, seed: 1, offset: 2)
        ).toArray()
        XCTAssertEqual(plain, zero)
    }

    func testShapeErrors() throws {
        let q = try Tensor.zeros([1, 2, 5, 4], on: cpu)
        assertThrowsViTError("share one") { _ = try flashAttention(query: q, key: Tensor.zeros([1, 2, 6, 4], on: self.cpu), value: q) }
        assertThrowsViTError("bias") { _ = try flashAttention(query: q, key: q, value: q, bias: Tensor.zeros([2, 5, 4], on: self.cpu)) }
        assertThrowsViTError("dropout probability") {
            _ = try flashAttention(query: q, key: q, value: q, dropout: AttentionDropout(probability: 1, seed: 0, offset: 0))
        }
    }
}
