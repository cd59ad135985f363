/// Matrix products too small for a BLAS call to pay off: flash attention's tiles for short
/// sequences (the seed ViT's 65 tokens x 12 per head), where OpenBLAS's setup per call costs
/// more than the arithmetic. Register-blocked: 4 rows x 16 columns of C in eight SIMD8
/// accumulators, each step one broadcast of A per row and two vector loads of B.
enum SmallProduct {
    /// C = alpha A B for C [rows x columns] (row
    /// stride `cStride`), A(i, l) = a[i aRowStride + l aDepthStride] (so A may be read
    /// transposed), B [depth x columns] row-major (row stride `bStride`). `columns` must be a
    /// multiple of 8: callers pad B with zero columns and C with room for them.
    static func multiply(rows: Int, columns: Int, depth: Int, alpha: Float,
                         a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
                         b: UnsafePointer<Float>, bStride: Int,
                         c: UnsafeMutablePointer<Float>, cStride: Int) {
        var row = 0
        while row < rows {
            let height = min(4, rows - row)
            var column = 0
            while column < columns {
                let wide = columns - column >= 16
                block(height: height, wide: wide, depth: depth, alpha: alpha, a: a + row * aRowStride, aRowStride: aRowStride,
                      aDepthStride: aDepthStride, b: b + column, bStride: bStride, c: c + row * cStride + column, cStride: cStride)
                column += wide ? 16 : 8
            }
            row += 4
        }
    }

    /// One block of up to 4 rows and 16 (`wide`) or 8 columns. Rows past `height` read and
    /// write nothing: their broadcasts are zeros and their results are not stored.
    @inline(__always)
    private static func block(height: Int, wide: Bool, depth: Int, alpha: Float,
                              a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
                              b: UnsafePointer<Float>, bStride: Int,
                              c: UnsafeMutablePointer<Float>, cStride: Int) {
        var (left0, left1, left2, left3) = (FloatVector.zero, FloatVector.zero, FloatVector.zero, FloatVector.zero)
        var (right0, right1, right2, right3) = (FloatVector.zero, FloatVector.zero, FloatVector.zero, FloatVector.zero)
        // Rows past the block's height repeat row 0's address; their sums are discarded.
        let rowOffsets = (0, height > 1 ? aRowStride : 0, height > 2 ? 2 * aRowStride : 0, height > 3 ? 3 * aRowStride : 0)
        for step in 0..<depth {
            let bRow = b + step * bStride
            let left = UnsafeRawPointer(bRow).loadUnaligned(as: FloatVector.self)
            let right = wide ? UnsafeRawPointer(bRow + 8).loadUnaligned(as: FloatVector.self) : .zero
            let aStep = a + step * aDepthStride
            let x0 = FloatVector(repeating: aStep[rowOffsets.0])
            let x1 = FloatVector(repeating: aStep[rowOffsets.1])
            let x2 = FloatVector(repeating: aStep[rowOffsets.2])
            let x3 = FloatVector(repeating: aStep[rowOffsets.3])
            left0 = VectorMath.multiplyAdd(x0, left, left0)
            left1 = VectorMath.multiplyAdd(x1, left, left1)
            left2 = VectorMath.multiplyAdd(x2, left, left2)
            left3 = VectorMath.multiplyAdd(x3, left, left3)
            right0 = VectorMath.multiplyAdd(x0, right, right0)
            right1 = VectorMath.multiplyAdd(x1, right, right1)
            right2 = VectorMath.multiplyAdd(x2, right, right2)
            right3 = VectorMath.multiplyAdd(x3, right, right3)
        }
        let scale = FloatVector(repeating: alpha)
        func store(_ left: FloatVector, _ right: FloatVector, row: Int) {
            let target = c + row * cStride
            target.storeVector(left * scale, at: 0)
            if wide { target.storeVector(right * scale, at: 8) }
        }
        store(left0, right0, row: 0)
        if height > 1 { store(left1, right1, row: 1) }
        if height > 2 { store(left2, right2, row: 2) }
        if height > 3 { store(left3, right3, row: 3) }
    }
}
