import COpenBLAS
import CTileKernels
import Foundation
import ViTCore

/// Tiled exact attention on the CPU (FlashAttention 2's algorithm): per (batch, head) and
/// block of queries, scores against one block of keys at a time with an online softmax;
/// the backward pass recomputes the probabilities from Q, K and the saved log-sum-exp.
/// The forward's tile products go through `SmallProduct` (its depth-32 score tiles run at
/// about 1.6x OpenBLAS's speed, which packs both operands on every call); the backward's
/// through OpenBLAS (single-threaded: see `gemm`). The (batch, head, block) tasks are spread
/// over the cores. The only score memory is one tile per thread.
extension CPUBackend {
    /// Query rows per tile: a multiple of `SmallProduct`'s 6-row block.
    static let flashQueryBlock = 96
    /// Key rows per tile: 96 x 256 scores (96 KiB) stay in the L2 cache.
    static let flashKeyBlock = 256

    public func flashAttentionForward(
        query: DeviceStorage, key: DeviceStorage, value: DeviceStorage, bias: DeviceStorage?, output: DeviceStorage,
        logSumExp: DeviceStorage, batch: Int, heads: Int, tokens: Int, headSize: Int, scale: Float
    ) throws {
        let (q, k, v, o, lse) = (host(query), host(key), host(value), host(output), host(logSumExp))
        let biasPointer = bias.map(host)
        let (rowsPerBlock, columnsPerBlock, d) = (Self.flashQueryBlock, Self.flashKeyBlock, headSize)
        let queryBlocks = (tokens + rowsPerBlock - 1) / rowsPerBlock
        profiler.measure("flash_attention_forward") {
            Parallel.forEachChunk(batch * heads * queryBlocks, grain: 1) { tasks in
                let scratch = FlashForwardScratch(tokens: tokens, headSize: d)
                let (scores, accumulator, maximum, total) = (scratch.scores, scratch.accumulator, scratch.maximum, scratch.total)
                let (paddedTokens, depth) = (scratch.paddedTokens, scratch.paddedHeadSize)
                var loadedPair = -1
                for task in tasks {
                    let (pair, block) = (task / queryBlocks, task % queryBlocks)
                    let head = pair % heads
                    let first = block * rowsPerBlock
                    let rows = min(rowsPerBlock, tokens - first)
                    let base = pair * tokens * d
                    // A chunk's tasks are consecutive, so its query blocks of one head share this copy.
                    if pair != loadedPair {
                        scratch.load(keys: k + base, values: v + base)
                        loadedPair = pair
                    }
                    accumulator.update(repeating: 0, count: rows * depth)
                    maximum.update(repeating: -.infinity, count: rows)
                    total.update(repeating: 0, count: rows)
                    for keyStart in stride(from: 0, to: tokens, by: columnsPerBlock) {
                        let columns = min(columnsPerBlock, tokens - keyStart)
                        let paddedColumns = (columns + 7) / 8 * 8
                        // S = scale Q K^T (+ bias); then P = e^(S - m) with the running row maxima m.
                        SmallProduct.multiply(rows: rows, columns: paddedColumns, depth: d, alpha: scale, a: q + base + first * d, aRowStride: d,
                                              aDepthStride: 1, b: scratch.keysTransposed + keyStart, bStride: paddedTokens, c: scores,
                                              cStride: columnsPerBlock)
                        if let biasPointer {
                            Self.addBias(biasPointer + (head * tokens + first) * tokens + keyStart, biasStride: tokens, to: scores,
                                         stride: columnsPerBlock, rows: rows, columns: columns)
                        }
                        vit_online_softmax(scores, columnsPerBlock, rows, columns, maximum, total, accumulator, depth, depth)
                        SmallProduct.multiply(rows: rows, columns: depth, depth: columns, alpha: 1, a: scores, aRowStride: columnsPerBlock,
                                              aDepthStride: 1, b: scratch.values + keyStart * depth, bStride: depth, c: accumulator,
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
                            target.update(repeating: 0, count: d)
                            lse[rowIndex] = .infinity
                        }
                    }
                }
            }
        }
    }

