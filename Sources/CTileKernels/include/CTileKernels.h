#ifndef C_TILE_KERNELS_H
#define C_TILE_KERNELS_H

#include <stddef.h>

// The CPU flash attention's inner loops, in C with AVX2/FMA intrinsics where the build
// targets them (plain loops otherwise): tile products at sizes where a BLAS call's packing
// and setup cost more than the arithmetic, and the row passes of the online softmax.

/// C = alpha A B (accumulate = 0) or C += alpha A B (accumulate = 1), for C [rows x columns]
/// with row stride `c_stride`; A(i, l) = a[i a_row_stride + l a_depth_stride], so A may be
/// read transposed; B [depth x columns] row-major with row stride `b_stride`. `columns` must
/// be a multiple of 8: callers pad B with zero columns and C with room for them.
void vit_small_product(ptrdiff_t rows, ptrdiff_t columns, ptrdiff_t depth, float alpha,
                       const float *a, ptrdiff_t a_row_stride, ptrdiff_t a_depth_stride,
                       const float *b, ptrdiff_t b_stride,
                       float *c, ptrdiff_t c_stride, int accumulate);

/// Replaces values[i] by e^(values[i] - shift) for i < count and returns their sum.
/// Arguments below about -87.7 (-inf included) give exactly 0.
float vit_exponentiate(float *values, ptrdiff_t count, float shift);

/// One key tile's step of the online softmax, for `rows` rows of `scores` (row stride
/// `score_stride`, `columns` scores each, room for a multiple of 8): with m and l a row's
/// running maximum and sum (`maximum`, `total`) and O its output accumulator (`width`
/// floats, rows `accumulator_stride` apart), m' = max(m, max_j s_j), s_j <- e^(s_j - m'),
/// l <- l e^(m - m') + sum_j s_j, O <- O e^(m - m'). The room past `columns` is set to -inf
/// first, so its entries end as 0. A row whose m' is still -inf (every key so far masked)
/// gets all-zero probabilities and keeps m = -inf, l = 0.
void vit_online_softmax(float *scores, ptrdiff_t score_stride, ptrdiff_t rows, ptrdiff_t columns,
                        float *maximum, float *total, float *accumulator, ptrdiff_t accumulator_stride,
                        ptrdiff_t width);

#endif
