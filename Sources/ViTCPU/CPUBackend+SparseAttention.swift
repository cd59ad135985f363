import Foundation
import ViTCore

/// Sparse masked attention (see `SparseAttentionKernels`): one query row (forward, dQ) or
/// one key column (dK, dV) per loop iteration, rows spread over the cores; work and
/// memory follow the pattern's kept pairs. OpenCL counterpart: Kernels/sparse_attention.cl.
extension CPUBackend: SparseAttentionKernels {
    /// Rows per chunk: each row costs a few dot products of D floats per kept pair.
    private static let sparseRowGrain = 64

    public func sparseAttentionForward(_ operands: AttentionOperands, index: SparseAttentionIndex, size: AttentionSize, mode: SparseAttentionMaskMode)
        throws
    {
        let (query, key, value, output, logSumExp) = (operands.query, operands.key, operands.value, operands.output, operands.logSumExp)
        let (batch, d, scale, tokens, heads) = (size.batch, size.headSize, size.scale, index.tokens, index.heads)
        let complemented = mode == .zero
        // Zero mode: every masked key adds exp(0) v_j; their sum is V_all minus the kept keys' values.
        let valueTotals = try allocate(count: batch * heads * d)
        if complemented { try sum(value, output: valueTotals, outer: batch * heads, axis: tokens, inner: d) }
        let (q, k, v, o, lse, totals) = (host(query), host(key), host(value), host(output), host(logSumExp), host(valueTotals))
        withIndices(index) { rowOffsets, columnIndices, _, _ in
            profiler.measure("sparse_attention_forward") {
                Parallel.forEachChunk(batch * heads * tokens, grain: Self.sparseRowGrain) { range in
                    // Scores of one row (at most N), then the accumulated values and the kept keys' values.
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tokens + 2 * d)
                    defer { scratch.deallocate() }
                    let (scores, accumulator, keptValues) = (scratch, scratch + tokens, scratch + tokens + d)
                    for row in range {
                        let (pair, queryIndex) = row.quotientAndRemainder(dividingBy: tokens)
                        let list = (pair % heads) * (tokens + 1) + queryIndex
                        let (start, end) = (Int(rowOffsets[list]), Int(rowOffsets[list + 1]))
                        let complement = complemented ? tokens - (end - start) : 0
                        let (queryRow, base, target) = (q + row * d, pair * tokens * d, o + row * d)
                        accumulator.update(repeating: 0, count: 2 * d)
                        // Two passes (scores and their largest, then the weights) rather than an
                        // online softmax, which rescales whenever the largest score grows. The masked
                        // keys of zero mode have logit 0 and weight `complement`.
                        var largest: Float = complement > 0 ? 0 : -.infinity
                        for entry in start..<end {
                            let score = Self.dot(queryRow, k + base + Int(columnIndices[entry]) * d, d) * scale
                            scores[entry - start] = score
                            largest = max(largest, score)
                        }
                        var denominator = complement > 0 ? Float(complement) * expf(-largest) : 0
                        for entry in start..<end {
                            let valueRow = v + base + Int(columnIndices[entry]) * d
                            let weight = expf(scores[entry - start] - largest)
                            denominator += weight
                            for c in 0..<d { accumulator[c] += weight * valueRow[c] }
                            if complement > 0 { for c in 0..<d { keptValues[c] += valueRow[c] } }
                        }
                        guard denominator > 0 else {
                            // No key at all (neg-inf mode): output 0, and +inf makes every probability 0 in the backward pass.
                            target.update(repeating: 0, count: d)
                            lse[row] = .infinity
                            continue
                        }
                        let inverse = 1 / denominator
                        if complement > 0 {
                            // Zero mode only: the totals are neither computed nor initialised otherwise.
                            let maskedWeight = expf(-largest)
                            let total = totals + pair * d
                            for c in 0..<d { target[c] = (accumulator[c] + maskedWeight * (total[c] - keptValues[c])) * inverse }
                        } else {
                            for c in 0..<d { target[c] = accumulator[c] * inverse }
                        }
                        lse[row] = largest + logf(denominator)
                    }
                }
            }
        }
    }

    public func sparseAttentionBackward(
        _ operands: AttentionOperands, gradients: AttentionGradients, index: SparseAttentionIndex, size: AttentionSize,
        mode: SparseAttentionMaskMode
    ) throws {
        let (query, key, value, output, logSumExp) = (operands.query, operands.key, operands.value, operands.output, operands.logSumExp)
        let (outputGradient, queryGradient, keyGradient, valueGradient) = (gradients.output, gradients.query, gradients.key, gradients.value)
        let (batch, d, scale, tokens, heads) = (size.batch, size.headSize, size.scale, index.tokens, index.heads)
        let rows = batch * heads * tokens
        let complemented = mode == .zero
        let (deltaStorage, maskedStorage, totalStorage) = (
            try allocate(count: rows), try allocate(count: rows), try allocate(count: batch * heads * d)
        )
        let (q, k, v, o, lse, dO) = (host(query), host(key), host(value), host(output), host(logSumExp), host(outputGradient))
        let (dQ, dK, dV) = (host(queryGradient), host(keyGradient), host(valueGradient))
        let (delta, masked, totals) = (host(deltaStorage), host(maskedStorage), host(totalStorage))
        withIndices(index) { rowOffsets, columnIndices, columnOffsets, rowIndices in
            profiler.measure("sparse_attention_backward") {
                // dQ over row lists; also delta_i = dO_i . O_i and the probability of each masked key (zero mode).
                Parallel.forEachChunk(rows, grain: Self.sparseRowGrain) { range in
                    for row in range {
                        let (pair, queryIndex) = row.quotientAndRemainder(dividingBy: tokens)
                        let list = (pair % heads) * (tokens + 1) + queryIndex
                        let (start, end) = (Int(rowOffsets[list]), Int(rowOffsets[list + 1]))
                        let (queryRow, gradientRow, base, target) = (q + row * d, dO + row * d, pair * tokens * d, dQ + row * d)
                        let dot = Self.dot(gradientRow, o + row * d, d)
                        delta[row] = dot
                        masked[row] = complemented && end - start < tokens ? expf(-lse[row]) : 0
                        target.update(repeating: 0, count: d)
                        for entry in start..<end {
                            let keyIndex = Int(columnIndices[entry])
                            let (keyRow, valueRow) = (k + base + keyIndex * d, v + base + keyIndex * d)
                            let (score, probabilityGradient) = (Self.dot(queryRow, keyRow, d), Self.dot(gradientRow, valueRow, d))
                            let scoreGradient = expf(score * scale - lse[row]) * (probabilityGradient - dot)
                            for c in 0..<d { target[c] += scoreGradient * keyRow[c] }
                        }
                        for c in 0..<d { target[c] *= scale }
                    }
                }
                // Zero mode: every key gets sum_i w_i dO_i from the masked pairs, less the kept pairs' share (below).
                Parallel.forEachChunk(batch * heads, grain: max(1, Self.sparseRowGrain / max(tokens, 1))) { range in
                    for pair in range {
                        let total = totals + pair * d
                        total.update(repeating: 0, count: d)
                        guard complemented else { continue }
                        for queryIndex in 0..<tokens {
                            let row = pair * tokens + queryIndex
                            let weight = masked[row]
                            for c in 0..<d { total[c] += weight * dO[row * d + c] }
                        }
                    }
                }
                // dK and dV over column lists: one writer per key.
                Parallel.forEachChunk(rows, grain: Self.sparseRowGrain) { range in
                    for column in range {
                        let (pair, keyIndex) = column.quotientAndRemainder(dividingBy: tokens)
                        let list = (pair % heads) * (tokens + 1) + keyIndex
                        let (start, end) = (Int(columnOffsets[list]), Int(columnOffsets[list + 1]))
                        let (keyRow, valueRow, base) = (k + column * d, v + column * d, pair * tokens * d)
                        let (keyTarget, valueTarget, total) = (dK + column * d, dV + column * d, totals + pair * d)
                        keyTarget.update(repeating: 0, count: d)
                        valueTarget.update(from: total, count: d)
                        for entry in start..<end {
                            let queryIndex = Int(rowIndices[entry])
                            let row = pair * tokens + queryIndex
                            let (queryRow, gradientRow) = (q + base + queryIndex * d, dO + base + queryIndex * d)
                            let (score, probabilityGradient) = (Self.dot(queryRow, keyRow, d), Self.dot(gradientRow, valueRow, d))
                            let probability = expf(score * scale - lse[row])
                            let scoreGradient = probability * (probabilityGradient - delta[row]) * scale
                            let valueWeight = probability - masked[row]
                            for c in 0..<d {
                                keyTarget[c] += scoreGradient * queryRow[c]
                                valueTarget[c] += valueWeight * gradientRow[c]
                            }
                        }
                    }
                }
            }
        }
    }

    /// a . b over `count` floats, in 8 lanes: one running sum would chain every addition
    /// (strict float order stops the compiler from splitting it), which dominates short rows.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var c = 0
        while c + 8 <= count {
            lanes += UnsafeRawPointer(a + c).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(b + c).loadUnaligned(as: SIMD8<Float>.self)
            c += 8
        }
        var total = lanes.sum()
        while c < count {
            total += a[c] * b[c]
            c += 1
        }
        return total
    }

    /// Calls `body` with the four int32 arrays of `index` (row offsets, column indices, column
    /// offsets, row indices).
    private func withIndices(
        _ index: SparseAttentionIndex,
        _ body: (UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Int32>) -> Void
    ) {
        host(index.storage).withMemoryRebound(to: Int32.self, capacity: index.bufferCount) { indices in
            body(indices, indices + index.columnIndicesStart, indices + index.columnOffsetsStart, indices + index.rowIndicesStart)
        }
    }
}
