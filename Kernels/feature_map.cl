// Feature maps phi of linear attention: FAVOR+ positive random features (Performer) and
// elu + 1 (Katharopoulos et al.). Legend: rows = B H N (B batch, H heads, N tokens),
// M random features, D head dim; `p` = scale x W^T [rows, M] are the projections of the
// inputs x [rows, D] onto the random directions (a GEMM done before these kernels).
//
// favor_norms_forward:  norms[r] = scale^2 |x_r|^2 / 2, one work-item per row.
// favor_forward:        phi[r, m] = exp(p[r, m] - norms[r] - stabilizer) / sqrt(M), one
//                       work-group per block of `block_rows` rows (1 for queries, N for a
//                       head's keys); the stabilizer is the block's largest exponent.
// favor_backward:       dp = dphi * phi and dx = -scale^2 x sum_m(dphi * phi) (stabilizer
//                       held constant), one work-group per row.
// elu_features_forward: elu(x) + 1; elu_features_backward its gradient; one work-item per element.
// CPU counterpart: Sources/ViTCPU/CPUBackend+FeatureMaps.swift.

__kernel void favor_norms_forward(__global const float *input, __global float *norms, const int rows, const int input_size,
                                  const float half_squared_scale) {
    const int row = get_global_id(0);
    if (row >= rows) return;
    __global const float *x = input + (size_t)row * input_size;
    float squares = 0.0f;
    for (int d = 0; d < input_size; d++) squares += x[d] * x[d];
    norms[row] = half_squared_scale * squares;
}

__kernel void favor_forward(__global const float *projection, __global const float *norms, __global float *output,
                            const int block_rows, const int features, __local float *scratch) {
    const int lid = get_local_id(0);
    const int size = get_local_size(0);
    const size_t first_row = (size_t)get_group_id(0) * block_rows;
    const int elements = block_rows * features;
    __global const float *p = projection + first_row * features;
    __global float *phi = output + first_row * features;
    float largest = -INFINITY;
    for (int e = lid; e < elements; e += size) largest = fmax(largest, p[e] - norms[first_row + e / features]);
    largest = group_max(largest, scratch);
    const float normalizer = rsqrt((float)features);
    for (int e = lid; e < elements; e += size) phi[e] = exp(p[e] - norms[first_row + e / features] - largest) * normalizer;
}

__kernel void favor_backward(__global const float *output, __global const float *output_gradient, __global const float *input,
                             __global float *projection_gradient, __global float *input_gradient, const int features,
                             const int input_size, const float squared_scale, __local float *scratch) {
    const size_t row = get_group_id(0);
    const int lid = get_local_id(0);
    const int size = get_local_size(0);
    __global const float *phi = output + row * features;
    __global const float *dphi = output_gradient + row * features;
    __global float *dp = projection_gradient + row * features;
    float total = 0.0f;
    for (int m = lid; m < features; m += size) {
        const float gradient = dphi[m] * phi[m];
        dp[m] = gradient;
        total += gradient;
    }
    const float factor = -squared_scale * group_sum(total, scratch);
    for (int d = lid; d < input_size; d += size) input_gradient[row * input_size + d] = factor * input[row * input_size + d];
}

__kernel void elu_features_forward(__global const float *input, __global float *output, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float x = input[i];
    output[i] = x > 0.0f ? x + 1.0f : exp(x);
}

__kernel void elu_features_backward(__global const float *input, __global const float *output_gradient,
                                    __global float *input_gradient, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float x = input[i];
    input_gradient[i] = x > 0.0f ? output_gradient[i] : output_gradient[i] * exp(x);
}
