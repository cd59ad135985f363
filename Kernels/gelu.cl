// GELU, exact erf form as PyTorch's default: y = x * 0.5 * (1 + erf(x / sqrt(2))).
// Legend: n elements. CPU counterpart: CPUBackend+Elementwise.swift (geluForward/geluBackward).

__kernel void gelu_forward(__global const float *input, __global float *output, const int n) {
    const int i = get_global_id(0);
    if (i < n) {
        const float x = input[i];
        output[i] = 0.5f * x * (1.0f + erf(x * M_SQRT1_2_F));
    }
}

// dx = dy * (Phi(x) + x * phi(x)), Phi the normal CDF and phi its density.
__kernel void gelu_backward(__global const float *input, __global const float *output_gradient,
                            __global float *input_gradient, const int n) {
    const int i = get_global_id(0);
    if (i < n) {
        const float x = input[i];
        const float cdf = 0.5f * (1.0f + erf(x * M_SQRT1_2_F));
        const float pdf = exp(-0.5f * x * x) * 0.3989422804014327f;
        input_gradient[i] = output_gradient[i] * (cdf + x * pdf);
    }
}
