// Sum over the middle axis of (outer, axis, inner) and its adjoint, the broadcast.
// One work-item per output element; neighbouring work-items read neighbouring addresses
// when inner > 1. CPU counterpart: CPUBackend+Layout.swift.

__kernel void sum_forward(__global const float *input, __global float *output, const int outer, const int axis,
                          const int inner) {
    const int i = get_global_id(0);
    if (i >= outer * inner) return;
    const int o = i / inner;
    const int in = i - o * inner;
    __global const float *x = input + (size_t)o * axis * inner + in;
    float total = 0.0f;
    for (int a = 0; a < axis; a++) total += x[(size_t)a * inner];
    output[i] = total;
}

__kernel void broadcast_forward(__global const float *input, __global float *output, const int outer, const int axis,
                                const int inner) {
    const int i = get_global_id(0);
    if (i >= outer * axis * inner) return;
    const int in = i % inner;
    const int o = i / (axis * inner);
    output[i] = input[o * inner + in];
}
