import Foundation
import ViTCore

extension KernelCheckCatalog {
    /// Sparse attention forward and backward (both mask modes) on banded patterns with a dense
    /// first row and column (Fibottention's shape) and an empty row, at odd and ViT sizes.
    ///
    /// Tolerance: each output is a softmax-weighted sum over a query's (or key's) kept pairs,
    /// accumulated in the same order on both backends; the differences come from exp/log
    /// (3-4 ulp in OpenCL) and contraction of multiply-adds, so a few u times the sum of
    /// |terms| (order 1 to sqrt(N) for these inputs): 2e-6 sqrt(N) absolute, 1e-4 relative.
    static func sparseAttention(_ scope: CheckScope) -> [KernelCheck] {
        var checks: [KernelCheck] = []
        for (batch, heads, tokens, headSize) in scope.sizes(
            [(1, 1, 1, 1), (2, 3, 7, 5), (1, 2, 33, 16)], large: [(3, 2, 129, 32), (2, 4, 65, 12), (2, 12, 197, 64)])
        {
            let count = batch * heads * tokens * headSize
            let rows = batch * heads * tokens
            for mode in SparseAttentionMaskMode.allCases {
                checks.append(
                    KernelCheck(
                        kernel: "sparse_attention", size: "\(batch)x\(heads)x\(tokens)x\(headSize) \(mode.rawValue)",
                        absoluteTolerance: 2e-6 * Float(tokens).squareRoot(), relativeTolerance: 1e-4
                    ) { backend in
                        let index = try bandedPattern(heads: heads, tokens: tokens).upload(to: backend)
                        let (query, key, value) = (
                            try upload(values(count, seed: 30, scale: 2), to: backend),
                            try upload(values(count, seed: 31, scale: 2), to: backend), try upload(values(count, seed: 32), to: backend)
                        )
                        let outputGradient = try upload(values(count, seed: 33), to: backend)
                        let (output, logSumExp) = (try backend.allocate(count: count), try backend.allocate(count: rows))
                        let gradients = try (0..<3).map { _ in try backend.allocate(count: count) }
                        let scale = 1 / Float(headSize).squareRoot()
                        try backend.sparseAttentionForward(
                            query: query, key: key, value: value, output: output, logSumExp: logSumExp, index: index,
                            batch: batch, headSize: headSize, scale: scale, mode: mode)
                        try backend.sparseAttentionBackward(
                            query: query, key: key, value: value, output: output, logSumExp: logSumExp, outputGradient: outputGradient,
                            queryGradient: gradients[0], keyGradient: gradients[1], valueGradient: gradients[2], index: index,
                            batch: batch, headSize: headSize, scale: scale, mode: mode)
                        // +inf marks rows without keys; compare it as a large finite number.
                        let logs = try download(logSumExp, rows, from: backend).map { $0.isInfinite ? 1e30 : $0 }
                        return try [download(output, count, from: backend), logs] + gradients.map { try download($0, count, from: backend) }
                    })
            }
        }
        return checks
    }

    /// Head h keeps |i - j| in {0, h + 1, 2h + 3} plus a dense row and column 0, except that
    /// the last query of every head but the first has no key (an empty row).
    static func bandedPattern(heads: Int, tokens: Int) throws -> SparseAttentionPattern {
        let keys = (0..<heads).map { head in
            (0..<tokens).map { query -> [Int] in
                if query == 0 { return Array(0..<tokens) }
                if head > 0 && query == tokens - 1 { return [] }
                return [0] + [0, head + 1, 2 * head + 3].flatMap { [query - $0, query + $0] }.filter { (0..<tokens).contains($0) }
            }
        }
        return try SparseAttentionPattern(keys: keys, tokens: tokens)
    }
}
