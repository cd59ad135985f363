// Row softmax and its backward. Legend: rows x columns; one work-group per row with a
// power-of-two local size (group_max, group_sum in common.cl).
// CPU counterpart: CPUBackend+Rows.swift.

__kernel void softmax_forward(__global const float *input, __global float *output, const int columns,
                              __local float *scratch) {
    const int row = get_group_id(0);
    const int lid = get_local_id(0);
    const int size = get_local_size(0);
    __global const float *x = input + (size_t)row * columns;
    __global float *y = output + (size_t)row * columns;
    float largest = -INFINITY;
    for (int c = lid; c < columns; c += size) largest = fmax(largest, x[c]);
    largest = group_max(largest, scratch);
    float total = 0.0f;
    for (int c = lid; c < columns; c += size) {
        const float value = exp(x[c] - largest);
        y[c] = value;
        total += value;
    }
    const float inverse = 1.0f / group_sum(total, scratch);
    for (int c = lid; c < columns; c += size) y[c] *= inverse;
}

// dx = y * (dy - sum(dy * y)).
__kernel void softmax_backward(__global const float *output, __global const float *output_gradient,
                               __global float *input_gradient, const int columns, __local float *scratch) {
    const int row = get_group_id(0);
    const int lid = get_local_id(0);
    const int size = get_local_size(0);
    __global const float *y = output + (size_t)row * columns;
    __global const float *dy = output_gradient + (size_t)row * columns;
    __global float *dx = input_gradient + (size_t)row * columns;
    float dot = 0.0f;
    for (int c = lid; c < columns; c += size) dot += y[c] * dy[c];
    dot = group_sum(dot, scratch);
    for (int c = lid; c < columns; c += size) dx[c] = y[c] * (dy[c] - dot);
}
