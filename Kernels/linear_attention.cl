// The element-wise parts of linear attention, out = phi(Q) S / (phi(Q) z + epsilon) with
// S = phi(K)^T V and z = phi(K)^T 1. Legend: rows = B H N (B batch, H heads, N tokens),
// D head dim, M features. Appending a column of ones to V makes [S, z] = phi(K)^T [V, 1]
// and the numerator phi(Q) [S, z] (rows x (D + 1), last column the denominator) two GEMMs
// (CLBlast), done between these kernels.
//
// append_ones_forward:       [V, 1] [rows, D + 1] from V [rows, D].
// linear_attention_forward:  out = numerator[:, :D] / (numerator[:, D] + epsilon); saves the
//                            denominators [rows].
// linear_attention_backward: the numerator's gradient [rows, D + 1]: dout / denominator, and
//                            -sum_d(dout * out) / denominator in the last column; one
//                            work-group per row.
// CPU counterpart: Sources/ViTCPU/CPUBackend+LinearAttention.swift.

// 2D range: dimension 0 over the D + 1 columns, dimension 1 over rows.
__kernel void append_ones_forward(__global const float *value, __global float *output, const int rows, const int head_size) {
    const int column = get_global_id(0);
    const int row = get_global_id(1);
    if (column > head_size || row >= rows) return;
    output[(size_t)row * (head_size + 1) + column] = column == head_size ? 1.0f : value[(size_t)row * head_size + column];
}

// 2D range: dimension 0 over the D columns, dimension 1 over rows.
__kernel void linear_attention_forward(__global const float *numerator, __global float *output, __global float *denominator,
                                       const int rows, const int head_size, const float epsilon) {
    const int column = get_global_id(0);
    const int row = get_global_id(1);
    if (column >= head_size || row >= rows) return;
    __global const float *source = numerator + (size_t)row * (head_size + 1);
    const float total = source[head_size] + epsilon;
    output[(size_t)row * head_size + column] = source[column] / total;
    if (column == 0) denominator[row] = total;
}

__kernel void linear_attention_backward(__global const float *output_gradient, __global const float *output,
                                        __global const float *denominator, __global float *numerator_gradient,
                                        const int head_size, __local float *scratch) {
    const size_t row = get_group_id(0);
    const int lid = get_local_id(0);
    const int size = get_local_size(0);
    __global const float *dout = output_gradient + row * head_size;
    __global const float *out = output + row * head_size;
    __global float *target = numerator_gradient + row * (head_size + 1);
    const float total = denominator[row];
    float dot = 0.0f;
    for (int d = lid; d < head_size; d += size) {
        target[d] = dout[d] / total;
        dot += dout[d] * out[d];
    }
    dot = group_sum(dot, scratch);
    if (lid == 0) target[head_size] = -dot / total;
}
