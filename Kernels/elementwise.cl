// Element-by-element kernels: fill, add, subtract, multiply, scale, scale by a norm, bias add,
// block copy.
// Legend: n elements; rows x columns for the bias add (bias has `columns` values).
// CPU counterpart: Sources/ViTCPU/CPUBackend+Elementwise.swift.

__kernel void fill_forward(__global float *output, const int n, const float value) {
    const int i = get_global_id(0);
    if (i < n) output[i] = value;
}

__kernel void add_forward(__global const float *a, __global const float *b, __global float *output, const int n) {
    const int i = get_global_id(0);
    if (i < n) output[i] = a[i] + b[i];
}

__kernel void subtract_forward(__global const float *a, __global const float *b, __global float *output, const int n) {
    const int i = get_global_id(0);
    if (i < n) output[i] = a[i] - b[i];
}

__kernel void multiply_forward(__global const float *a, __global const float *b, __global float *output, const int n) {
    const int i = get_global_id(0);
    if (i < n) output[i] = a[i] * b[i];
}

__kernel void scale_forward(__global const float *input, __global float *output, const int n, const float alpha) {
    const int i = get_global_id(0);
    if (i < n) output[i] = alpha * input[i];
}

// output = factor input, factor = numerator / (sqrt(squared_norm[i / block]) + epsilon), at
// most 1 when at_most_one: gradient clipping and unit-norm scaling (of a batch of matrices,
// `block` elements apart) from norms that stay on the device.
__kernel void scale_by_norm_forward(__global const float *input, __global float *output, const int n,
                                    __global const float *squared_norm, const int block, const float numerator,
                                    const float epsilon, const int at_most_one) {
    const int i = get_global_id(0);
    if (i >= n) return;
    float factor = numerator / (sqrt(squared_norm[i / block]) + epsilon);
    if (at_most_one) factor = fmin(factor, 1.0f);
    output[i] = factor * input[i];
}

// 2D range: dimension 0 over columns, dimension 1 over rows.
__kernel void add_bias_forward(__global const float *input, __global const float *bias, __global float *output,
                               const int rows, const int columns) {
    const int column = get_global_id(0);
    const int row = get_global_id(1);
    if (column < columns && row < rows) {
        const int i = row * columns + column;
        output[i] = input[i] + bias[column];
    }
}

// Block copy: `count` blocks of `length` floats between strided positions (concatenation
// and slicing along an axis). 2D range: dimension 0 within a block, dimension 1 over blocks.
__kernel void copy_blocks(__global const float *source, const int source_offset, const int source_stride,
                          __global float *destination, const int destination_offset, const int destination_stride,
                          const int length, const int count) {
    const int i = get_global_id(0);
    const int block = get_global_id(1);
    if (i < length && block < count) {
        destination[destination_offset + block * destination_stride + i] = source[source_offset + block * source_stride + i];
    }
}