    public func flashAttentionBackward(
        query: DeviceStorage, key: DeviceStorage, value: DeviceStorage, bias: DeviceStorage?, output: DeviceStorage,
        logSumExp: DeviceStorage, outputGradient: DeviceStorage, queryGradient: DeviceStorage, keyGradient: DeviceStorage,
        valueGradient: DeviceStorage, batch: Int, heads: Int, tokens: Int, headSize: Int, scale: Float
    ) throws {
        let (q, k, v, o, lse, dO) = (host(query), host(key), host(value), host(output), host(logSumExp), host(outputGradient))
        let (dQ, dK, dV) = (host(queryGradient), host(keyGradient), host(valueGradient))
        let biasPointer = bias.map(host)
        let (rowsPerBlock, columnsPerBlock, d) = (Self.flashQueryBlock, Self.flashKeyBlock, headSize)
        profiler.measure("flash_attention_backward") {
            if tokens <= Self.smallHeadTokens {
                let bias = biasPointer.map { UnsafePointer($0) }
                return Self.forEachSmallHead(batch * heads, tokens: tokens, headSize: d) { pair, scratch in
                    Self.smallHeadBackward(pair: pair, heads: heads, tokens: tokens, headSize: d, scale: scale, query: q, key: k, value: v,
                                           bias: bias, output: o, logSumExp: lse, outputGradient: dO, queryGradient: dQ, keyGradient: dK,
                                           valueGradient: dV, scratch: scratch)
                }
            }
            // One task per (batch, head): it owns that head's dQ, dK and dV, so the
            // key-block-outer loop accumulates all three without atomics or a second pass.
            Parallel.forEachChunk(batch * heads, grain: 1) { pairs in
                let probabilities = UnsafeMutablePointer<Float>.allocate(capacity: rowsPerBlock * columnsPerBlock)
                let scoreGradient = UnsafeMutablePointer<Float>.allocate(capacity: rowsPerBlock * columnsPerBlock)
                let rowDots = UnsafeMutablePointer<Float>.allocate(capacity: tokens)
                defer { probabilities.deallocate(); scoreGradient.deallocate(); rowDots.deallocate() }
                for pair in pairs {
                    let head = pair % heads
                    let base = pair * tokens * d
                    // D_i = rowsum(dO_i * O_i), the softmax backward's row term.
                    for row in 0..<tokens {
                        var dot: Float = 0
                        for column in 0..<d { dot += dO[base + row * d + column] * o[base + row * d + column] }
                        rowDots[row] = dot
                    }
                    (dQ + base).update(repeating: 0, count: tokens * d)
                    (dK + base).update(repeating: 0, count: tokens * d)
                    (dV + base).update(repeating: 0, count: tokens * d)
                    for keyStart in stride(from: 0, to: tokens, by: columnsPerBlock) {
                        let columns = min(columnsPerBlock, tokens - keyStart)
                        for first in stride(from: 0, to: tokens, by: rowsPerBlock) {
                            let rows = min(rowsPerBlock, tokens - first)
                            // P = exp(scale Q K^T + bias - L).
                            Self.scoreTile(query: q + base + first * d, keys: k + base + keyStart * d, rows: rows, columns: columns, headSize: d,
                                           scale: scale, bias: biasPointer.map { $0 + (head * tokens + first) * tokens + keyStart }, biasStride: tokens,
                                           scores: probabilities)
                            for row in 0..<rows {
                                _ = Self.exponentiate(probabilities + row * columnsPerBlock, count: columns, shift: lse[pair * tokens + first + row])
                            }
                            // dV_j += P^T dO_i.
                            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(columns), Int32(d), Int32(rows), 1,
                                        probabilities, Int32(columnsPerBlock), dO + base + first * d, Int32(d), 1, dV + base + keyStart * d, Int32(d))
                            // dP = dO_i V_j^T, then dS = P (dP - D_i).
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(columns), Int32(d), 1,
                                        dO + base + first * d, Int32(d), v + base + keyStart * d, Int32(d), 0, scoreGradient, Int32(columnsPerBlock))
                            for row in 0..<rows {
                                let (p, ds) = (probabilities + row * columnsPerBlock, scoreGradient + row * columnsPerBlock)
                                let rowDot = rowDots[first + row]
                                for column in 0..<columns { ds[column] = p[column] * (ds[column] - rowDot) }
                            }
                            // dQ_i += scale dS K_j; dK_j += scale dS^T Q_i.
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(d), Int32(columns), scale,
                                        scoreGradient, Int32(columnsPerBlock), k + base + keyStart * d, Int32(d), 1, dQ + base + first * d, Int32(d))
                            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(columns), Int32(d), Int32(rows), scale,
                                        scoreGradient, Int32(columnsPerBlock), q + base + first * d, Int32(d), 1, dK + base + keyStart * d, Int32(d))
                        }
                    }
                }
            }
        }
    }

    /// The score tile of both passes: `scores` [rows, flashKeyBlock] = scale Q K^T (+ bias) for
    /// `rows` queries against `columns` keys (rows of `headSize` floats; bias rows `biasStride` apart).
    static func scoreTile(query: UnsafeMutablePointer<Float>, keys: UnsafeMutablePointer<Float>, rows: Int, columns: Int, headSize: Int, scale: Float,
                          bias: UnsafeMutablePointer<Float>?, biasStride: Int, scores: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(columns), Int32(headSize), scale,
                    query, Int32(headSize), keys, Int32(headSize), 0, scores, Int32(flashKeyBlock))
        if let bias { addBias(UnsafePointer(bias), biasStride: biasStride, to: scores, stride: flashKeyBlock, rows: rows, columns: columns) }
    }

    /// scores[r][c] += bias[r][c] over a `rows` x `columns` tile.
    static func addBias(_ bias: UnsafePointer<Float>, biasStride: Int, to scores: UnsafeMutablePointer<Float>, stride: Int, rows: Int, columns: Int) {
        for row in 0..<rows {
            let (line, biasLine) = (scores + row * stride, bias + row * biasStride)
            for column in 0..<columns { line[column] += biasLine[column] }
        }
    }

    /// Replaces `values[i]` by e^(values[i] - shift) and returns their sum (CTileKernels).
    @inline(__always)
    static func exponentiate(_ values: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
        vit_exponentiate(values, count, shift)
    }
}

