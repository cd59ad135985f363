#include "ImageCodecs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Pillow's Resample.c, reproduced for 8-bit images: coefficients from a filter stretched by
// the reduction (antialiasing), normalised to sum 1 and rounded to 22-bit fixed point; a
// horizontal pass into 8-bit rows, then a vertical pass, each rounding and clipping to 0..255.

enum { PRECISION_BITS = 32 - 8 - 2 };

static double bilinear_filter(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double bicubic_filter(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/// One axis's taps: for each of `count` outputs from `first`, the first input and the number
/// of inputs it reads (`bounds`), and `taps` fixed-point weights each (`weights`).
typedef struct {
    int taps;
    int *bounds;
    int *weights;
} axis_coefficients;

static int precompute(int input_size, float start, float end, int output_size, int first, int count, int filter,
                      axis_coefficients *axis) {
    double (*function)(double) = filter == VIT_FILTER_BILINEAR ? bilinear_filter : bicubic_filter;
    double filter_support = filter == VIT_FILTER_BILINEAR ? 1.0 : 2.0;
    double scale = (double)(end - start) / output_size;
    double filter_scale = scale < 1.0 ? 1.0 : scale;
    double support = filter_support * filter_scale;
    int taps = (int)ceil(support) * 2 + 1;
    axis->taps = taps;
    axis->bounds = malloc(sizeof(int) * 2 * (size_t)count);
    axis->weights = malloc(sizeof(int) * (size_t)taps * (size_t)count);
    double *weights = malloc(sizeof(double) * (size_t)taps);
    if (!axis->bounds || !axis->weights || !weights) {
        free(weights);
        return 1;
    }
    for (int index = 0; index < count; index++) {
        int output = first + index;
        double center = start + (output + 0.5) * scale;
        double total = 0.0;
        double inverse_scale = 1.0 / filter_scale;
        int low = (int)(center - support + 0.5);
        if (low < 0) low = 0;
        int high = (int)(center + support + 0.5);
        if (high > input_size) high = input_size;
        int length = high - low;
        for (int tap = 0; tap < length; tap++) {
            double weight = function((tap + low - center + 0.5) * inverse_scale);
            weights[tap] = weight;
            total += weight;
        }
        int *fixed = axis->weights + (size_t)index * taps;
        for (int tap = 0; tap < taps; tap++) {
            double weight = tap < length ? (total != 0.0 ? weights[tap] / total : weights[tap]) : 0.0;
            fixed[tap] = weight < 0 ? (int)(-0.5 + weight * (1 << PRECISION_BITS)) : (int)(0.5 + weight * (1 << PRECISION_BITS));
        }
        axis->bounds[index * 2] = low;
        axis->bounds[index * 2 + 1] = length;
    }
    free(weights);
    return 0;
}

static inline uint8_t clip8(int value) {
    if (value >= (1 << PRECISION_BITS << 8)) return 255;
    if (value <= 0) return 0;
    return (uint8_t)(value >> PRECISION_BITS);
}

/// One row of the horizontal pass: `count` outputs of `axis` from `input` (pixels of
/// `channels` bytes, the first being source column `first_column`).
static void horizontal_pass(const uint8_t *input, int channels, int first_column, const axis_coefficients *axis, int count,
                            uint8_t *into) {
    for (int index = 0; index < count; index++) {
        int low = axis->bounds[index * 2] - first_column, length = axis->bounds[index * 2 + 1];
        const int *weights = axis->weights + (size_t)index * axis->taps;
        const uint8_t *pixel = input + (size_t)low * channels;
        if (channels == 3) {
            int red = 1 << (PRECISION_BITS - 1), green = red, blue = red;
            for (int tap = 0; tap < length; tap++) {
                red += pixel[tap * 3] * weights[tap];
                green += pixel[tap * 3 + 1] * weights[tap];
                blue += pixel[tap * 3 + 2] * weights[tap];
            }
            into[index * 3] = clip8(red);
            into[index * 3 + 1] = clip8(green);
            into[index * 3 + 2] = clip8(blue);
        } else {
            int sum = 1 << (PRECISION_BITS - 1);
            for (int tap = 0; tap < length; tap++) sum += pixel[tap] * weights[tap];
            into[index] = clip8(sum);
        }
    }
}

/// Output row `index` of the vertical pass over `bytes` bytes of each source row (`input`
/// is source row `first_row`, rows `stride` bytes apart), accumulated tap by tap across the
/// row in `sums` (room for `bytes` values) so that the loop over the row vectorises.
static void vertical_pass(const uint8_t *input, ptrdiff_t stride, size_t bytes, const axis_coefficients *axis, int index,
                          int first_row, int *restrict sums, uint8_t *restrict into) {
    int low = axis->bounds[index * 2] - first_row, length = axis->bounds[index * 2 + 1];
    const int *weights = axis->weights + (size_t)index * axis->taps;
    for (size_t column = 0; column < bytes; column++) sums[column] = 1 << (PRECISION_BITS - 1);
    for (int tap = 0; tap < length; tap++) {
        const uint8_t *restrict row = input + (low + tap) * stride;
        int weight = weights[tap];
        for (size_t column = 0; column < bytes; column++) sums[column] += row[column] * weight;
    }
    for (size_t column = 0; column < bytes; column++) into[column] = clip8(sums[column]);
}

int vit_resample(const uint8_t *source, int width, int height, ptrdiff_t stride, int channels, const double box[4],
                 int output_width, int output_height, int window_x, int window_y, int window_width, int window_height,
                 int filter, uint8_t *output, char *error, size_t error_size) {
    if (channels != 1 && channels != 3) {
        snprintf(error, error_size, "resampling takes 1 or 3 channels, not %d", channels);
        return 1;
    }
    if (window_x < 0 || window_y < 0 || window_width < 1 || window_height < 1 || window_x + window_width > output_width ||
        window_y + window_height > output_height) {
        snprintf(error, error_size, "the window %dx%d at (%d, %d) is not inside the %dx%d output", window_width, window_height,
                 window_x, window_y, output_width, output_height);
        return 1;
    }
    // Pillow passes the box as single-precision floats.
    float box_float[4] = {(float)box[0], (float)box[1], (float)box[2], (float)box[3]};
    if (!(box_float[0] >= 0 && box_float[1] >= 0 && box_float[2] <= width && box_float[3] <= height &&
          box_float[2] > box_float[0] && box_float[3] > box_float[1])) {
        snprintf(error, error_size, "the box (%g, %g, %g, %g) is not inside the %dx%d image", box[0], box[1], box[2], box[3],
                 width, height);
        return 1;
    }
    axis_coefficients horizontal = {0, NULL, NULL}, vertical = {0, NULL, NULL};
    uint8_t *rows = NULL;
    int *sums = NULL;
    int status = 1;
    if (precompute(width, box_float[0], box_float[2], output_width, window_x, window_width, filter, &horizontal) != 0 ||
        precompute(height, box_float[1], box_float[3], output_height, window_y, window_height, filter, &vertical) != 0) {
        snprintf(error, error_size, "out of memory");
        goto done;
    }
    size_t row_bytes = (size_t)window_width * channels;
    // Pillow 13 runs the vertical pass first when the height shrinks by more than twice as
    // many pixels as the width (earlier versions always start with the horizontal pass).
    int shrink_height = height - output_height, shrink_width = width - output_width;
    if (shrink_height > 0 && shrink_height > shrink_width * 2) {
        // The source columns the window's outputs read: the vertical pass runs on them only.
        int first_column = horizontal.bounds[0], last_column = 0;
        for (int index = 0; index < window_width; index++) {
            int start = horizontal.bounds[index * 2], end = start + horizontal.bounds[index * 2 + 1];
            if (start < first_column) first_column = start;
            if (end > last_column) last_column = end;
        }
        size_t band_bytes = (size_t)(last_column - first_column) * channels;
        rows = malloc(band_bytes * (size_t)window_height);
        sums = malloc(sizeof(int) * band_bytes);
        if (!rows || !sums) {
            snprintf(error, error_size, "out of memory");
            goto done;
        }
        for (int index = 0; index < window_height; index++) {
            vertical_pass(source + (size_t)first_column * channels, stride, band_bytes, &vertical, index, 0, sums,
                          rows + (size_t)index * band_bytes);
        }
        for (int row = 0; row < window_height; row++) {
            horizontal_pass(rows + (size_t)row * band_bytes, channels, first_column, &horizontal, window_width,
                            output + (size_t)row * row_bytes);
        }
    } else {
        // The source rows the window's outputs read: the horizontal pass runs on them only.
        int first_row = vertical.bounds[0], last_row = 0;
        for (int index = 0; index < window_height; index++) {
            int start = vertical.bounds[index * 2], end = start + vertical.bounds[index * 2 + 1];
            if (start < first_row) first_row = start;
            if (end > last_row) last_row = end;
        }
        rows = malloc(row_bytes * (size_t)(last_row - first_row));
        sums = malloc(sizeof(int) * row_bytes);
        if (!rows || !sums) {
            snprintf(error, error_size, "out of memory");
            goto done;
        }
        for (int row = first_row; row < last_row; row++) {
            horizontal_pass(source + row * stride, channels, 0, &horizontal, window_width, rows + (size_t)(row - first_row) * row_bytes);
        }
        for (int index = 0; index < window_height; index++) {
            vertical_pass(rows, (ptrdiff_t)row_bytes, row_bytes, &vertical, index, first_row, sums, output + (size_t)index * row_bytes);
        }
    }
    status = 0;
done:
    free(horizontal.bounds);
    free(horizontal.weights);
    free(vertical.bounds);
    free(vertical.weights);
    free(rows);
    free(sums);
    return status;
}
