import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The sparse_attention family: Kernels/sparse_attention.cl, its checks and its benchmark rows.
    enum SparseAttention: KernelFamilyDeclaration {
        static let name = "sparse_attention"

        /// Forward and backward on `bandPattern` (Fibottention's shape on the flattened patches, a
        /// grid at N 65 and 197) with the band kernels and with the same pattern as index lists,
        /// at the seed ViT's heads (256 x 4, N 65, D 12) and ViT-B/16's (8 x 12, N 197, D 64).
        /// FLOPs: q . k and p v per kept pair in the forward, and 3.5 times that with the backward.
        /// On the CPU both rows run the same index-list code.
        static var benchmarks: [BenchmarkRow] {
            [(256, 4, 65, 12, "256x4x65x12"), (8, 12, 197, 64, "8x12x197x64")].flatMap { batch, heads, tokens, headSize, label in
                [true, false].map { banded in
                    let size = AttentionSize(batch: batch, heads: heads, tokens: tokens, headSize: headSize, scale: 1 / Float(headSize).squareRoot())
                    let pattern = try? bandPattern(heads: heads, tokens: tokens)
                    let flops = 3.5 * 4 * Double(batch * headSize * (pattern?.nonzeroCount ?? 0))
                    return BenchmarkRow(name: banded ? "sparse_bands" : "sparse_lists", size: label, flops: flops, bytes: 0) { backend in
                        guard let pattern else {
                            throw ViTError.invalidArgument(operation: "sparse benchmark", detail: "no band pattern at \(label)")
                        }
                        let (operands, gradients) = try attentionBuffers(size, on: backend)
                        // The lists row drops the bands, so every device runs its index lists.
                        let listed = banded ? pattern : try SparseAttentionPattern(keys: pattern.keys, tokens: tokens)
                        let index = try listed.upload(to: backend)
                        let kernels = try backend.kernels(SparseAttentionKernels.self)
                        // The bands row runs the band kernels whatever the device's heuristic.
                        let openCL = banded ? backend as? OpenCLBackend : nil
                        return {
                            let previous = openCL?.sparseBandKernels
                            openCL?.sparseBandKernels = true
                            defer { openCL?.sparseBandKernels = previous }
                            try kernels.sparseAttentionForward(operands, index: index, size: size, mode: .zero)
                            try kernels.sparseAttentionBackward(operands, gradients: gradients, index: index, size: size, mode: .zero)
                        }
                    }
                }
            }
        }

        /// Sparse attention forward and backward (both mask modes) on index lists (banded patterns
        /// with a dense first row and column and an empty row) and on bands (`bandPattern`, which
        /// the OpenCL backend runs with its band kernels), at odd and ViT sizes, and in the full
        /// scope over N 1 to 1025 and D 12 to 128.
        ///
        /// Tolerance: each output is a softmax-weighted sum over a query's (or key's) kept pairs,
        /// accumulated in the same order on both backends; the differences come from exp/log
        /// (3-4 ulp in OpenCL) and contraction of multiply-adds, so a few u times the sum of
        /// |terms| (order 1 to sqrt(N) for these inputs): 2e-6 sqrt(N) absolute, 1e-4 relative.
        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            var checks: [KernelCheck] = []
            for (batch, heads, tokens, headSize) in scope.sizes(
                [(1, 1, 1, 1), (2, 3, 7, 5), (1, 2, 33, 16), (1, 3, 17, 12)],
                large: [
                    (3, 2, 129, 32), (2, 4, 65, 12), (2, 12, 197, 64), (1, 2, 1, 128), (1, 2, 7, 12), (1, 2, 65, 128), (1, 2, 257, 16),
                    (1, 2, 1025, 64), (1, 2, 197, 32),
                ])
            {
                for (mode, banded) in SparseAttentionMaskMode.allCases.flatMap({ mode in [false, true].map { (mode, $0) } }) {
                    checks.append(
                        KernelCheck(
                            kernel: banded ? "sparse_attention bands" : "sparse_attention",
                            size: "\(batch)x\(heads)x\(tokens)x\(headSize) \(mode.rawValue)",
                            absoluteTolerance: 2e-6 * Float(tokens).squareRoot(), relativeTolerance: 1e-4
                        ) { backend in
                            // The band checks run the band kernels whatever the device's heuristic or tuning.
                            let openCL = backend as? OpenCLBackend
                            let previous = openCL?.sparseBandKernels
                            openCL?.sparseBandKernels = banded ? true : previous
                            defer { openCL?.sparseBandKernels = previous }
                            let pattern = try banded ? bandPattern(heads: heads, tokens: tokens) : bandedPattern(heads: heads, tokens: tokens)
                            let size = AttentionSize(
                                batch: batch, heads: heads, tokens: tokens, headSize: headSize, scale: 1 / Float(headSize).squareRoot())
                            return try pass(pattern, size: size, mode: mode, on: backend)
                        })
                }
            }
            return checks
        }

        /// Sparse attention forward and backward with `pattern` on inputs from fixed seeds: the
        /// outputs of `attentionPass`.
        static func pass(_ pattern: SparseAttentionPattern, size: AttentionSize, mode: SparseAttentionMaskMode, on backend: Backend) throws
            -> [[Float]]
        {
            let index = try pattern.upload(to: backend)
            let kernels = try backend.kernels(SparseAttentionKernels.self)
            return try attentionPass(size, seed: 30, queryKeyScale: 2, valueScale: 1, on: backend) { operands, gradients in
                try kernels.sparseAttentionForward(operands, index: index, size: size, mode: mode)
                try kernels.sparseAttentionBackward(operands, gradients: gradients, index: index, size: size, mode: mode)
            }
        }

        /// A pattern of bands (the OpenCL band kernels): on a square grid of patches (N - 1 a
        /// square), head h moves by whole rows and columns (h % 3: a 3 x 3 window, a dilated one of
        /// rate 2, its grid row and 3 rows up and down); otherwise the patches are one line and head
        /// h keeps the offsets 0, +-(h + 1), +-(2h + 3) and +-(N / 3), Fibottention's shape.
        static func bandPattern(heads: Int, tokens: Int) throws -> SparseAttentionPattern {
            typealias Band = SparseAttentionBands.Band
            let patches = tokens - 1
            let side = Int(Double(patches).squareRoot())
            guard patches > 1, side * side == patches else {
                let bands = (0..<heads).map { head in
                    [0, head + 1, 2 * head + 3, patches / 3].flatMap { [Band(offset: -$0), Band(offset: $0)] }
                }
                return try SparseAttentionPattern(bands: SparseAttentionBands(gridWidth: 0, heads: bands), tokens: tokens)
            }
            let window = (-1...1).flatMap { row in (-1...1).map { (row, $0) } }
            let moves: [[(Int, Int)]] = [
                window, window.map { ($0 * 2, $1 * 2) }, (1 - side..<side).map { (0, $0) } + [(-3, 0), (3, 0)],
            ]
            let bands = (0..<heads).map { head in moves[head % 3].map { Band(offset: $0 * side + $1, columnShift: $1) } }
            return try SparseAttentionPattern(bands: SparseAttentionBands(gridWidth: side, heads: bands), tokens: tokens)
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
    /// local memory), and for patterns given as bands the index lists or the band kernels at a
    /// number of patches per group, per head size and class of N, each checked forward and
    /// backward on one batch item of 8 heads (index lists: the banded pattern; bands:
    /// `bandPattern`). A band group too large for the device's local memory runs the
    /// heuristic's group instead.
    static func tuningCases(headSizes: [Int], tokens: [Int]) -> [TuningCase] {
        [
            ("group", OpenCLBackend.sparseGroupCandidates.map { "group\($0)" }, "sparse_attention", false),
            // Both kernel kinds' time: the band candidates also run the class token's index lists.
            ("bands_group", OpenCLBackend.bandCandidates, "sparse_", true),
        ]
        .flatMap { kernel, candidates, prefix, banded in
            TuningCase.attention(
                family: name, kernel: kernel, candidates: candidates, timedKernelPrefix: prefix, headSizes: headSizes,
                tokens: tokens, tolerance: { (2e-6 * Float($0).squareRoot(), 1e-4) },
                compute: { size, backend in
                    let pattern =
                        try banded ? bandPattern(heads: size.heads, tokens: size.tokens) : bandedPattern(heads: size.heads, tokens: size.tokens)
                    return try pass(pattern, size: size, mode: banded ? .zero : .negativeInfinity, on: backend)
                })
        }
    }
}

