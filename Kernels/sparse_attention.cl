// Sparse masked attention (Fibottention, dilated, axial): work and memory follow the kept
// (query, key) pairs of a per-head pattern, never N x N.
// Legend: B batch, N tokens, H heads, D head dim (HEAD_SIZE, a build option, sizes the
// private accumulators); Q, K, V, O, dO, dQ, dK, dV are [B, H, N, D]; lse, delta, masked [B, H, N];
// totals [B, H, D]. A "pair" is one (batch, head), index b H + h.
// The pattern (int32, one buffer): row offsets [H (N + 1)] into column indices (the keys of each
// query) for the forward pass and dQ; column offsets [H (N + 1)] into row indices (the queries of
// each key) for dK and dV, so every output element has one writer and no float atomics are
// needed. Each kernel gets the buffer and where its offsets and its index lists start.
// Modes: zero_mode = 1 gives masked pairs the logit 0 (official Fibottention), so each query's
// softmax gains (N - |S_i|) masked keys of weight exp(0) whose values sum to V_all - sum_{S_i} v_j
// (V_all = `totals`, precomputed); zero_mode = 0 excludes them (a query without keys outputs 0).
//
// sparse_attention_forward: one work-item per query row: online softmax over its keys; writes O
//   and lse = log of the softmax's denominator (+inf for a row without keys).
// sparse_attention_backward: one work-item per query row: delta_i = dO_i . O_i, masked_i = the
//   probability of each masked key (zero mode, else 0), dQ_i = scale sum_j P_ij (dO_i . v_j - delta_i) k_j.
// sparse_attention_complement_backward: one work-item per (pair, d): totals = sum_i masked_i dO_i.
// sparse_attention_columns_backward: one work-item per key column j: dK_j = scale sum_i dS_ij q_i,
//   dV_j = totals + sum_i (P_ij - masked_i) dO_i over the queries that keep key j.
// CPU counterpart: Sources/ViTCPU/CPUBackend+SparseAttention.swift.

// The pattern entries [*start, *end) of `item` (a query row, or a key column for the column
// lists) = pair * tokens + position; patterns are per head, shared by the batch.
inline void pattern_range(__global const int *pattern, const int offsets_start, const int item, const int heads,
                          const int tokens, int *start, int *end) {
    const int list = ((item / tokens) % heads) * (tokens + 1) + item % tokens;
    *start = pattern[offsets_start + list];
    *end = pattern[offsets_start + list + 1];
}

__kernel void sparse_attention_forward(__global const float *query, __global const float *key,
                                       __global const float *value, __global const float *totals,
                                       __global float *output, __global float *lse,
                                       __global const int *pattern, const int offsets_start, const int entries_start,
                                       const int rows, const int heads, const int tokens, const float scale,
                                       const int zero_mode) {
    const int row = get_global_id(0);
    if (row >= rows) return;
    const int pair = row / tokens;
    int start, end;
    pattern_range(pattern, offsets_start, row, heads, tokens, &start, &end);
    __global const int *column_indices = pattern + entries_start;
    const int complement = zero_mode ? tokens - (end - start) : 0;
    __global const float *q = query + (size_t)row * HEAD_SIZE;
    __global const float *k = key + (size_t)pair * tokens * HEAD_SIZE;
    __global const float *v = value + (size_t)pair * tokens * HEAD_SIZE;
    float accumulator[HEAD_SIZE];
    float kept_values[HEAD_SIZE];
    for (int c = 0; c < HEAD_SIZE; ++c) {
        accumulator[c] = 0.0f;
        kept_values[c] = 0.0f;
    }
    float largest = complement > 0 ? 0.0f : -INFINITY;
    float denominator = (float)complement;
    for (int entry = start; entry < end; ++entry) {
        const int j = column_indices[entry];
        float dot = 0.0f;
        for (int c = 0; c < HEAD_SIZE; ++c) dot += q[c] * k[j * HEAD_SIZE + c];
        const float score = dot * scale;
        if (score > largest) {
            const float factor = exp(largest - score);
            denominator *= factor;
            for (int c = 0; c < HEAD_SIZE; ++c) accumulator[c] *= factor;
            largest = score;
        }
        const float weight = exp(score - largest);
        denominator += weight;
        for (int c = 0; c < HEAD_SIZE; ++c) accumulator[c] += weight * v[j * HEAD_SIZE + c];
        if (complement > 0) {
            for (int c = 0; c < HEAD_SIZE; ++c) kept_values[c] += v[j * HEAD_SIZE + c];
        }
    }
    __global float *o = output + (size_t)row * HEAD_SIZE;
    if (denominator <= 0.0f) {
        for (int c = 0; c < HEAD_SIZE; ++c) o[c] = 0.0f;
        lse[row] = INFINITY;
        return;
    }
    const float inverse = 1.0f / denominator;
    if (complement > 0) {
        // Zero mode only: `totals` is not computed (not even initialised) in neg-inf mode.
        const float masked_weight = exp(-largest);
        __global const float *total = totals + (size_t)pair * HEAD_SIZE;
        for (int c = 0; c < HEAD_SIZE; ++c) o[c] = (accumulator[c] + masked_weight * (total[c] - kept_values[c])) * inverse;
    } else {
        for (int c = 0; c < HEAD_SIZE; ++c) o[c] = accumulator[c] * inverse;
    }
    lse[row] = largest + log(denominator);
}

