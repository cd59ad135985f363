/// Register-blocked products for small tiles, where OpenBLAS's packing and dispatch per call
/// cost more than the arithmetic (flash attention on the seed ViT multiplies 65 x 65 x 12
/// tiles, 28,000 of them per training step). Blocks of 4 rows x 16 columns of C live in
/// eight vector registers while the depth loop streams one row of B (two vectors) and
/// broadcasts four entries of A.
///
/// A(i, p) = a[i * aRowStride + p * aDepthStride], so A is a row-major matrix (strides
/// (lda, 1)) or the transpose of one (strides (1, lda)). B is row-major with `bStride` a
/// multiple of the vector width and zeros past column n (see `multiply`, which packs it).
/// C is row-major with any stride; only its first n columns are written.
enum TileProduct {
    /// C = alpha op(A) op(B) (+ C when `accumulate`), m x n x k, B given as OpenBLAS takes it:
    /// row-major k x n (or n x k when `transposeB`) with leading dimension `ldb`.
    static func multiply(m: Int, n: Int, k: Int, alpha: Float, a: UnsafeMutablePointer<Float>, aRowStride: Int, aDepthStride: Int,
                         b: UnsafeMutablePointer<Float>, ldb: Int, transposeB: Bool, c: UnsafeMutablePointer<Float>, cStride: Int, accumulate: Bool) {
        let paddedColumns = (n + FloatVector.scalarCount - 1) / FloatVector.scalarCount * FloatVector.scalarCount
        withUnsafeTemporaryAllocation(of: Float.self, capacity: k * paddedColumns) { buffer in
            let panel = buffer.baseAddress!
            for depth in 0..<k {
                let line = panel + depth * paddedColumns
                if transposeB {
                    for column in 0..<n { line[column] = b[column * ldb + depth] }
                } else {
                    line.update(from: b + depth * ldb, count: n)
                }
                (line + n).update(repeating: 0, count: paddedColumns - n)
            }
            multiplyPacked(m: m, n: n, k: k, alpha: alpha, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride, b: panel,
                           bStride: paddedColumns, c: c, cStride: cStride, accumulate: accumulate)
        }
    }

    private static func multiplyPacked(m: Int, n: Int, k: Int, alpha: Float, a: UnsafeMutablePointer<Float>, aRowStride: Int, aDepthStride: Int,
                                       b: UnsafeMutablePointer<Float>, bStride: Int, c: UnsafeMutablePointer<Float>, cStride: Int, accumulate: Bool) {
        let width = FloatVector.scalarCount
        var row = 0
        while row + 4 <= m {
            var column = 0
            while column + 2 * width <= n {
                block4x16(row: row, column: column, k: k, alpha: alpha, a: a, aRowStride: aRowStride, aDepthStride: aDepthStride,
                          b: b, bStride: bStride, c: c, cStride: cStride, accumulate: accumulate)
                column += 2 * width
            }
            for offset in 0..<4 {
                for tail in stride(from: column, to: n, by: width) {
                    block1x8(row: row + offset, column: tail, lanes: min(width, n - tail), k: k, alpha: alpha, a: a, aRowStride: aRowStride,
                             aDepthStride: aDepthStride, b: b, bStride: bStride, c: c, cStride: cStride, accumulate: accumulate)
                }
            }
            row += 4
        }
        for remaining in row..<m {
            for column in stride(from: 0, to: n, by: width) {
                block1x8(row: remaining, column: column, lanes: min(width, n - column), k: k, alpha: alpha, a: a, aRowStride: aRowStride,
                         aDepthStride: aDepthStride, b: b, bStride: bStride, c: c, cStride: cStride, accumulate: accumulate)
            }
        }
    }

    @inline(__always)
    private static func block4x16(row: Int, column: Int, k: Int, alpha: Float, a: UnsafeMutablePointer<Float>, aRowStride: Int, aDepthStride: Int,
                                  b: UnsafeMutablePointer<Float>, bStride: Int, c: UnsafeMutablePointer<Float>, cStride: Int, accumulate: Bool) {
        var (c00, c01, c10, c11) = (FloatVector.zero, FloatVector.zero, FloatVector.zero, FloatVector.zero)
        var (c20, c21, c30, c31) = (FloatVector.zero, FloatVector.zero, FloatVector.zero, FloatVector.zero)
        let rows = a + row * aRowStride
        for depth in 0..<k {
            let line = b + depth * bStride + column
            let (b0, b1) = (line.loadVector(at: 0), line.loadVector(at: FloatVector.scalarCount))
            let entries = rows + depth * aDepthStride
            let a0 = FloatVector(repeating: entries[0])
            let a1 = FloatVector(repeating: entries[aRowStride])
            let a2 = FloatVector(repeating: entries[2 * aRowStride])
            let a3 = FloatVector(repeating: entries[3 * aRowStride])
            c00 = VectorMath.multiplyAdd(a0, b0, c00); c01 = VectorMath.multiplyAdd(a0, b1, c01)
            c10 = VectorMath.multiplyAdd(a1, b0, c10); c11 = VectorMath.multiplyAdd(a1, b1, c11)
            c20 = VectorMath.multiplyAdd(a2, b0, c20); c21 = VectorMath.multiplyAdd(a2, b1, c21)
            c30 = VectorMath.multiplyAdd(a3, b0, c30); c31 = VectorMath.multiplyAdd(a3, b1, c31)
        }
        let target = c + row * cStride + column
        let half = FloatVector.scalarCount
        store(c00, to: target, lanes: half, alpha: alpha, accumulate: accumulate)
        store(c01, to: target + half, lanes: half, alpha: alpha, accumulate: accumulate)
        store(c10, to: target + cStride, lanes: half, alpha: alpha, accumulate: accumulate)
        store(c11, to: target + cStride + half, lanes: half, alpha: alpha, accumulate: accumulate)
        store(c20, to: target + 2 * cStride, lanes: half, alpha: alpha, accumulate: accumulate)
        store(c21, to: target + 2 * cStride + half, lanes: half, alpha: alpha, accumulate: accumulate)
        store(c30, to: target + 3 * cStride, lanes: half, alpha: alpha, accumulate: accumulate)
        store(c31, to: target + 3 * cStride + half, lanes: half, alpha: alpha, accumulate: accumulate)
    }

    @inline(__always)
    private static func block1x8(row: Int, column: Int, lanes: Int, k: Int, alpha: Float, a: UnsafeMutablePointer<Float>, aRowStride: Int,
                                 aDepthStride: Int, b: UnsafeMutablePointer<Float>, bStride: Int, c: UnsafeMutablePointer<Float>, cStride: Int,
                                 accumulate: Bool) {
        var total = FloatVector.zero
        let entries = a + row * aRowStride
        for depth in 0..<k {
            total = VectorMath.multiplyAdd(FloatVector(repeating: entries[depth * aDepthStride]), (b + depth * bStride + column).loadVector(at: 0), total)
        }
        store(total, to: c + row * cStride + column, lanes: lanes, alpha: alpha, accumulate: accumulate)
    }

    @inline(__always)
    private static func store(_ value: FloatVector, to target: UnsafeMutablePointer<Float>, lanes: Int, alpha: Float, accumulate: Bool) {
        let scaled = value * alpha
        target.storeVector(accumulate ? target.loadVector(at: 0, lanes: lanes) + scaled : scaled, at: 0, lanes: lanes)
    }
}
