import ViTBackends
import ViTCore
import ViTOpenCL
import XCTest

/// Flash attention against the materialised reference on the CPU (softmax(scale Q K^T +
/// bias) V with the N x N matrix), forward and all three gradients, on both backends.
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

    private func run(flash: Bool, on backend: Backend, batch: Int, heads: Int, tokens: Int, headSize: Int, masked: Bool) throws -> Result {
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
            output = try flashAttention(query: q, key: k, value: v, bias: bias)
        } else {
            var scores = try matmul(q, k, transposeB: true, alpha: 1 / Float(headSize).squareRoot())
            if let bias {
                scores = try scores.reshaped([batch, heads * tokens * tokens]).addingBias(bias.reshaped([heads * tokens * tokens])).reshaped(
                    scores.shape)
            }
            output = try matmul(scores.softmax(), v)
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

    /// Compares `backend`'s flash attention with the N x N reference on the CPU; on OpenCL once
    /// per kernel choice of `forwardKernels` (`.tiled` is version 2 of both passes).
    private func compare(
        _ backend: Backend, tokens: Int, headSize: Int, masked: Bool = false, batch: Int = 1, heads: Int = 2,
        forwardKernels: [FlashForwardKernel] = [.tiled]
    ) throws {
        let expected = try run(flash: false, on: cpu, batch: batch, heads: heads, tokens: tokens, headSize: headSize, masked: masked)
        let openCL = backend as? OpenCLBackend
        defer { openCL?.flashForwardKernel = .tiled }
        for forwardKernel in openCL == nil ? [.tiled] : forwardKernels {
            openCL?.flashForwardKernel = forwardKernel
            let actual = try run(flash: true, on: backend, batch: batch, heads: heads, tokens: tokens, headSize: headSize, masked: masked)
            // Sums over N keys in another order (tiles, online softmax): rounding grows like
            // sqrt(N) u |terms|; the gradients sum one more level of such terms.
            let tolerance = 2e-6 * Float(tokens).squareRoot() * 4
            let label = "\(backend.device)\(openCL == nil ? "" : " " + forwardKernel.rawValue), N \(tokens), D \(headSize), masked \(masked)"
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
    }

    func testCPUAgainstReference() throws {
        for tokens in [1, 7, 65, 197, 257, 1025] {
            for headSize in [16, 32, 64] {
                try compare(cpu, tokens: tokens, headSize: headSize)
            }
        }
    }

    /// The tiled kernels at the sequence lengths and head sizes of the attention issue, with the
    /// version 1 backward (its reference until it is removed) at every one, and version 1 of
    /// both passes where it has always been checked.
    func testOpenCLAgainstReference() throws {
        let device = try TestDevices.openCL()
        for tokens in [1, 7, 65, 197, 257, 1025] {
            for headSize in [12, 16, 32, 64, 128] {
                let kernels: [FlashForwardKernel] = [16, 32, 64].contains(headSize) ? FlashForwardKernel.allCases : [.tiled, .tiledForward]
                try compare(device, tokens: tokens, headSize: headSize, forwardKernels: kernels)
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
                try compare(backend, tokens: tokens, headSize: 16, masked: true, batch: 2, heads: 2, forwardKernels: FlashForwardKernel.allCases)
            }
        }
    }

    func testShapeErrors() throws {
        let q = try Tensor.zeros([1, 2, 5, 4], on: cpu)
        assertThrowsViTError("share one") { _ = try flashAttention(query: q, key: Tensor.zeros([1, 2, 6, 4], on: self.cpu), value: q) }
        assertThrowsViTError("bias") { _ = try flashAttention(query: q, key: q, value: q, bias: Tensor.zeros([2, 5, 4], on: self.cpu)) }
    }
}
