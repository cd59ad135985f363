import COpenCL
import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The flash_attention family: Kernels/flash_attention.cl, its checks and its benchmark rows.
    enum FlashAttention: KernelFamilyDeclaration {
        static let name = "flash_attention"

        /// The forward pass, and the forward and backward passes together, at the seed ViT's
        /// heads (256 images x 4 heads, N 65, D 12) and ViT-B/16's (8 x 12, N 197, D 64).
        /// FLOPs: Q K^T and P V are 4 B H N^2 D; the backward recomputes Q K^T and adds dV, dP,
        /// dQ and dK, 10 B H N^2 D more.
        static var benchmarks: [BenchmarkRow] {
            [(256, 4, 65, 12, "256x4x65x12"), (8, 12, 197, 64, "8x12x197x64")].flatMap { batch, heads, tokens, headSize, label in
                let size = AttentionSize(batch: batch, heads: heads, tokens: tokens, headSize: headSize, scale: 1 / Float(headSize).squareRoot())
                let forwardFlops = 4 * Double(batch * heads * headSize) * Double(tokens * tokens)
                /// Inputs and outputs of one call, and the family's kernels on `backend`.
                func prepared(_ backend: Backend) throws -> (FlashAttentionKernels, AttentionOperands, AttentionGradients) {
                    let (operands, gradients) = try attentionBuffers(size, on: backend)
                    return (try backend.kernels(FlashAttentionKernels.self), operands, gradients)
                }
                return [
                    BenchmarkRow(name: "flash_forward", size: label, flops: forwardFlops, bytes: 0) { backend in
                        let (kernels, operands, _) = try prepared(backend)
                        return { try kernels.flashAttentionForward(operands, bias: nil, dropout: nil, size: size) }
                    },
                    BenchmarkRow(name: "flash_fwd+bwd", size: label, flops: 3.5 * forwardFlops, bytes: 0) { backend in
                        let (kernels, operands, gradients) = try prepared(backend)
                        return {
                            try kernels.flashAttentionForward(operands, bias: nil, dropout: nil, size: size)
                            try kernels.flashAttentionBackward(operands, bias: nil, dropout: nil, gradients: gradients, size: size)
                        }
                    },
                ]
            }
        }

        /// Flash attention forward and backward (Kernels/flash_attention.cl) at (B, H, N, D), with
        /// and without an additive bias that masks every other key of some rows and every key of
        /// the last row (whose output is 0 and whose log-sum-exp is +infinity): odd sizes, the
        /// seed ViT's heads (N 65, D 12), ViT-B/16's (N 197, D 64) and a long sequence (N 1025).
        ///
        /// Tolerance: each output sums N softmax-weighted terms, tile by tile with an online
        /// softmax, in another order on each backend; rounding grows like sqrt(N) u |terms|, and
        /// the gradients sum one more level of such terms: 8e-6 sqrt(N) absolute and relative
        /// (FlashAttentionTests holds both backends to the same bound against the N x N reference).
        /// Each check runs with and without dropout on the probabilities (p 0.25: the backends must
        /// drop the same entries, or outputs differ by whole terms, far past the tolerance).
        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            var checks: [KernelCheck] = []
            let shapes = scope.sizes(
                [(1, 1, 1, 16), (2, 3, 7, 12), (1, 2, 33, 32), (1, 2, 65, 64)], large: [(8, 4, 65, 12), (2, 12, 197, 64), (1, 2, 1025, 32)])
            let variants = [false, true].flatMap { dropout in [false, true].map { masked in (masked, dropout) } }
            for (batch, heads, tokens, headSize) in shapes {
                for (masked, dropped) in variants {
                    let tolerance = 8e-6 * Float(tokens).squareRoot()
                    let dropout = dropped ? AttentionDropout(probability: 0.25, seed: 61, offset: 3) : nil
                    let size = "\(batch)x\(heads)x\(tokens)x\(headSize)" + (masked ? " masked" : "") + (dropped ? " dropout 0.25" : "")
                    checks.append(
                        KernelCheck(kernel: "flash_attention", size: size, absoluteTolerance: tolerance, relativeTolerance: tolerance) { backend in
                            let bias = masked ? try upload(maskingBias(heads: heads, tokens: tokens), to: backend) : nil
                            let size = AttentionSize(
                                batch: batch, heads: heads, tokens: tokens, headSize: headSize, scale: 1 / Float(headSize).squareRoot())
                            let kernels = try backend.kernels(FlashAttentionKernels.self)
                            return try attentionPass(size, seed: 60, queryKeyScale: 1.5, valueScale: 1.5, on: backend) { operands, gradients in
                                try kernels.flashAttentionForward(operands, bias: bias, dropout: dropout, size: size)
                                try kernels.flashAttentionBackward(operands, bias: bias, dropout: dropout, gradients: gradients, size: size)
                            }
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
}

extension KernelFamilies.FlashAttention: TunableKernelFamily {
    /// The largest blocks of the forward kernel and of the backward kernels (`FlashTiles`,
    /// four candidates each), per head size and class of N, each checked on one batch item of 8
    /// heads (the backward case runs both passes and times the backward kernels).
    static func tuningCases(headSizes: [Int], tokens: [Int]) -> [TuningCase] {
        FlashTiles.Pass.allCases.flatMap { tiledPass in
            TuningCase.attention(
                family: name, kernel: tiledPass.tuningKernel, candidates: FlashTiles.candidates(tiledPass).map(\.name),
                timedKernelPrefix: "flash_attention_\(tiledPass.rawValue)", headSizes: headSizes, tokens: tokens,
                tolerance: { (8e-6 * Float($0).squareRoot(), 8e-6 * Float($0).squareRoot()) },
                compute: { size, backend in
                    let kernels = try backend.kernels(FlashAttentionKernels.self)
                    let pass = try KernelFamilies.attentionPass(size, seed: 60, queryKeyScale: 1.5, valueScale: 1.5, on: backend) {
                        operands, gradients in
                        try kernels.flashAttentionForward(operands, bias: nil, dropout: nil, size: size)
                        if tiledPass == .backward {
                            try kernels.flashAttentionBackward(operands, bias: nil, dropout: nil, gradients: gradients, size: size)
                        }
                    }
                    // The forward case checks the output and the log-sum-exp only.
                    return tiledPass == .forward ? Array(pass.prefix(2)) : pass
                })
        }
    }
}

/// The flash-attention family (Kernels/flash_attention.cl): the head size and the tile
/// sizes are build options chosen per device, so each (device, head size) gets a program
/// specialised with private arrays of exactly D floats.
extension OpenCLBackend: FlashAttentionKernels {
    /// The build options of every flash kernel; dropout compiles its code in (FLASH_DROPOUT),
    /// so the kernels without it are those built before dropout existed.
    private func flashOptions(headSize: Int, dropout: AttentionDropout?) -> String {
        "-DHEAD_SIZE=\(headSize)" + (dropout == nil ? "" : " -DFLASH_DROPOUT")
    }

    /// The error for a shape whose smallest blocks do not fit the device's local memory (every
    /// OpenCL device has at least 32 KiB, which holds them up to D 128).
    private func blocksDoNotFit(_ pass: String, _ size: AttentionSize) -> ViTError {
        .invalidArgument(
            operation: "flashAttention\(pass)",
            detail: "head size \(size.headSize) needs more local memory than \(device)'s \(localMemoryBytes) bytes hold even in its smallest blocks")
    }

    /// The last three arguments of every flash kernel but the row dots': the dropout stream's
    /// key, the probability and 1 / (1 - probability) (unused without FLASH_DROPOUT).
    private func dropoutArguments(_ dropout: AttentionDropout?) -> [KernelArgument] {
        guard let dropout else { return [.uint(0), .float(0), .float(1)] }
        return [.uint(dropout.key), .float(dropout.probability), .float(dropout.keepScale)]
    }

    /// The largest blocks of a pass's kernels at this shape: `vit tune`'s choice for the
    /// device when it stored one, else 64 x 64, and whether they were tuned.
    public func flashTiles(_ pass: FlashTiles.Pass, tokens: Int, headSize: Int) -> (tiles: FlashTiles, tuned: Bool) {
        let key = KernelTuning.key(
            family: "flash_attention", kernel: pass.tuningKernel, shapeClass: KernelTuning.attentionShapeClass(tokens: tokens, headSize: headSize))
        if let tiles = tuning.choices[key].flatMap({ FlashTiles(name: $0, pass: pass) }) { return (tiles, true) }
        return (FlashTiles.standard(pass), false)
    }

    /// The blocks this device runs at a shape and why, for reports: "forward rows64-keys64
    /// (tuned), backward own64-other64 (heuristic)".
    public func flashChoice(tokens: Int, headSize: Int) -> String {
        FlashTiles.Pass.allCases.map { pass in
            let (tiles, tuned) = flashTiles(pass, tokens: tokens, headSize: headSize)
            return "\(pass.rawValue) \(tiles.name) (\(tuned ? "tuned" : "heuristic"))"
        }
        .joined(separator: ", ")
    }

    /// The blocks of the tiled forward kernel for `tokens` tokens of head size `headSize`
    /// within `tiles`, or nil when even the smallest do not fit the device's local memory.
    /// Output tiles are 8 rows by up to 16 head columns and score tiles 8 rows by 16 (8 beside
    /// 16-column output tiles), so a work-item's two tiles hold at most 192 floats, within a
    /// GPU's register budget; a head's rows are cut into blocks of at most `tiles.rows` sized
    /// to N, so 65 tokens make two blocks of 40 rows rather than one of 64 and one of 1.
    /// With `dropout`, local memory also holds a mask word per row of each score tile.
    func flashForwardBlocking(tokens: Int, headSize: Int, tiles: FlashTiles, dropout: Bool = false) -> FlashForwardBlocking? {
        func roundedUp(_ value: Int, _ multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }
        let outputColumns = headSize <= 12 ? headSize : [16, 8, 4, 2, 1].first { headSize % $0 == 0 } ?? 1
        let scoreColumns = outputColumns > 12 ? 8 : 16
        let blocksPerHead = (tokens + tiles.rows - 1) / tiles.rows
        var rows = roundedUp((tokens + blocksPerHead - 1) / max(blocksPerHead, 1), 8)
        var columns = min(tiles.columns, roundedUp(tokens, scoreColumns))
        let budget = min(localMemoryBytes, 48 * 1024)
        func localBytes() -> Int {
            MemoryLayout<Float>.size
                * (rows * headSize + columns * headSize + rows * columns + (dropout ? 2 : 1) * rows * (columns / scoreColumns) + 3 * rows)
        }
        while localBytes() > budget && columns > scoreColumns { columns -= scoreColumns }
        while localBytes() > budget && rows > 8 { rows -= 8 }
        let outputTiles = rows / 8 * (headSize / outputColumns)
        let group = min(max(outputTiles, rows / 8 * (columns / scoreColumns)), min(256, maximumWorkGroupSize))
        guard localBytes() <= budget, outputTiles <= group else { return nil }
        return FlashForwardBlocking(rows: rows, columns: columns, scoreColumns: scoreColumns, outputColumns: outputColumns, group: group)
    }

    /// The blocks of the tiled backward kernels for `tokens` tokens of head size `headSize`
    /// within `tiles`, or nil when even the smallest do not fit the device's local memory. A
    /// group owns a block of rows (queries for dQ, keys for dK and dV; at most `tiles.rows`)
    /// and walks the other operand in blocks (at most `tiles.columns`), both sized to N (65
    /// tokens in blocks of at most 64: 40 and 48); product tiles are 8 own rows by 16
    /// other rows and gradient tiles 8 rows by 8 head columns (by D at D 12), so a work-item's
    /// two tiles hold at most 192 floats (224 at D 12). Local memory within 48 KiB holds both
    /// blocks of both operands, two own x other products and the L and row dots: the other
    /// block shrinks first, since the own block sets how often the other operand is reloaded.
    func flashBackwardBlocking(tokens: Int, headSize: Int, tiles: FlashTiles) -> FlashBackwardBlocking? {
        func roundedUp(_ value: Int, _ multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }
        /// Rows per block when N is cut into as few blocks of at most `largest` rows as it takes.
        func evenBlock(_ largest: Int) -> Int {
            let blocks = (tokens + largest - 1) / largest
            return (tokens + blocks - 1) / max(blocks, 1)
        }
        let outputColumns = headSize <= 12 ? headSize : [8, 4, 2, 1].first { headSize % $0 == 0 } ?? 1
        let scoreColumns = 16
        var (own, other) = (roundedUp(evenBlock(tiles.rows), 8), roundedUp(evenBlock(tiles.columns), scoreColumns))
        let budget = min(localMemoryBytes, 48 * 1024)
        func localBytes() -> Int {
            MemoryLayout<Float>.size * (2 * own * headSize + 2 * other * headSize + 2 * own * other + 2 * max(own, other))
        }
        let limit = min(256, maximumWorkGroupSize)
        while localBytes() > budget && other > scoreColumns { other -= scoreColumns }
        // A key/value group holds two gradient tiles per 8 own rows and OUTPUT_COLUMNS.
        while (localBytes() > budget || 2 * (own / 8) * (headSize / outputColumns) > limit) && own > 8 { own -= 8 }
        let tiles = own / 8 * (headSize / outputColumns)
        let productTiles = own / 8 * (other / scoreColumns)
        let (queryGroup, keyValueGroup) = (min(max(tiles, productTiles), limit), min(max(2 * tiles, productTiles), limit))
        guard localBytes() <= budget, 2 * tiles <= keyValueGroup else { return nil }
        return FlashBackwardBlocking(
            ownRows: own, otherRows: other, scoreColumns: scoreColumns, outputColumns: outputColumns, queryGroup: queryGroup,
            keyValueGroup: keyValueGroup)
    }

    public func flashAttentionForward(_ operands: AttentionOperands, bias: DeviceStorage?, dropout: AttentionDropout?, size: AttentionSize) throws {
        let (query, key, value, output, logSumExp) = (operands.query, operands.key, operands.value, operands.output, operands.logSumExp)
        let (batch, heads, tokens, headSize, scale) = (size.batch, size.heads, size.tokens, size.headSize, size.scale)
        let arguments: [KernelArgument] =
            [
                .buffer(query), .buffer(key), .buffer(value), .buffer(bias ?? query), .int(bias == nil ? 0 : 1), .buffer(output),
                .buffer(logSumExp), .int(tokens), .int(heads), .float(scale),
            ] + dropoutArguments(dropout)
        let options = flashOptions(headSize: headSize, dropout: dropout)
        guard
            let blocking = flashForwardBlocking(
                tokens: tokens, headSize: headSize, tiles: flashTiles(.forward, tokens: tokens, headSize: headSize).tiles, dropout: dropout != nil)
        else { throw blocksDoNotFit("Forward", size) }
        let blocks = (tokens + blocking.rows - 1) / blocking.rows
        try launch(
            "flash_attention", "flash_attention_forward_tiled", global: [blocks * blocking.group, batch * heads],
            local: [blocking.group, 1], options: options + " " + blocking.buildOptions, arguments)
    }

    public func flashAttentionBackward(
        _ operands: AttentionOperands, bias: DeviceStorage?, dropout: AttentionDropout?, gradients: AttentionGradients, size: AttentionSize
    ) throws {
        let (query, key, value, output, logSumExp) = (operands.query, operands.key, operands.value, operands.output, operands.logSumExp)
        let (outputGradient, queryGradient, keyGradient, valueGradient) = (gradients.output, gradients.query, gradients.key, gradients.value)
        let (batch, heads, tokens, headSize, scale) = (size.batch, size.heads, size.tokens, size.headSize, size.scale)
        let options = flashOptions(headSize: headSize, dropout: dropout)
        let rows = batch * heads * tokens
        let rowDots = try allocate(count: rows)
        let (biasBuffer, hasBias) = (bias ?? query, bias == nil ? 0 : 1)
        guard
            let blocking = flashBackwardBlocking(
                tokens: tokens, headSize: headSize, tiles: flashTiles(.backward, tokens: tokens, headSize: headSize).tiles)
        else { throw blocksDoNotFit("Backward", size) }
        // The query kernel writes the row dots that the key/value kernel reads.
        let blocks = (tokens + blocking.ownRows - 1) / blocking.ownRows
        try launch(
            "flash_attention", "flash_attention_backward_query_tiled", global: [blocks * blocking.queryGroup, batch * heads],
            local: [blocking.queryGroup, 1], options: options + " " + blocking.buildOptions(group: blocking.queryGroup),
            [
                .buffer(query), .buffer(key), .buffer(value), .buffer(biasBuffer), .int(hasBias), .buffer(output), .buffer(logSumExp),
                .buffer(outputGradient), .buffer(queryGradient), .buffer(rowDots), .int(tokens), .int(heads), .float(scale),
            ] + dropoutArguments(dropout))
        try launch(
            "flash_attention", "flash_attention_backward_key_value_tiled", global: [blocks * blocking.keyValueGroup, batch * heads],
            local: [blocking.keyValueGroup, 1], options: options + " " + blocking.buildOptions(group: blocking.keyValueGroup),
            [
                .buffer(query), .buffer(key), .buffer(value), .buffer(biasBuffer), .int(hasBias), .buffer(logSumExp), .buffer(rowDots),
                .buffer(outputGradient), .buffer(keyGradient), .buffer(valueGradient), .int(tokens), .int(heads), .float(scale),
            ] + dropoutArguments(dropout))
    }
}

/// The largest blocks of a pass's kernels, the configurations `vit tune` chooses among (they
/// shrink to fit N and the device's local memory). Forward: `rows` query rows per group and
/// `columns` keys per block; backward: `rows` own rows per group (queries for dQ, keys for dK
/// and dV) and `columns` rows of the other operand per block.
public struct FlashTiles: Equatable, Sendable {
    /// The flash kernels' passes, each tuned on its own.
    public enum Pass: String, CaseIterable, Sendable {
        case forward, backward

        /// The pass's kernel name in `KernelTuning`.
        var tuningKernel: String { "\(rawValue)_tiled" }
    }

    public let pass: Pass
    public let rows: Int
    public let columns: Int

    /// The heuristic's blocks, used where nothing was tuned: 64 x 64.
    public static func standard(_ pass: Pass) -> FlashTiles { FlashTiles(pass, rows: 64, columns: 64) }

    /// The configurations `vit tune` tries for `pass`.
    public static func candidates(_ pass: Pass) -> [FlashTiles] {
        let others = pass == .forward ? [(32, 64), (64, 32), (128, 32)] : [(32, 64), (64, 32), (32, 32)]
        return [standard(pass)] + others.map { FlashTiles(pass, rows: $0, columns: $1) }
    }

    init(_ pass: Pass, rows: Int, columns: Int) {
        (self.pass, self.rows, self.columns) = (pass, rows, columns)
    }

    /// The blocks named `name` ("rows64-keys64", "own64-other32"), if they are a candidate of `pass`.
    init?(name: String, pass: Pass) {
        guard let tiles = Self.candidates(pass).first(where: { $0.name == name }) else { return nil }
        self = tiles
    }

    /// Its name in `KernelTuning`.
    public var name: String { pass == .forward ? "rows\(rows)-keys\(columns)" : "own\(rows)-other\(columns)" }
}

/// The blocks and tiles of `flash_attention_forward_tiled` (its build options).
struct FlashForwardBlocking: Equatable {
    /// Query rows per group (a multiple of 8) and keys per block (a multiple of `scoreColumns`).
    let rows: Int
    let columns: Int
    /// Keys per score tile and head columns per output tile.
    let scoreColumns: Int
    let outputColumns: Int
    /// Work-items per group.
    let group: Int

    var buildOptions: String {
        "-DBLOCK_ROWS=\(rows) -DBLOCK_COLUMNS=\(columns) -DSCORE_COLUMNS=\(scoreColumns) -DOUTPUT_COLUMNS=\(outputColumns) -DTILED_GROUP=\(group)"
    }
}

/// The blocks and tiles of the tiled backward kernels (their build options).
struct FlashBackwardBlocking: Equatable {
    /// Rows per group (queries for dQ, keys for dK and dV; a multiple of 8) and rows of the
    /// other operand per block (a multiple of `scoreColumns`).
    let ownRows: Int
    let otherRows: Int
    /// Other rows per product tile and head columns per gradient tile.
    let scoreColumns: Int
    let outputColumns: Int
    /// Work-items per group of each kernel.
    let queryGroup: Int
    let keyValueGroup: Int

    func buildOptions(group: Int) -> String {
        "-DOWN_ROWS=\(ownRows) -DOTHER_ROWS=\(otherRows) -DSCORE_COLUMNS=\(scoreColumns) -DOUTPUT_COLUMNS=\(outputColumns) -DTILED_GROUP=\(group)"
    }
}
