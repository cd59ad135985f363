import CTileKernels
import Foundation
import ViTCore

/// Tiled exact attention on the CPU (FlashAttention 2's algorithm): per (batch, head) and
/// block of queries, scores against one block of keys at a time with an online softmax;
/// the backward pass recomputes the probabilities from Q, K and the saved log-sum-exp.
/// Every tile product goes through `SmallProduct` (CTileKernels) on operands copied once
/// per head into padded (and, for K and V, transposed) buffers: at these sizes OpenBLAS,
/// which packs both operands on every call, ran the depth-32 score tiles at about 60% of
/// the kernel's speed. Tasks are spread over the cores; the only score memory is one tile
/// (two in the backward) per thread, whatever N is.
extension CPUBackend: FlashAttentionKernels {
    /// Query rows per tile: a multiple of `SmallProduct`'s 6-row block.
    static let flashQueryBlock = 96
    /// Key rows per tile: 96 x 256 scores (96 KiB) stay in the L2 cache.
    static let flashKeyBlock = 256
    /// Chunks of tasks per core: dealt out as cores free up, they even out a core that
    /// another process slows (at N 1025: 78-84 ms forward against 89-93 with one chunk per core).
    static let flashChunksPerCore = 16

    public func flashAttentionForward(_ operands: AttentionOperands, bias: DeviceStorage?, dropout: AttentionDropout?, size: AttentionSize) throws {
        let (q, k, v, o, lse) = (host(operands.query), host(operands.key), host(operands.value), host(operands.output), host(operands.logSumExp))
        let (batch, heads, tokens, headSize, scale) = (size.batch, size.heads, size.tokens, size.headSize, size.scale)
        let biasPointer = bias.map(host)
        let (rowsPerBlock, columnsPerBlock, d) = (Self.flashQueryBlock, Self.flashKeyBlock, headSize)
        // Tiles no larger than the sequence needs: 65 tokens get 65 x 72 tiles, not 96 x 256.
        let (tileRows, tileStride) = (min(rowsPerBlock, tokens), min(columnsPerBlock, (tokens + 7) / 8 * 8))
        let queryBlocks = (tokens + rowsPerBlock - 1) / rowsPerBlock
        profiler.measure("flash_attention_forward") {
            Parallel.forEachChunk(batch * heads * queryBlocks, grain: 1, chunksPerCore: Self.flashChunksPerCore) { tasks in
                let operands = HeadOperands(tokens: tokens, headSize: d, count: 2)
                let depth = operands.paddedHeadSize
                let tiles = ScratchBuffers(sizes: [tileRows * tileStride, tileRows * depth, tileRows, tileRows])
                let (scores, accumulator, maximum, total) = (tiles[0], tiles[1], tiles[2], tiles[3])
                let (keysTransposed, values) = (operands.buffer(0), operands.buffer(1))
                var loadedPair = -1
                for task in tasks {
                    let (pair, block) = (task / queryBlocks, task % queryBlocks)
                    let first = block * rowsPerBlock
                    let rows = min(rowsPerBlock, tokens - first)
                    let base = pair * tokens * d
                    // A chunk's tasks are consecutive, so its query blocks of one head share these copies.
                    if pair != loadedPair {
                        operands.transpose(k + base, into: keysTransposed)
                        operands.pad(v + base, into: values)
                        loadedPair = pair
                    }
                    accumulator.update(repeating: 0, count: rows * depth)
                    maximum.update(repeating: -.infinity, count: rows)
                    total.update(repeating: 0, count: rows)
                    for keyStart in stride(from: 0, to: tokens, by: columnsPerBlock) {
                        let columns = min(columnsPerBlock, tokens - keyStart)
                        Self.scoreTile(
                            query: q + base + first * d, keysTransposed: keysTransposed + keyStart, operands: operands, rows: rows,
                            columns: columns, scale: scale, bias: biasPointer.map { $0 + ((pair % heads) * tokens + first) * tokens + keyStart },
                            scores: scores, scoreStride: tileStride)
                        // P = e^(S - m) with the running row maxima m, then O += P V.
                        vit_online_softmax(scores, tileStride, rows, columns, maximum, total, accumulator, depth, depth)
                        // The sums above are of the undropped P; the output takes M P / (1 - p).
                        if let dropout {
                            Self.dropTile(
                                scores, stride: tileStride, rows: rows, columns: columns, dropout: dropout,
                                pair: pair, firstRow: first, firstColumn: keyStart, tokens: tokens
                            ) { p, factor, _, _ in p * factor }
                        }
                        SmallProduct.multiply(
                            rows: rows, columns: depth, depth: columns, alpha: 1, a: scores, aRowStride: tileStride,
                            aDepthStride: 1, b: values + keyStart * depth, bStride: depth, c: accumulator,
                            cStride: depth, accumulate: true)
                    }
                    for row in 0..<rows {
                        let target = o + base + (first + row) * d
                        let rowIndex = pair * tokens + first + row
                        if total[row] > 0 {
                            let inverse = 1 / total[row]
                            for column in 0..<d { target[column] = accumulator[row * depth + column] * inverse }
                            lse[rowIndex] = maximum[row] + logf(total[row])
                        } else {
                            // Every key masked: output 0 and log-sum-exp +inf (so the backward's P is 0).
                            target.update(repeating: 0, count: d)
                            lse[rowIndex] = .infinity
                        }
                    }
                }
            }
        }
    }