__kernel void sparse_attention_backward(__global const float *query, __global const float *key,
                                        __global const float *value, __global const float *output,
                                        __global const float *lse, __global const float *output_gradient,
                                        __global float *query_gradient, __global float *delta, __global float *masked,
                                        __global const int *pattern, const int offsets_start, const int entries_start,
                                        const int rows, const int heads, const int tokens, const float scale,
                                        const int zero_mode) {
    const int row = get_global_id(0);
    if (row >= rows) return;
    const int pair = row / tokens;
    int start, end;
    pattern_range(pattern, offsets_start, row, heads, tokens, &start, &end);
    __global const int *column_indices = pattern + entries_start;
    __global const float *q = query + (size_t)row * HEAD_SIZE;
    __global const float *d_o = output_gradient + (size_t)row * HEAD_SIZE;
    __global const float *o = output + (size_t)row * HEAD_SIZE;
    __global const float *k = key + (size_t)pair * tokens * HEAD_SIZE;
    __global const float *v = value + (size_t)pair * tokens * HEAD_SIZE;
    float dot = 0.0f;
    for (int c = 0; c < HEAD_SIZE; ++c) dot += d_o[c] * o[c];
    delta[row] = dot;
    const float row_lse = lse[row];
    masked[row] = zero_mode && end - start < tokens ? exp(-row_lse) : 0.0f;
    float gradient[HEAD_SIZE];
    for (int c = 0; c < HEAD_SIZE; ++c) gradient[c] = 0.0f;
    for (int entry = start; entry < end; ++entry) {
        const int j = column_indices[entry];
        float score = 0.0f;
        float probability_gradient = 0.0f;
        for (int c = 0; c < HEAD_SIZE; ++c) {
            score += q[c] * k[j * HEAD_SIZE + c];
            probability_gradient += d_o[c] * v[j * HEAD_SIZE + c];
        }
        const float score_gradient = exp(score * scale - row_lse) * (probability_gradient - dot);
        for (int c = 0; c < HEAD_SIZE; ++c) gradient[c] += score_gradient * k[j * HEAD_SIZE + c];
    }
    __global float *d_q = query_gradient + (size_t)row * HEAD_SIZE;
    for (int c = 0; c < HEAD_SIZE; ++c) d_q[c] = gradient[c] * scale;
}

__kernel void sparse_attention_complement_backward(__global const float *output_gradient, __global const float *masked,
                                                   __global float *totals, const int pairs, const int tokens) {
    const int item = get_global_id(0);
    if (item >= pairs * HEAD_SIZE) return;
    const int pair = item / HEAD_SIZE;
    const int c = item % HEAD_SIZE;
    float total = 0.0f;
    for (int i = 0; i < tokens; ++i) {
        const int row = pair * tokens + i;
        total += masked[row] * output_gradient[(size_t)row * HEAD_SIZE + c];
    }
    totals[item] = total;
}

__kernel void sparse_attention_columns_backward(__global const float *query, __global const float *key,
                                                __global const float *value, __global const float *lse,
                                                __global const float *output_gradient, __global const float *delta,
                                                __global const float *masked, __global const float *totals,
                                                __global float *key_gradient, __global float *value_gradient,
                                                __global const int *pattern, const int offsets_start, const int entries_start,
                                                const int rows, const int heads, const int tokens, const float scale) {
    const int column = get_global_id(0);
    if (column >= rows) return;
    const int pair = column / tokens;
    int start, end;
    pattern_range(pattern, offsets_start, column, heads, tokens, &start, &end);
    __global const int *row_indices = pattern + entries_start;
    __global const float *k = key + (size_t)column * HEAD_SIZE;
    __global const float *v = value + (size_t)column * HEAD_SIZE;
    __global const float *q = query + (size_t)pair * tokens * HEAD_SIZE;
    __global const float *d_o = output_gradient + (size_t)pair * tokens * HEAD_SIZE;
    __global const float *total = totals + (size_t)pair * HEAD_SIZE;
    float key_sum[HEAD_SIZE];
    float value_sum[HEAD_SIZE];
    for (int c = 0; c < HEAD_SIZE; ++c) {
        key_sum[c] = 0.0f;
        value_sum[c] = total[c];
    }
    for (int entry = start; entry < end; ++entry) {
        const int i = row_indices[entry];
        const int row = pair * tokens + i;
        float score = 0.0f;
        float probability_gradient = 0.0f;
        for (int c = 0; c < HEAD_SIZE; ++c) {
            score += q[i * HEAD_SIZE + c] * k[c];
            probability_gradient += d_o[i * HEAD_SIZE + c] * v[c];
        }
        const float probability = exp(score * scale - lse[row]);
        const float score_gradient = probability * (probability_gradient - delta[row]) * scale;
        const float value_weight = probability - masked[row];
        for (int c = 0; c < HEAD_SIZE; ++c) {
            key_sum[c] += score_gradient * q[i * HEAD_SIZE + c];
            value_sum[c] += value_weight * d_o[i * HEAD_SIZE + c];
        }
    }
    __global float *d_k = key_gradient + (size_t)column * HEAD_SIZE;
    __global float *d_v = value_gradient + (size_t)column * HEAD_SIZE;
    for (int c = 0; c < HEAD_SIZE; ++c) {
        d_k[c] = key_sum[c];
        d_v[c] = value_sum[c];
    }
}
