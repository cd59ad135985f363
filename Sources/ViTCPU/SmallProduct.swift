import CTileKernels

/// Matrix products too small for a BLAS call to pay off: flash attention's tiles, where
/// OpenBLAS's packing and setup per call cost more than the arithmetic (score tiles with a
/// depth of 32, whole-head tiles of the seed ViT's 65 tokens x 12). The register-blocked
/// kernel itself is C (CTileKernels); this names its arguments.
enum SmallProduct {
    /// C = alpha A B, or C += alpha A B with `accumulate`, for C [rows x columns] (row stride
    /// `cStride`), A(i, l) = a[i aRowStride + l aDepthStride] (so A may be read transposed),
    /// B [depth x columns] row-major (row stride `bStride`). `columns` must be a multiple of
    /// 8: callers pad B with zero columns and C with room for them.
    @inline(__always)
    static func multiply(
        rows: Int, columns: Int, depth: Int, alpha: Float,
        a: UnsafePointer<Float>, aRowStride: Int, aDepthStride: Int,
        b: UnsafePointer<Float>, bStride: Int,
        c: UnsafeMutablePointer<Float>, cStride: Int, accumulate: Bool = false
    ) {
        vit_small_product(rows, columns, depth, alpha, a, aRowStride, aDepthStride, b, bStride, c, cStride, accumulate ? 1 : 0)
    }
}