    public func flashAttentionBackward(
        _ operands: AttentionOperands, bias: DeviceStorage?, dropout: AttentionDropout?, gradients: AttentionGradients, size: AttentionSize
    ) throws {
        let (q, k, v, o, lse) = (host(operands.query), host(operands.key), host(operands.value), host(operands.output), host(operands.logSumExp))
        let (dO, dQ, dK, dV) = (host(gradients.output), host(gradients.query), host(gradients.key), host(gradients.value))
        let (batch, heads, tokens, headSize, scale) = (size.batch, size.heads, size.tokens, size.headSize, size.scale)
        let biasPointer = bias.map(host)
        let (rowsPerBlock, columnsPerBlock, d) = (Self.flashQueryBlock, Self.flashKeyBlock, headSize)
        // Tiles no larger than the sequence needs: 65 tokens get 65 x 72 tiles, not 96 x 256.
        let (tileRows, tileStride) = (min(rowsPerBlock, tokens), min(columnsPerBlock, (tokens + 7) / 8 * 8))
        profiler.measure("flash_attention_backward") {
            // One task per (batch, head): it owns that head's dQ, dK and dV, so the
            // key-block-outer loop accumulates all three without atomics or a second pass.
            Parallel.forEachChunk(batch * heads, grain: 1, chunksPerCore: Self.flashChunksPerCore) { pairs in
                let operands = HeadOperands(tokens: tokens, headSize: d, count: 8)
                let depth = operands.paddedHeadSize
                let (keysTransposed, valuesTransposed, queries, keys, outputGradients) =
                    (operands.buffer(0), operands.buffer(1), operands.buffer(2), operands.buffer(3), operands.buffer(4))
                let (queryGradients, keyGradients, valueGradients) = (operands.buffer(5), operands.buffer(6), operands.buffer(7))
                let tiles = ScratchBuffers(sizes: [tileRows * tileStride, tileRows * tileStride, tokens])
                let (probabilities, scoreGradient, rowDots) = (tiles[0], tiles[1], tiles[2])
                for pair in pairs {
                    let base = pair * tokens * d
                    operands.transpose(k + base, into: keysTransposed)
                    operands.transpose(v + base, into: valuesTransposed)
                    operands.pad(q + base, into: queries)
                    operands.pad(k + base, into: keys)
                    operands.pad(dO + base, into: outputGradients)
                    // D_i = rowsum(dO_i * O_i), the softmax backward's row term.
                    for row in 0..<tokens { rowDots[row] = VectorMath.dot(dO + base + row * d, o + base + row * d, count: d) }
                    queryGradients.update(repeating: 0, count: tokens * depth)
                    keyGradients.update(repeating: 0, count: tokens * depth)
                    valueGradients.update(repeating: 0, count: tokens * depth)
                    for keyStart in stride(from: 0, to: tokens, by: columnsPerBlock) {
                        let columns = min(columnsPerBlock, tokens - keyStart)
                        for first in stride(from: 0, to: tokens, by: rowsPerBlock) {
                            let rows = min(rowsPerBlock, tokens - first)
                            // P = exp(scale Q K^T + bias - L).
                            Self.scoreTile(
                                query: q + base + first * d, keysTransposed: keysTransposed + keyStart, operands: operands, rows: rows,
                                columns: columns, scale: scale,
                                bias: biasPointer.map { $0 + ((pair % heads) * tokens + first) * tokens + keyStart }, scores: probabilities,
                                scoreStride: tileStride)
                            for row in 0..<rows {
                                _ = vit_exponentiate(probabilities + row * tileStride, columns, lse[pair * tokens + first + row])
                            }
                            // dP = dO_i V_j^T, then dS = P (dP - D_i).
                            SmallProduct.multiply(
                                rows: rows, columns: (columns + 7) / 8 * 8, depth: d, alpha: 1, a: dO + base + first * d,
                                aRowStride: d, aDepthStride: 1, b: valuesTransposed + keyStart, bStride: operands.paddedTokens,
                                c: scoreGradient, cStride: tileStride)
                            if let dropout {
                                // With the mask's factors f (0 or 1 / (1 - p)): dS = P (f dP - D_i), then P <- f P for dV.
                                Self.dropTile(
                                    probabilities, stride: tileStride, rows: rows, columns: columns, dropout: dropout,
                                    pair: pair, firstRow: first, firstColumn: keyStart, tokens: tokens
                                ) { p, factor, row, column in
                                    let ds = scoreGradient + row * tileStride + column
                                    ds.pointee = p * (factor * ds.pointee - rowDots[first + row])
                                    return p * factor
                                }
                            } else {
                                for row in 0..<rows {
                                    let (p, ds) = (probabilities + row * tileStride, scoreGradient + row * tileStride)
                                    let rowDot = rowDots[first + row]
                                    for column in 0..<columns { ds[column] = p[column] * (ds[column] - rowDot) }
                                }
                            }
                            // dV_j += P^T dO_i (the dropped P).
                            SmallProduct.multiply(
                                rows: columns, columns: depth, depth: rows, alpha: 1, a: probabilities, aRowStride: 1,
                                aDepthStride: tileStride, b: outputGradients + first * depth, bStride: depth,
                                c: valueGradients + keyStart * depth, cStride: depth, accumulate: true)
                            // dQ_i += scale dS K_j; dK_j += scale dS^T Q_i.
                            SmallProduct.multiply(
                                rows: rows, columns: depth, depth: columns, alpha: scale, a: scoreGradient,
                                aRowStride: tileStride, aDepthStride: 1, b: keys + keyStart * depth, bStride: depth,
                                c: queryGradients + first * depth, cStride: depth, accumulate: true)
                            SmallProduct.multiply(
                                rows: columns, columns: depth, depth: rows, alpha: scale, a: scoreGradient, aRowStride: 1,
                                aDepthStride: tileStride, b: queries + first * depth, bStride: depth,
                                c: keyGradients + keyStart * depth, cStride: depth, accumulate: true)
                        }
                    }
                    operands.unpad(queryGradients, into: dQ + base)
                    operands.unpad(keyGradients, into: dK + base)
                    operands.unpad(valueGradients, into: dV + base)
                }
            }
        }
    }