extension OpenCLBackend: SparseAttentionKernels {
    private func sparseOptions(_ headSize: Int) -> String { "-DHEAD_SIZE=\(headSize)" }

    /// The work-group sizes `vit tune` tries for the index-list kernels.
    static let sparseGroupCandidates = [32, 64, 128, 256]
    /// What `vit tune` tries for patterns given as bands: the index lists, and the band kernels
    /// at 16 to 128 patches per group.
    static let bandCandidates = ["lists"] + [16, 32, 64, 128].map { "group\($0)" }

    /// The work-group size of the sparse kernels at this shape: `vit tune`'s choice when it
    /// stored one (and the device allows it), else nil, the kernel's default for the device.
    func sparseGroup(tokens: Int, headSize: Int) -> [Int]? {
        guard let group = tunedGroup("group", tokens: tokens, headSize: headSize), group <= maximumWorkGroupSize else { return nil }
        return [group]
    }

    /// The stored group size of `kernel` ("group16") at this shape, if any.
    private func tunedGroup(_ kernel: String, tokens: Int, headSize: Int) -> Int? {
        tunedChoice(kernel, tokens: tokens, headSize: headSize).flatMap { Int($0.dropFirst("group".count)) }
    }

    private func tunedChoice(_ kernel: String, tokens: Int, headSize: Int) -> String? {
        tuning.choices[
            KernelTuning.key(
                family: "sparse_attention", kernel: kernel, shapeClass: KernelTuning.attentionShapeClass(tokens: tokens, headSize: headSize))]
    }

