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
            if tokens <= Self.smallHeadTokens {
                let bias = biasPointer.map { UnsafePointer($0) }
                return Self.forEachSmallHead(batch * heads, tokens: tokens, headSize: d) { pair, scratch in
                    Self.smallHeadForward(pair: pair, heads: heads, tokens: tokens, headSize: d, scale: scale, query: q, key: k, value: v,
                                          bias: bias, output: o, logSumExp: lse, scratch: scratch)
                }
            }
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
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(d), Int32(columns), 1,
                                    scores, Int32(columnsPerBlock), v + base + keyStart * d, Int32(d), 1, accumulator, Int32(d))
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

    /// Replaces `values[i]` by e^(values[i] - shift) and returns their sum. Two loops: the
    /// first vectorises (no reduction in it), the second is VectorMath's reduction.
    @inline(__always)
    static func exponentiate(_ values: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
        for index in 0..<count { values[index] = VectorMath.exp(values[index] - shift) }
        return VectorMath.sum(values, count: count)
    }
}