/// One thread's buffers for the flash forward: the current head's K transposed [headSize x
/// paddedTokens] and V [tokens x paddedHeadSize] (padded to multiples of 8 columns, the
/// layout `SmallProduct` reads; the padding is zeroed once and never written), the score
/// tile, the output accumulator and the running row maximum and sum.
final class FlashForwardScratch {
    let tokens, headSize, paddedTokens, paddedHeadSize: Int
    let keysTransposed, values, scores, accumulator, maximum, total: UnsafeMutablePointer<Float>
    private let memory: UnsafeMutablePointer<Float>

    init(tokens: Int, headSize: Int) {
        (self.tokens, self.headSize) = (tokens, headSize)
        paddedTokens = (tokens + 7) / 8 * 8
        paddedHeadSize = (headSize + 7) / 8 * 8
        let rows = CPUBackend.flashQueryBlock
        let sizes = [headSize * paddedTokens, tokens * paddedHeadSize, rows * CPUBackend.flashKeyBlock, rows * paddedHeadSize, rows, rows]
        memory = .allocate(capacity: sizes.reduce(0, +))
        memory.initialize(repeating: 0, count: sizes.reduce(0, +))
        var starts: [UnsafeMutablePointer<Float>] = []
        var next = memory
        for size in sizes {
            starts.append(next)
            next += size
        }
        (keysTransposed, values, scores, accumulator, maximum, total) = (starts[0], starts[1], starts[2], starts[3], starts[4], starts[5])
    }

    deinit { memory.deallocate() }

    /// Copies one head's keys (transposed) and values [tokens x headSize] into place.
    func load(keys: UnsafeMutablePointer<Float>, values source: UnsafeMutablePointer<Float>) {
        for token in 0..<tokens {
            for column in 0..<headSize { keysTransposed[column * paddedTokens + token] = keys[token * headSize + column] }
            VectorMath.copy(source + token * headSize, to: values + token * paddedHeadSize, count: headSize)
        }
    }
}