    /// Patches per group of the band kernels, whose largest kernel (dK and dV) stages four
    /// blocks of padded rows: `vit tune`'s choice where it fits the device, else the largest of
    /// 64, 32, 16 and 8 that fits its local memory (within 48 KiB); nil when none does.
    public func bandGroup(tokens: Int, headSize: Int) -> Int? {
        func fits(_ group: Int) -> Bool {
            let floats = 4 * group * (headSize + 1) + 2 * headSize
            return group <= maximumWorkGroupSize && MemoryLayout<Float>.size * floats <= min(localMemoryBytes, 48 * 1024)
        }
        if let tuned = tunedGroup("bands_group", tokens: tokens, headSize: headSize), fits(tuned) { return tuned }
        return [64, 32, 16, 8].first(where: fits)
    }

    /// Whether patterns given as bands run the band kernels at this shape, and why: forced by
    /// `sparseBandKernels`, else `vit tune`'s choice, else the heuristic: on GPUs and
    /// accelerators, whose loads coalesce, yes; on CPU devices (PoCL), where staging blocks in
    /// local memory costs more than the caches already save, no.
    private func usesBands(tokens: Int, headSize: Int) -> (bands: Bool, reason: String) {
        if let forced = sparseBandKernels { return (forced, "forced") }
        if let tuned = tunedChoice("bands_group", tokens: tokens, headSize: headSize) { return (tuned != "lists", "tuned") }
        return (info.kind != .cpu, "heuristic")
    }

    /// How a pattern runs here: with its bands (the class token's dense row and column by the
    /// index-list kernels, every `tokens`-th row) and the band kernels' group, or by index
    /// lists alone.
    private func bandPlan(_ index: SparseAttentionIndex, headSize: Int) -> (bands: SparseAttentionBands, group: Int)? {
        guard let bands = index.bands, usesBands(tokens: index.tokens, headSize: headSize).bands,
            let group = bandGroup(tokens: index.tokens, headSize: headSize)
        else { return nil }
        return (bands, group)
    }

    /// The kernels a pattern given as bands runs at a shape, for reports: "bands group64
    /// (tuned)", "index lists (heuristic)", ...
    public func sparseKernelChoice(tokens: Int, headSize: Int) -> String {
        let (bands, reason) = usesBands(tokens: tokens, headSize: headSize)
        guard bands, let group = bandGroup(tokens: tokens, headSize: headSize) else { return "index lists (\(reason))" }
        return "bands group\(group) (\(reason))"
    }

    /// Launches band kernel `name` over the patches of every pair (none when N is 1).
    private func launchBands(_ name: String, group: Int, size: AttentionSize, _ arguments: [KernelArgument]) throws {
        let patches = size.tokens - 1
        guard patches > 0 else { return }
        try launch(
            "sparse_attention", name, global: [(patches + group - 1) / group * group, size.batch * size.heads], local: [group, 1],
            options: sparseOptions(size.headSize) + " -DBAND_GROUP=\(group)", arguments)
    }

