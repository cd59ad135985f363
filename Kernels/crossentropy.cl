// Cross-entropy from logits with label smoothing (PyTorch F.cross_entropy semantics):
// loss = scale (logsumexp(x) - (1 - s) x[label] - s/C sum(x)) (scale 1/rows: the rows' sum is the mean); dlogits = scale (softmax(x) - q),
// q = (1 - s) one_hot(label) + s/C, scale = output_gradient[0] times a constant (the loss's
// incoming gradient stays on the device). Legend: rows x classes; labels hold class indices as
// floats. One work-group per row. CPU counterpart: CPUBackend+Rows.swift.

__kernel void crossentropy_forward(__global const float *logits, __global const float *labels, __global float *losses,
                                   const int classes, const float smoothing, const float scale,
                                   __local float *scratch) {
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
        losses[row] = scale * (largest + log(total) - (1.0f - smoothing) * target - smoothing * logit_sum / classes);
    }
}

__kernel void crossentropy_backward(__global const float *logits, __global const float *labels,
                                    __global const float *output_gradient, __global float *logits_gradient,
                                    const int classes, const float smoothing, const float row_scale,
                                    __local float *scratch) {
    const float scale = output_gradient[0] * row_scale;
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

// Adds a batch's summed loss (its mean loss[0] times rows) to statistics[0] and its top-1 hits
// to statistics[1], so training reads them once per progress update instead of every step.
// A row is a hit when no other class's logit is at least its label's and no logit is NaN.
// statistics[2] counts the batches before the first non-finite loss and statistics[3] becomes
// 1 at it, so the host learns which step diverged without reading every loss; from then on
// the loss sum stays the last finite one.
// One work-group, each work-item taking every size-th row.
__kernel void crossentropy_statistics(__global const float *logits, __global const float *labels,
                                      __global const float *loss, __global float *statistics, const int rows,
                                      const int classes, __local float *scratch) {
    const int lid = get_local_id(0);
    const int size = get_local_size(0);
    float hits = 0.0f;
    for (int row = lid; row < rows; row += size) {
        __global const float *x = logits + (size_t)row * classes;
        const int label = (int)labels[row];
        const float target = x[label];
        bool hit = !isnan(target);
        for (int c = 0; c < classes; c++) {
            if (c != label && (x[c] >= target || isnan(x[c]))) hit = false;
        }
        if (hit) hits += 1.0f;
    }
    hits = group_sum(hits, scratch);
    if (lid == 0) {
        if (statistics[3] == 0.0f) {
            if (isfinite(loss[0])) {
                statistics[0] += loss[0] * rows;
                statistics[2] += 1.0f;
            } else {
                statistics[3] = 1.0f;
            }
        }
        statistics[1] += hits;
    }
}
