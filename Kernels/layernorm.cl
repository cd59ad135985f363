// Layer norm over the last axis (PyTorch nn.LayerNorm, biased variance).
// Legend: rows x columns; weight and bias have `columns` values; mean and rstd (1/std)
// one value per row, saved by the forward pass for the backward.
// Row kernels run one work-group per row with a power-of-two local size and a tree
// reduction in local memory (group_sum, common.cl). CPU counterpart: CPUBackend+Rows.swift.

__kernel void layernorm_forward(__global const float *input, __global const float *weight, __global const float *bias,
                                __global float *output, __global float *mean, __global float *rstd,
                                const int columns, const float epsilon, __local float *scratch) {
    const int row = get_group_id(0);
    const int lid = get_local_id(0);
    const int size = get_local_size(0);
    __global const float *x = input + (size_t)row * columns;
    __global float *y = output + (size_t)row * columns;
    float sum = 0.0f;
    for (int c = lid; c < columns; c += size) sum += x[c];
    const float average = group_sum(sum, scratch) / columns;
    float squares = 0.0f;
    for (int c = lid; c < columns; c += size) {
        const float centred = x[c] - average;
        squares += centred * centred;
    }
    const float inverse = rsqrt(group_sum(squares, scratch) / columns + epsilon);
    for (int c = lid; c < columns; c += size) y[c] = (x[c] - average) * inverse * weight[c] + bias[c];
    if (lid == 0) {
        mean[row] = average;
        rstd[row] = inverse;
    }
}

// dx = rstd * (dy*w - mean(dy*w) - xhat * mean(dy*w*xhat)).
__kernel void layernorm_backward(__global const float *output_gradient, __global const float *input,
                                 __global const float *weight, __global const float *mean, __global const float *rstd,
                                 __global float *input_gradient, const int columns, __local float *scratch) {
    const int row = get_group_id(0);
    const int lid = get_local_id(0);
    const int size = get_local_size(0);
    __global const float *dy = output_gradient + (size_t)row * columns;
    __global const float *x = input + (size_t)row * columns;
    __global float *dx = input_gradient + (size_t)row * columns;
    const float average = mean[row];
    const float inverse = rstd[row];
    float gradient_sum = 0.0f;
    float gradient_dot = 0.0f;
    for (int c = lid; c < columns; c += size) {
        const float gradient = dy[c] * weight[c];
        gradient_sum += gradient;
        gradient_dot += gradient * (x[c] - average) * inverse;
    }
    const float mean_gradient = group_sum(gradient_sum, scratch) / columns;
    const float mean_dot = group_sum(gradient_dot, scratch) / columns;
    for (int c = lid; c < columns; c += size) {
        const float normalized = (x[c] - average) * inverse;
        dx[c] = inverse * (dy[c] * weight[c] - mean_gradient - normalized * mean_dot);
    }
}

// Weight and bias gradients in one launch: one work-group per column sums that column's
// rows (strided by `columns`) in local memory, both sums in the same pass over the rows.
__kernel void layernorm_parameters_backward(__global const float *output_gradient, __global const float *input,
                                            __global const float *mean, __global const float *rstd,
                                            __global float *weight_gradient, __global float *bias_gradient,
                                            const int rows, const int columns, __local float *scratch) {
    const int column = get_group_id(0);
    float weight_sum = 0.0f;
    float bias_sum = 0.0f;
    for (int row = get_local_id(0); row < rows; row += get_local_size(0)) {
        const size_t i = (size_t)row * columns + column;
        const float gradient = output_gradient[i];
        weight_sum += gradient * (input[i] - mean[row]) * rstd[row];
        bias_sum += gradient;
    }
    weight_sum = group_sum(weight_sum, scratch);
    bias_sum = group_sum(bias_sum, scratch);
    if (get_local_id(0) == 0) {
        weight_gradient[column] = weight_sum;
        bias_gradient[column] = bias_sum;
    }
}
