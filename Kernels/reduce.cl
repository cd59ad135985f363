// Sums over the middle axis of (outer, axis, inner) and its adjoint, the broadcast.
// Legend: outer x axis x inner; a sum writes outer x inner values.
// Version 2: every sum is parallel. The backend picks, per shape (OpenCLBackend.sum):
// - sum_forward: one work-item per output, when there are outputs enough to fill the device;
//   neighbouring work-items read neighbouring addresses when inner > 1.
// - sum_partials_forward: few outputs with inner > 1 and a long axis: each work-item sums a
//   chunk of the axis for one output, writing (outer, chunks, inner) partials that are summed
//   again.
// - sum_group_forward: few outputs (a whole tensor's sum, a bias gradient over a batch's rows,
//   the last stage of the others): one work-group per (output, chunk) reduces in local
//   memory; an axis of at most 64 terms per work-item is one chunk, so one launch.
// CPU counterpart: CPUBackend+Layout.swift.

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

// Work-items over (outer, chunks, inner); chunk c covers axis positions [c L, (c + 1) L).
__kernel void sum_partials_forward(__global const float *input, __global float *partials, const int outer,
                                   const int axis, const int inner, const int chunks, const int chunk_length) {
    const int i = get_global_id(0);
    if (i >= outer * chunks * inner) return;
    const int in = i % inner;
    const int chunk = (i / inner) % chunks;
    const int o = i / (inner * chunks);
    const int first = chunk * chunk_length;
    const int last = min(first + chunk_length, axis);
    __global const float *x = input + (size_t)o * axis * inner + in;
    float total = 0.0f;
    for (int a = first; a < last; a++) total += x[(size_t)a * inner];
    partials[i] = total;
}

// Work-groups over (outer x inner outputs, chunks): output j's chunk c goes to
// result[j * chunks + c], so with one chunk `result` is the sum itself.
__kernel void sum_group_forward(__global const float *input, __global float *result, const int axis, const int inner,
                                const int chunks, const int chunk_length, __local float *scratch) {
    const int group = get_group_id(0);
    const int output = group / chunks;
    const int chunk = group - output * chunks;
    const int o = output / inner;
    const int in = output - o * inner;
    const int first = chunk * chunk_length;
    const int last = min(first + chunk_length, axis);
    __global const float *x = input + (size_t)o * axis * inner + in;
    float total = 0.0f;
    for (int a = first + get_local_id(0); a < last; a += get_local_size(0)) total += x[(size_t)a * inner];
    total = group_sum(total, scratch);
    if (get_local_id(0) == 0) result[group] = total;
}

__kernel void broadcast_forward(__global const float *input, __global float *output, const int outer, const int axis,
                                const int inner) {
    const int i = get_global_id(0);
    if (i >= outer * axis * inner) return;
    const int in = i % inner;
    const int o = i / (axis * inner);
    output[i] = input[o * inner + in];
}
