import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The sparse_attention family: Kernels/sparse_attention.cl, its checks and its benchmark rows.
    enum SparseAttention: KernelFamilyDeclaration {
        static let name = "sparse_attention"

        /// Sparse attention forward and backward (both mask modes) on banded patterns with a dense
        /// first row and column (Fibottention's shape) and an empty row, at odd and ViT sizes, and
        /// in the full scope over N 1 to 1025 and D 12 to 128.
        ///
        /// Tolerance: each output is a softmax-weighted sum over a query's (or key's) kept pairs,
        /// accumulated in the same order on both backends; the differences come from exp/log
        /// (3-4 ulp in OpenCL) and contraction of multiply-adds, so a few u times the sum of
        /// |terms| (order 1 to sqrt(N) for these inputs): 2e-6 sqrt(N) absolute, 1e-4 relative.
        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            var checks: [KernelCheck] = []
            for (batch, heads, tokens, headSize) in scope.sizes(
                [(1, 1, 1, 1), (2, 3, 7, 5), (1, 2, 33, 16)],
                large: [
                    (3, 2, 129, 32), (2, 4, 65, 12), (2, 12, 197, 64), (1, 2, 1, 128), (1, 2, 7, 12), (1, 2, 65, 128), (1, 2, 257, 16),
                    (1, 2, 1025, 64), (1, 2, 197, 32),
                ])
            {
                for mode in SparseAttentionMaskMode.allCases {
                    checks.append(
                        KernelCheck(
                            kernel: "sparse_attention", size: "\(batch)x\(heads)x\(tokens)x\(headSize) \(mode.rawValue)",
                            absoluteTolerance: 2e-6 * Float(tokens).squareRoot(), relativeTolerance: 1e-4
                        ) { backend in
                            let index = try bandedPattern(heads: heads, tokens: tokens).upload(to: backend)
                            let size = AttentionSize(
                                batch: batch, heads: heads, tokens: tokens, headSize: headSize, scale: 1 / Float(headSize).squareRoot())
                            let kernels = try backend.kernels(SparseAttentionKernels.self)
                            return try attentionPass(size, seed: 30, queryKeyScale: 2, valueScale: 1, on: backend) { operands, gradients in
                                try kernels.sparseAttentionForward(operands, index: index, size: size, mode: mode)
                                try kernels.sparseAttentionBackward(operands, gradients: gradients, index: index, size: size, mode: mode)
                            }
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
}

/// Sparse masked attention (Kernels/sparse_attention.cl): one work-item per query row for the
/// forward pass and dQ, one per key column for dK and dV. The head size is a build option
/// (it sizes the private accumulators), so each head size builds the family once.
extension KernelFamilies.SparseAttention: TunableKernelFamily {
    /// The work-group size of the index-list kernels (one work-item per row or column, no
    /// local memory), per head size and class of N, each checked forward and backward on one
    /// batch item of 8 heads with the banded pattern.
    static func tuningCases(headSizes: [Int], tokens: [Int]) -> [TuningCase] {
        TuningCase.attention(
            family: name, kernel: "group", candidates: OpenCLBackend.sparseGroupCandidates.map { "group\($0)" },
            timedKernelPrefix: "sparse_attention", headSizes: headSizes, tokens: tokens, tolerance: { (2e-6 * Float($0).squareRoot(), 1e-4) },
            compute: { size, backend in
                let index = try bandedPattern(heads: size.heads, tokens: size.tokens).upload(to: backend)
                let kernels = try backend.kernels(SparseAttentionKernels.self)
                return try KernelFamilies.attentionPass(size, seed: 30, queryKeyScale: 2, valueScale: 1, on: backend) { operands, gradients in
                    try kernels.sparseAttentionForward(operands, index: index, size: size, mode: .negativeInfinity)
                    try kernels.sparseAttentionBackward(operands, gradients: gradients, index: index, size: size, mode: .negativeInfinity)
                }
            })
    }
}

extension OpenCLBackend: SparseAttentionKernels {
    private func sparseOptions(_ headSize: Int) -> String { "-DHEAD_SIZE=\(headSize)" }

    /// The work-group sizes `vit tune` tries for the index-list kernels.
    static let sparseGroupCandidates = [32, 64, 128, 256]

    /// The work-group size of the sparse kernels at this shape: `vit tune`'s choice when it
    /// stored one (and the device allows it), else nil, the kernel's default for the device.
    func sparseGroup(tokens: Int, headSize: Int) -> [Int]? {
        let key = KernelTuning.key(
            family: "sparse_attention", kernel: "group", shapeClass: KernelTuning.attentionShapeClass(tokens: tokens, headSize: headSize))
        guard let choice = tuning.choices[key], let group = Int(choice.dropFirst("group".count)), group <= maximumWorkGroupSize else { return nil }
        return [group]
    }

    public func sparseAttentionForward(_ operands: AttentionOperands, index: SparseAttentionIndex, size: AttentionSize, mode: SparseAttentionMaskMode)
        throws
    {
        let (batch, headSize, scale, tokens, heads) = (size.batch, size.headSize, size.scale, index.tokens, index.heads)
        let rows = batch * heads * tokens
        // Zero mode: the masked keys' values are V_all minus the kept keys' values.
        let valueTotals = try allocate(count: batch * heads * headSize)
        if mode == .zero { try sum(operands.value, output: valueTotals, outer: batch * heads, axis: tokens, inner: headSize) }
        try launch(
            "sparse_attention", "sparse_attention_forward", global: [rows], local: sparseGroup(tokens: tokens, headSize: headSize),
            options: sparseOptions(headSize),
            [
                .buffer(operands.query), .buffer(operands.key), .buffer(operands.value), .buffer(valueTotals), .buffer(operands.output),
                .buffer(operands.logSumExp),
                .buffer(index.storage), .int(0), .int(index.columnIndicesStart),
                .int(rows), .int(heads), .int(tokens), .float(scale), .int(mode == .zero ? 1 : 0),
            ])
    }

    public func sparseAttentionBackward(
        _ operands: AttentionOperands, gradients: AttentionGradients, index: SparseAttentionIndex, size: AttentionSize,
        mode: SparseAttentionMaskMode
    ) throws {
        let (batch, headSize, scale, tokens, heads) = (size.batch, size.headSize, size.scale, index.tokens, index.heads)
        let rows = batch * heads * tokens
        let (options, group) = (sparseOptions(headSize), sparseGroup(tokens: tokens, headSize: headSize))
        let (delta, masked, totals) = (try allocate(count: rows), try allocate(count: rows), try allocate(count: batch * heads * headSize))
        try launch(
            "sparse_attention", "sparse_attention_backward", global: [rows], local: group, options: options,
            [
                .buffer(operands.query), .buffer(operands.key), .buffer(operands.value), .buffer(operands.output), .buffer(operands.logSumExp),
                .buffer(gradients.output),
                .buffer(gradients.query), .buffer(delta), .buffer(masked),
                .buffer(index.storage), .int(0), .int(index.columnIndicesStart),
                .int(rows), .int(heads), .int(tokens), .float(scale), .int(mode == .zero ? 1 : 0),
            ])
        try launch(
            "sparse_attention", "sparse_attention_complement_backward", global: [batch * heads * headSize], local: group, options: options,
            [
                .buffer(gradients.output), .buffer(masked), .buffer(totals), .int(batch * heads), .int(tokens),
            ])
        try launch(
            "sparse_attention", "sparse_attention_columns_backward", global: [rows], local: group, options: options,
            [
                .buffer(operands.query), .buffer(operands.key), .buffer(operands.value), .buffer(operands.logSumExp), .buffer(gradients.output),
                .buffer(delta),
                .buffer(masked), .buffer(totals), .buffer(gradients.key), .buffer(gradients.value),
                .buffer(index.storage), .int(index.columnOffsetsStart), .int(index.rowIndicesStart),
                .int(rows), .int(heads), .int(tokens), .float(scale),
            ])
    }
}