    public func sparseAttentionForward(_ operands: AttentionOperands, index: SparseAttentionIndex, size: AttentionSize, mode: SparseAttentionMaskMode)
        throws
    {
        let (batch, headSize, scale, tokens, heads) = (size.batch, size.headSize, size.scale, index.tokens, index.heads)
        let rows = batch * heads * tokens
        // Zero mode: the masked keys' values are V_all minus the kept keys' values.
        let valueTotals = try allocate(count: batch * heads * headSize)
        if mode == .zero { try sum(operands.value, output: valueTotals, outer: batch * heads, axis: tokens, inner: headSize) }
        let plan = bandPlan(index, headSize: headSize)
        let rowStep = plan == nil ? 1 : tokens
        try launch(
            "sparse_attention", "sparse_attention_forward", global: [rows / rowStep], local: sparseGroup(tokens: tokens, headSize: headSize),
            options: sparseOptions(headSize),
            [
                .buffer(operands.query), .buffer(operands.key), .buffer(operands.value), .buffer(valueTotals), .buffer(operands.output),
                .buffer(operands.logSumExp),
                .buffer(index.storage), .int(0), .int(index.columnIndicesStart),
                .int(rows), .int(rowStep), .int(heads), .int(tokens), .float(scale), .int(mode == .zero ? 1 : 0),
            ])
        guard let (bands, group) = plan else { return }
        try launchBands(
            "sparse_bands_forward", group: group, size: size,
            [
                .buffer(operands.query), .buffer(operands.key), .buffer(operands.value), .buffer(valueTotals), .buffer(operands.output),
                .buffer(operands.logSumExp), .buffer(index.storage), .int(index.bandsStart), .int(bands.gridWidth), .int(heads), .int(tokens),
                .float(scale), .int(mode == .zero ? 1 : 0),
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
        let plan = bandPlan(index, headSize: headSize)
        let rowStep = plan == nil ? 1 : tokens
        try launch(
            "sparse_attention", "sparse_attention_backward", global: [rows / rowStep], local: group, options: options,
            [
                .buffer(operands.query), .buffer(operands.key), .buffer(operands.value), .buffer(operands.output), .buffer(operands.logSumExp),
                .buffer(gradients.output),
                .buffer(gradients.query), .buffer(delta), .buffer(masked),
                .buffer(index.storage), .int(0), .int(index.columnIndicesStart),
                .int(rows), .int(rowStep), .int(heads), .int(tokens), .float(scale), .int(mode == .zero ? 1 : 0),
            ])
        if let (bands, bandGroup) = plan {
            try launchBands(
                "sparse_bands_backward_query", group: bandGroup, size: size,
                [
                    .buffer(operands.query), .buffer(operands.key), .buffer(operands.value), .buffer(operands.output),
                    .buffer(operands.logSumExp), .buffer(gradients.output), .buffer(gradients.query), .buffer(delta), .buffer(masked),
                    .buffer(index.storage), .int(index.bandsStart), .int(bands.gridWidth), .int(heads), .int(tokens), .float(scale),
                    .int(mode == .zero ? 1 : 0),
                ])
        }
        try launch(
            "sparse_attention", "sparse_attention_complement_backward", global: [batch * heads * headSize], local: group, options: options,
            [
                .buffer(gradients.output), .buffer(masked), .buffer(totals), .int(batch * heads), .int(tokens),
            ])
        try launch(
            "sparse_attention", "sparse_attention_columns_backward", global: [rows / rowStep], local: group, options: options,
            [
                .buffer(operands.query), .buffer(operands.key), .buffer(operands.value), .buffer(operands.logSumExp), .buffer(gradients.output),
                .buffer(delta),
                .buffer(masked), .buffer(totals), .buffer(gradients.key), .buffer(gradients.value),
                .buffer(index.storage), .int(index.columnOffsetsStart), .int(index.rowIndicesStart),
                .int(rows), .int(rowStep), .int(heads), .int(tokens), .float(scale),
            ])
        guard let (bands, bandGroup) = plan else { return }
        try launchBands(
            "sparse_bands_backward_key_value", group: bandGroup, size: size,
            [
                .buffer(operands.query), .buffer(operands.key), .buffer(operands.value), .buffer(operands.logSumExp), .buffer(gradients.output),
                .buffer(delta), .buffer(masked), .buffer(totals), .buffer(gradients.key), .buffer(gradients.value), .buffer(index.storage),
                .int(index.bandsStart), .int(bands.gridWidth), .int(heads), .int(tokens), .float(scale),
            ])
    }
}