    /// Replaces each probability p of a tile [rows x columns] (row stride `stride`) by
    /// `update(p, f, row, column)`, with f the dropout's factor of that entry: 0 when dropped,
    /// 1 / (1 - probability) when kept. The tile's entry (0, 0) is probability (`firstRow`,
    /// `firstColumn`) of head `pair` of `tokens` tokens.
    @inline(__always)
    static func dropTile(
        _ tile: UnsafeMutablePointer<Float>, stride: Int, rows: Int, columns: Int, dropout: AttentionDropout,
        pair: Int, firstRow: Int, firstColumn: Int, tokens: Int, _ update: (Float, Float, Int, Int) -> Float
    ) {
        let (key, probability, keepScale) = (dropout.key, dropout.probability, dropout.keepScale)
        for row in 0..<rows {
            let line = tile + row * stride
            let start = AttentionDropout.index(pair: pair, row: firstRow + row, column: firstColumn, tokens: tokens)
            for column in 0..<columns {
                let kept = CounterRandom.uniform(key: key, index: start &+ UInt32(truncatingIfNeeded: column)) >= probability
                line[column] = update(line[column], kept ? keepScale : 0, row, column)
            }
        }
    }

    /// The score tile of both passes: `scores` [rows x scoreStride] = scale Q K^T (+ bias)
    /// for `rows` queries (rows of `headSize` floats) against `columns` keys, read from K
    /// transposed, whose zero padding fills the tile's columns up to a multiple of 8; bias
    /// rows are `tokens` apart.
    static func scoreTile(
        query: UnsafeMutablePointer<Float>, keysTransposed: UnsafeMutablePointer<Float>, operands: HeadOperands,
        rows: Int, columns: Int, scale: Float, bias: UnsafeMutablePointer<Float>?, scores: UnsafeMutablePointer<Float>,
        scoreStride: Int
    ) {
        SmallProduct.multiply(
            rows: rows, columns: (columns + 7) / 8 * 8, depth: operands.headSize, alpha: scale, a: query,
            aRowStride: operands.headSize, aDepthStride: 1, b: keysTransposed, bStride: operands.paddedTokens,
            c: scores, cStride: scoreStride)
        guard let bias else { return }
        for row in 0..<rows {
            let (line, biasLine) = (scores + row * scoreStride, bias + row * operands.tokens)
            for column in 0..<columns { line[column] += biasLine[column] }
        }
    }
}

