// The starting point of Nystromformer's iterative Moore-Penrose inverse. Legend: `batch`
// = B H matrices (B batch, H heads), each M x M (M landmarks).
//
// pinv_start_forward:  Z = K^T / (||K||_1 ||K||_inf) per matrix (largest absolute column sum
//                      times largest absolute row sum), one work-group per matrix; saves the
//                      scale 1 / (||K||_1 ||K||_inf) per matrix.
// pinv_start_backward: dK = scale dZ^T (scale held constant), one work-item per element.
// CPU counterpart: Sources/ViTCPU/CPUBackend+PseudoInverse.swift.

__kernel void pinv_start_forward(__global const float *matrices, __global float *output, __global float *scales,
                                 const int size, __local float *scratch) {
    const size_t matrix = get_group_id(0);
    const int lid = get_local_id(0);
    const int group = get_local_size(0);
    __global const float *k = matrices + matrix * size * size;
    __global float *z = output + matrix * size * size;
    float largest_column = 0.0f;
    float largest_row = 0.0f;
    for (int j = lid; j < size; j += group) {
        float column = 0.0f;
        float row = 0.0f;
        for (int i = 0; i < size; i++) {
            column += fabs(k[i * size + j]);
            row += fabs(k[j * size + i]);
        }
        largest_column = fmax(largest_column, column);
        largest_row = fmax(largest_row, row);
    }
    largest_column = group_max(largest_column, scratch);
    largest_row = group_max(largest_row, scratch);
    const float factor = 1.0f / (largest_column * largest_row);
    if (lid == 0) scales[matrix] = factor;
    for (int e = lid; e < size * size; e += group) {
        const int j = e / size;
        const int i = e % size;
        z[j * size + i] = factor * k[i * size + j];
    }
}

__kernel void pinv_start_backward(__global const float *output_gradient, __global const float *scales,
                                  __global float *input_gradient, const int count, const int size) {
    const int e = get_global_id(0);
    if (e >= count) return;
    const int matrix = e / (size * size);
    const int i = (e / size) % size;
    const int j = e % size;
    input_gradient[e] = scales[matrix] * output_gradient[(size_t)matrix * size * size + j * size + i];
}
