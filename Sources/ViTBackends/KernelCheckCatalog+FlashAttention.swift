import Foundation
import ViTCore
import ViTOpenCL

extension KernelCheckCatalog {
    /// Flash attention forward and backward (Kernels/flash_attention.cl) at (B, H, N, D), with
    /// and without an additive bias that masks every other key of some rows and every key of
    /// the last row (whose output is 0 and whose log-sum-exp is +infinity): odd sizes, the
    /// seed ViT's heads (N 65, D 12), ViT-B/16's (N 197, D 64) and a long sequence (N 1025).
    ///
    /// Tolerance: each output sums N softmax-weighted terms, tile by tile with an online
    /// softmax, in another order on each backend; rounding grows like sqrt(N) u |terms|, and
    /// the gradients sum one more level of such terms: 8e-6 sqrt(N) absolute and relative
    /// (FlashAttentionTests holds both backends to the same bound against the N x N reference).
    /// Each check runs once per kernel choice of the OpenCL backend: version 2 of both passes,
    /// version 2 forward with the version 1 backward, and version 1 of both (the references).
    static func flashAttention(_ scope: CheckScope) -> [KernelCheck] {
        var checks: [KernelCheck] = []
        let shapes = scope.sizes([(1, 1, 1, 16), (2, 3, 7, 12), (1, 2, 33, 32)], large: [(8, 4, 65, 12), (2, 12, 197, 64), (1, 2, 1025, 32)])
        for (batch, heads, tokens, headSize) in shapes {
            for (masked, forwardKernel) in [false, true].flatMap({ masked in FlashForwardKernel.allCases.map { (masked, $0) } }) {
                let tolerance = 8e-6 * Float(tokens).squareRoot()
                let size = "\(batch)x\(heads)x\(tokens)x\(headSize)" + (masked ? " masked" : "")
                let kernel = [.tiled: "flash_attention v2", .tiledForward: "flash_attention v2, backward v1"][forwardKernel] ?? "flash_attention v1"
                checks.append(
                    KernelCheck(kernel: kernel, size: size, absoluteTolerance: tolerance, relativeTolerance: tolerance) { backend in
                        let openCL = backend as? OpenCLBackend
                        let previous = openCL?.flashForwardKernel
                        openCL?.flashForwardKernel = forwardKernel
                        defer { if let previous { openCL?.flashForwardKernel = previous } }
                        let count = batch * heads * tokens * headSize
                        let rows = batch * heads * tokens
                        let (query, key, value) = (
                            try upload(values(count, seed: 60, scale: 1.5), to: backend),
                            try upload(values(count, seed: 61, scale: 1.5), to: backend),
                            try upload(values(count, seed: 62, scale: 1.5), to: backend)
                        )
                        let outputGradient = try upload(values(count, seed: 63), to: backend)
                        let bias = masked ? try upload(maskingBias(heads: heads, tokens: tokens), to: backend) : nil
                        let (output, logSumExp) = (try backend.allocate(count: count), try backend.allocate(count: rows))
                        let gradients = try (0..<3).map { _ in try backend.allocate(count: count) }
                        let scale = 1 / Float(headSize).squareRoot()
                        try backend.flashAttentionForward(
                            query: query, key: key, value: value, bias: bias, output: output, logSumExp: logSumExp,
                            batch: batch, heads: heads, tokens: tokens, headSize: headSize, scale: scale)
                        try backend.flashAttentionBackward(
                            query: query, key: key, value: value, bias: bias, output: output, logSumExp: logSumExp, outputGradient: outputGradient,
                            queryGradient: gradients[0], keyGradient: gradients[1], valueGradient: gradients[2],
                            batch: batch, heads: heads, tokens: tokens, headSize: headSize, scale: scale)
                        // +inf marks fully masked rows; compare it as a large finite number.
                        let logs = try download(logSumExp, rows, from: backend).map { $0.isInfinite ? 1e30 : $0 }
                        return try [download(output, count, from: backend), logs] + gradients.map { try download($0, count, from: backend) }
                    })
            }
        }
        return checks
    }

    /// A bias [H, N, N] of small values with every other key of rows 1, 4, 7, ... masked
    /// (-infinity) and, when N > 1, every key of the last row.
    static func maskingBias(heads: Int, tokens: Int) -> [Float] {
        var bias = values(heads * tokens * tokens, seed: 64, scale: 0.5)
        for head in 0..<heads {
            for row in 0..<tokens where row % 3 == 1 || (tokens > 1 && row == tokens - 1) {
                let step = row == tokens - 1 ? 1 : 2
                for column in stride(from: 0, to: tokens, by: step) { bias[(head * tokens + row) * tokens + column] = -.infinity }
            }
        }
        return bias
    }
}
