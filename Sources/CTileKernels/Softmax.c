#include "CTileKernels.h"

#include <math.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

// e^x on 8 lanes for x <= 88: VectorMath.exp's method and constants (Cephes' expf, x =
// n ln2 + r with ln2 split in two, e^r by a degree-7 polynomial in Estrin's scheme, 2^n from
// the exponent bits), 1.28 ulp. Clamped at -87.9, where n = -127 gives 2^n the exponent
// bits 0, so the result is 0 with no select. max(clamp, x) keeps a NaN x (MAXPS returns its
// second operand when either is NaN). The flash tile's row pass is its hottest loop; here it
// runs two vectors per iteration with the constants in registers.
static inline __m256 exp8(__m256 x) {
    const __m256 shifter = _mm256_set1_ps(12582912.0f);
    x = _mm256_max_ps(_mm256_set1_ps(-87.9f), x);
    const __m256 shifted = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504f), shifter);
    const __m256 n = _mm256_sub_ps(shifted, shifter);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-0.693359375f), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.1219444e-4f), r);
    const __m256 r2 = _mm256_mul_ps(r, r);
    const __m256 low = _mm256_fmadd_ps(_mm256_set1_ps(1.66666655e-1f), r, _mm256_set1_ps(5.00000012e-1f));
    const __m256 middle = _mm256_fmadd_ps(_mm256_set1_ps(8.3334519e-3f), r, _mm256_set1_ps(4.16657959e-2f));
    const __m256 high = _mm256_fmadd_ps(_mm256_set1_ps(1.98756915e-4f), r, _mm256_set1_ps(1.39819995e-3f));
    const __m256 p = _mm256_fmadd_ps(_mm256_mul_ps(r2, r2), high, _mm256_fmadd_ps(r2, middle, low));
    const __m256 y = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    // 2^n = (bits(shifted) - bits(shifter) + 127) << 23, the constant folded.
    const __m256i exponent = _mm256_add_epi32(_mm256_slli_epi32(_mm256_castps_si256(shifted), 23),
                                              _mm256_set1_epi32((int)((127u - 0x4B400000u) << 23)));
    return _mm256_mul_ps(y, _mm256_castsi256_ps(exponent));
}

static inline float horizontal_sum(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}

static inline float horizontal_maximum(__m256 v) {
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_max_ss(x, _mm_movehdup_ps(x)));
}

float vit_exponentiate(float *values, ptrdiff_t count, float shift) {
    const __m256 shift_vector = _mm256_set1_ps(shift);
    __m256 first = _mm256_setzero_ps(), second = _mm256_setzero_ps();
    ptrdiff_t index = 0;
    for (; index + 16 <= count; index += 16) {
        const __m256 low = exp8(_mm256_sub_ps(_mm256_loadu_ps(values + index), shift_vector));
        const __m256 high = exp8(_mm256_sub_ps(_mm256_loadu_ps(values + index + 8), shift_vector));
        _mm256_storeu_ps(values + index, low);
        _mm256_storeu_ps(values + index + 8, high);
        first = _mm256_add_ps(first, low);
        second = _mm256_add_ps(second, high);
    }
    for (; index < count; index += 8) {
        // The last, partial vector: masked lanes are neither read, written nor summed.
        const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count - index)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const __m256 result = exp8(_mm256_sub_ps(_mm256_maskload_ps(values + index, lanes), shift_vector));
        _mm256_maskstore_ps(values + index, lanes, result);
        first = _mm256_add_ps(first, _mm256_and_ps(result, _mm256_castsi256_ps(lanes)));
    }
    return horizontal_sum(_mm256_add_ps(first, second));
}

// The largest of `count` floats, a multiple of 8.
static float row_maximum(const float *values, ptrdiff_t count) {
    __m256 first = _mm256_set1_ps(-INFINITY), second = first;
    ptrdiff_t index = 0;
    for (; index + 16 <= count; index += 16) {
        first = _mm256_max_ps(first, _mm256_loadu_ps(values + index));
        second = _mm256_max_ps(second, _mm256_loadu_ps(values + index + 8));
    }
    if (index < count) first = _mm256_max_ps(first, _mm256_loadu_ps(values + index));
    return horizontal_maximum(_mm256_max_ps(first, second));
}

#else

float vit_exponentiate(float *values, ptrdiff_t count, float shift) {
    float sum = 0;
    for (ptrdiff_t index = 0; index < count; index++) {
        values[index] = expf(values[index] - shift);
        sum += values[index];
    }
    return sum;
}

static float row_maximum(const float *values, ptrdiff_t count) {
    float largest = -INFINITY;
    for (ptrdiff_t index = 0; index < count; index++) largest = values[index] > largest ? values[index] : largest;
    return largest;
}

#endif

void vit_online_softmax(float *scores, ptrdiff_t score_stride, ptrdiff_t rows, ptrdiff_t columns,
                        float *maximum, float *total, float *accumulator, ptrdiff_t accumulator_stride,
                        ptrdiff_t width) {
    const ptrdiff_t padded = (columns + 7) / 8 * 8;
    for (ptrdiff_t row = 0; row < rows; row++) {
        float *line = scores + row * score_stride;
        for (ptrdiff_t column = columns; column < padded; column++) line[column] = -INFINITY;
        const float tile_maximum = row_maximum(line, padded);
        const float largest = tile_maximum > maximum[row] ? tile_maximum : maximum[row];
        if (largest == -INFINITY) {
            for (ptrdiff_t column = 0; column < columns; column++) line[column] = 0;
            continue;
        }
        const float correction = expf(maximum[row] - largest);
        total[row] = total[row] * correction + vit_exponentiate(line, padded, largest);
        if (correction != 1) {
            float *values = accumulator + row * accumulator_stride;
            for (ptrdiff_t column = 0; column < width; column++) values[column] *= correction;
        }
        maximum[row] = largest;
    }
}