/// Float buffers carved from one allocation, zeroed once, freed with the object.
final class ScratchBuffers {
    private let memory: UnsafeMutablePointer<Float>
    private let starts: [UnsafeMutablePointer<Float>]

    init(sizes: [Int]) {
        let total = sizes.reduce(0, +)
        memory = .allocate(capacity: total)
        memory.initialize(repeating: 0, count: total)
        var next = memory
        starts = sizes.map { size in
            defer { next += size }
            return next
        }
    }

    deinit { memory.deallocate() }

    subscript(index: Int) -> UnsafeMutablePointer<Float> { starts[index] }
}

/// One thread's copies of a head's operands in the layouts `SmallProduct` reads: `count`
/// buffers, each either [headSize x paddedTokens] (transposed) or [tokens x
/// paddedHeadSize] (padded), both sizes a multiple of 8 columns. Their padding is zeroed
/// once and never written, so it stays zero from head to head.
final class HeadOperands {
    let tokens, headSize, paddedTokens, paddedHeadSize: Int
    private let buffers: ScratchBuffers

    init(tokens: Int, headSize: Int, count: Int) {
        (self.tokens, self.headSize) = (tokens, headSize)
        paddedTokens = (tokens + 7) / 8 * 8
        paddedHeadSize = (headSize + 7) / 8 * 8
        buffers = ScratchBuffers(sizes: Array(repeating: max(headSize * paddedTokens, tokens * paddedHeadSize), count: count))
    }

    func buffer(_ index: Int) -> UnsafeMutablePointer<Float> { buffers[index] }

    /// Rows [tokens x headSize] into [headSize x paddedTokens].
    func transpose(_ source: UnsafeMutablePointer<Float>, into target: UnsafeMutablePointer<Float>) {
        for token in 0..<tokens {
            for column in 0..<headSize { target[column * paddedTokens + token] = source[token * headSize + column] }
        }
    }

    /// Rows [tokens x headSize] into [tokens x paddedHeadSize].
    func pad(_ source: UnsafeMutablePointer<Float>, into target: UnsafeMutablePointer<Float>) {
        for token in 0..<tokens { VectorMath.copy(source + token * headSize, to: target + token * paddedHeadSize, count: headSize) }
    }

    /// Rows [tokens x paddedHeadSize] back into [tokens x headSize].
    func unpad(_ source: UnsafeMutablePointer<Float>, into target: UnsafeMutablePointer<Float>) {
        for token in 0..<tokens { VectorMath.copy(source + token * paddedHeadSize, to: target + token * headSize, count: headSize) }
    }
}
