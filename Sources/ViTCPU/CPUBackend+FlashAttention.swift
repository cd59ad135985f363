import COpenBLAS
import Foundation
import ViTCore

/// Tiled exact attention on the CPU (FlashAttention 2's algorithm): per (batch, head) and
/// block of queries, scores against one block of keys at a time with an online softmax;
/// the backward pass recomputes the probabilities from Q, K and the saved log-sum-exp.
/// Tiles are multiplied with OpenBLAS calls (single-threaded: see `gemm`) while the (batch,
/// head, block) tasks are spread over the cores. The only score memory is one tile per thread.
extension CPUBackend {
    /// Query rows per tile.
    static let flashQueryBlock = 128
    /// Key rows per tile: 128 x 256 scores (128 KiB) stay in the L2 cache.
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
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: rowsPerBlock * columnsPerBlock)
                let accumulator = UnsafeMutablePointer<Float>.allocate(capacity: rowsPerBlock * d)
                let running = UnsafeMutablePointer<Float>.allocate(capacity: 2 * rowsPerBlock)
                defer { scores.deallocate(); accumulator.deallocate(); running.deallocate() }
                let (maximum, total) = (running, running + rowsPerBlock)
                for task in tasks {
                    let (pair, block) = (task / queryBlocks, task % queryBlocks)
                    let head = pair % heads
                    let first = block * rowsPerBlock
                    let rows = min(rowsPerBlock, tokens - first)
                    let base = pair * tokens * d
                    accumulator.update(repeating: 0, count: rows * d)
                    maximum.update(repeating: -.infinity, count: rows)
                    total.update(repeating: 0, count: rows)
                    for keyStart in stride(from: 0, to: tokens, by: columnsPerBlock) {
                        let columns = min(columnsPerBlock, tokens - keyStart)
                        Self.scoreTile(query: q + base + first * d, keys: k + base + keyStart * d, rows: rows, columns: columns, headSize: d, scale: scale,
                                       bias: biasPointer.map { $0 + (head * tokens + first) * tokens + keyStart }, biasStride: tokens, scores: scores)
                        for row in 0..<rows {
                            let line = scores + row * columnsPerBlock
                            let newMaximum = max(maximum[row], VectorMath.maximum(line, count: columns))
                            guard newMaximum > -.infinity else {
                                // Every key so far is masked: this tile contributes nothing.
                                line.update(repeating: 0, count: columns)
                                continue
                            }
                            let correction = expf(maximum[row] - newMaximum)
                            total[row] = total[row] * correction + Self.exponentiate(line, count: columns, shift: newMaximum)
                            if correction != 1 {
                                let values = accumulator + row * d
                                for column in 0..<d { values[column] *= correction }
                            }
                            maximum[row] = newMaximum
                        }
                        Self.tileMultiply(transposeA: false, transposeB: false, m: rows, n: d, k: columns, alpha: 1,
                                    a: scores, lda: columnsPerBlock, b: v + base + keyStart * d, ldb: d, c: accumulator, ldc: d, accumulate: true)
                    }
                    for row in 0..<rows {
                        let target = o + base + (first + row) * d
                        let rowIndex = pair * tokens + first + row
                        if total[row] > 0 {
                            let inverse = 1 / total[row]
                            for column in 0..<d { target[column] = accumulator[row * d + column] * inverse }
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
                            Self.tileMultiply(transposeA: true, transposeB: false, m: columns, n: d, k: rows, alpha: 1,
                                        a: probabilities, lda: columnsPerBlock, b: dO + base + first * d, ldb: d, c: dV + base + keyStart * d, ldc: d, accumulate: true)
                            // dP = dO_i V_j^T, then dS = P (dP - D_i).
                            Self.tileMultiply(transposeA: false, transposeB: true, m: rows, n: columns, k: d, alpha: 1,
                                        a: dO + base + first * d, lda: d, b: v + base + keyStart * d, ldb: d, c: scoreGradient, ldc: columnsPerBlock, accumulate: false)
                            for row in 0..<rows {
                                let (p, ds) = (probabilities + row * columnsPerBlock, scoreGradient + row * columnsPerBlock)
                                let rowDot = rowDots[first + row]
                                for column in 0..<columns { ds[column] = p[column] * (ds[column] - rowDot) }
                            }
                            // dQ_i += scale dS K_j; dK_j += scale dS^T Q_i.
                            Self.tileMultiply(transposeA: false, transposeB: false, m: rows, n: d, k: columns, alpha: scale,
                                        a: scoreGradient, lda: columnsPerBlock, b: k + base + keyStart * d, ldb: d, c: dQ + base + first * d, ldc: d, accumulate: true)
                            Self.tileMultiply(transposeA: true, transposeB: false, m: columns, n: d, k: rows, alpha: scale,
                                        a: scoreGradient, lda: columnsPerBlock, b: q + base + first * d, ldb: d, c: dK + base + keyStart * d, ldc: d, accumulate: true)
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
        Self.tileMultiply(transposeA: false, transposeB: true, m: rows, n: columns, k: headSize, alpha: scale,
                    a: query, lda: headSize, b: keys, ldb: headSize, c: scores, ldc: flashKeyBlock, accumulate: false)
        guard let bias else { return }
        for row in 0..<rows {
            let (line, biasLine) = (scores + row * flashKeyBlock, bias + row * biasStride)
            for column in 0..<columns { line[column] += biasLine[column] }
        }
    }

    /// C (m x n, row stride ldc) = alpha op(A) op(B), plus C when `accumulate`, for one tile
    /// (row-major operands as OpenBLAS takes them). Small tiles (the seed ViT's 65 x 65 x 12)
    /// go to `TileProduct`, since OpenBLAS's setup per call then costs more than the
    /// arithmetic; larger ones, where OpenBLAS's cache blocking pays, to OpenBLAS.
    @inline(__always)
    static func tileMultiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafeMutablePointer<Float>, lda: Int,
                             b: UnsafeMutablePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        if m * n * k <= smallTileMultiplyAccumulates {
            TileProduct.multiply(m: m, n: n, k: k, alpha: alpha, a: a, aRowStride: transposeA ? 1 : lda, aDepthStride: transposeA ? lda : 1,
                                 b: b, ldb: ldb, transposeB: transposeB, c: c, cStride: ldc, accumulate: accumulate)
        } else {
            cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                        alpha, a, Int32(lda), b, Int32(ldb), accumulate ? 1 : 0, c, Int32(ldc))
        }
    }

    /// Multiply-accumulates up to which a tile goes to `TileProduct` (measured on 2 AVX2
    /// cores: it wins at N = 65 for head sizes 12-64, OpenBLAS from 128 x 256 x 32 on).
    static let smallTileMultiplyAccumulates = 1 << 18

    /// Replaces `values[i]` by e^(values[i] - shift) and returns their sum. Two loops: the
    /// first vectorises (no reduction in it), the second is VectorMath's reduction.
    @inline(__always)
    static func exponentiate(_ values: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
        for index in 0..<count { values[index] = VectorMath.exp(values[index] - shift) }
        return VectorMath.sum(values, count: count)
    }
}
