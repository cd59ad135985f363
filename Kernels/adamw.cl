// One fused AdamW step (decoupled weight decay), PyTorch's arithmetic in its order:
// p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= (lr / c1) * m / (sqrt(v) / sqrt(c2) + eps), with c1, c2 the bias corrections.
// Legend: n parameters. CPU counterpart: CPUBackend+Elementwise.swift.

__kernel void adamw_step(__global float *parameter, __global const float *gradient, __global float *first_moment,
                         __global float *second_moment, const int n, const float decay, const float step_size,
                         const float beta1, const float beta2, const float epsilon,
                         const float second_correction_root) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float g = gradient[i];
    const float m = beta1 * first_moment[i] + (1.0f - beta1) * g;
    const float v = beta2 * second_moment[i] + (1.0f - beta2) * g * g;
    first_moment[i] = m;
    second_moment[i] = v;
    parameter[i] = parameter[i] * decay - step_size * m / (sqrt(v) / second_correction_root + epsilon);
}
