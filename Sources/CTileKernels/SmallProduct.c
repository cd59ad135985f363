#include "CTileKernels.h"

// Register-blocked: 6 rows x 16 columns of C live in twelve 8-lane accumulators while the
// depth loop runs; each step loads two vectors of B and broadcasts one float of A per row,
// which keeps both FMA pipes of an AVX2 core busy (the classic 6x16 Haswell/Zen block). In C
// rather than Swift: Swift's SIMD types leave the block's register allocation to chance, and
// a Swift 6x16 version spilled and ran slower than OpenBLAS.
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

enum { block_rows = 6 };

// One block of `height` <= 6 rows and 16 (`wide`) or 8 columns. Rows past `height` read
// row 0 again and are not stored.
static inline void product_block(ptrdiff_t height, int wide, ptrdiff_t depth, float alpha,
                                 const float *a, ptrdiff_t a_row_stride, ptrdiff_t a_depth_stride,
                                 const float *b, ptrdiff_t b_stride, float *c, ptrdiff_t c_stride, int accumulate) {
    const float *rows[block_rows];
    for (ptrdiff_t row = 0; row < block_rows; row++) rows[row] = a + (row < height ? row : 0) * a_row_stride;
    __m256 left[block_rows], right[block_rows];
    for (int row = 0; row < block_rows; row++) left[row] = right[row] = _mm256_setzero_ps();
    for (ptrdiff_t step = 0; step < depth; step++) {
        const float *b_row = b + step * b_stride;
        const __m256 b_left = _mm256_loadu_ps(b_row);
        const __m256 b_right = wide ? _mm256_loadu_ps(b_row + 8) : _mm256_setzero_ps();
        const ptrdiff_t offset = step * a_depth_stride;
        for (int row = 0; row < block_rows; row++) {
            const __m256 x = _mm256_broadcast_ss(rows[row] + offset);
            left[row] = _mm256_fmadd_ps(x, b_left, left[row]);
            right[row] = _mm256_fmadd_ps(x, b_right, right[row]);
        }
    }
    const __m256 scale = _mm256_set1_ps(alpha);
    for (int row = 0; row < block_rows; row++) {
        if (row >= height) break;
        float *target = c + row * c_stride;
        __m256 value = _mm256_mul_ps(left[row], scale);
        if (accumulate) value = _mm256_add_ps(value, _mm256_loadu_ps(target));
        _mm256_storeu_ps(target, value);
        if (!wide) continue;
        value = _mm256_mul_ps(right[row], scale);
        if (accumulate) value = _mm256_add_ps(value, _mm256_loadu_ps(target + 8));
        _mm256_storeu_ps(target + 8, value);
    }
}

void vit_small_product(ptrdiff_t rows, ptrdiff_t columns, ptrdiff_t depth, float alpha,
                       const float *a, ptrdiff_t a_row_stride, ptrdiff_t a_depth_stride,
                       const float *b, ptrdiff_t b_stride,
                       float *c, ptrdiff_t c_stride, int accumulate) {
    for (ptrdiff_t row = 0; row < rows; row += block_rows) {
        const ptrdiff_t height = rows - row < block_rows ? rows - row : block_rows;
        for (ptrdiff_t column = 0; column < columns; column += 16) {
            const int wide = columns - column >= 16;
            product_block(height, wide, depth, alpha, a + row * a_row_stride, a_row_stride, a_depth_stride,
                          b + column, b_stride, c + row * c_stride + column, c_stride, accumulate);
            if (!wide) column -= 8;
        }
    }
}

#else

// Without AVX2 and FMA (a portable build): the same product in plain loops, which the
// compiler vectorises for the baseline instruction set.
void vit_small_product(ptrdiff_t rows, ptrdiff_t columns, ptrdiff_t depth, float alpha,
                       const float *a, ptrdiff_t a_row_stride, ptrdiff_t a_depth_stride,
                       const float *b, ptrdiff_t b_stride,
                       float *c, ptrdiff_t c_stride, int accumulate) {
    for (ptrdiff_t row = 0; row < rows; row++) {
        float *target = c + row * c_stride;
        if (!accumulate) for (ptrdiff_t column = 0; column < columns; column++) target[column] = 0;
        for (ptrdiff_t step = 0; step < depth; step++) {
            const float x = alpha * a[row * a_row_stride + step * a_depth_stride];
            const float *b_row = b + step * b_stride;
            for (ptrdiff_t column = 0; column < columns; column++) target[column] += x * b_row[column];
        }
    }
}

#endif
