// One SGD-with-momentum step, PyTorch's SGD(momentum, weight_decay, dampening 0):
// d = g + wd p; v = momentum v + d; p -= lr v. Legend: n parameters.
// CPU counterpart: CPUBackend+Optimizers.swift.

__kernel void sgd_step(__global float *parameter, __global const float *gradient, __global float *velocity, const int n,
                       const float learning_rate, const float momentum, const float weight_decay) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float direction = gradient[i] + weight_decay * parameter[i];
    const float v = momentum * velocity[i] + direction;
    velocity[i] = v;
    parameter[i] -= learning_rate * v;
}
