// Cross-entropy from logits with label smoothing (PyTorch F.cross_entropy semantics):
// loss = logsumexp(x) - (1 - s) x[label] - s/C sum(x); dlogits = scale (softmax(x) - q),
// q = (1 - s) one_hot(label) + s/C. Legend: rows x classes; labels hold class indices as
// floats. One work-group per row. CPU counterpart: CPUBackend+Rows.swift.

__kernel void crossentropy_forward(__global const float *logits, __global const float *labels, __global float *losses,
                                   const int classes, const float smoothing, __local float *scratch) {
    const int row = get_group_id(0);
    const int lid = get_local_id(0);
    const int size = get_local_size(0);
    __global const float *x = logits + (size_t)row * classes;
    float largest = -INFINITY;
    for (int c = lid; c < classes; c += size) largest = fmax(largest, x[c]);
    largest = group_max(largest, scratch);
    float total = 0.0f;
    float logit_sum = 0.0f;
    for (int c = lid; c < classes; c += size) {
        total += exp(x[c] - largest);
        logit_sum += x[c];
    }
    total = group_sum(total, scratch);
    logit_sum = group_sum(logit_sum, scratch);
    if (lid == 0) {
        const float target = x[(int)labels[row]];
        losses[row] = largest + log(total) - (1.0f - smoothing) * target - smoothing * logit_sum / classes;
    }
}

__kernel void crossentropy_backward(__global const float *logits, __global const float *labels,
                                    __global float *logits_gradient, const int classes, const float smoothing,
                                    const float scale, __local float *scratch) {
    const int row = get_group_id(0);
    const int lid = get_local_id(0);
    const int size = get_local_size(0);
    __global const float *x = logits + (size_t)row * classes;
    __global float *dx = logits_gradient + (size_t)row * classes;
    float largest = -INFINITY;
    for (int c = lid; c < classes; c += size) largest = fmax(largest, x[c]);
    largest = group_max(largest, scratch);
    float total = 0.0f;
    for (int c = lid; c < classes; c += size) total += exp(x[c] - largest);
    const float inverse = 1.0f / group_sum(total, scratch);
    const int label = (int)labels[row];
    const float uniform = smoothing / classes;
    for (int c = lid; c < classes; c += size) {
        const float wanted = (c == label ? 1.0f - smoothing : 0.0f) + uniform;
        dx[c] = scale * (exp(x[c] - largest) * inverse - wanted);
    }
}
