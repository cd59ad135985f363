// Inverted dropout with the counter-based stream of common.cl: element i is kept when
// uniform(key, i) >= p and scaled by 1 / (1 - p). Applying it to the output gradient with
// the same seed and offset is the backward pass. Legend: n elements.
// CPU counterpart: CPUBackend+Elementwise.swift.

__kernel void dropout_forward(__global const float *input, __global float *output, const int n,
                              const float probability, const uint seed, const uint offset) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const uint key = counter_key(seed, offset);
    const float scale = 1.0f / (1.0f - probability);
    output[i] = counter_uniform(key, (uint)i) >= probability ? input[i] * scale : 0.0f;
}
