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
// The index-list kernels run on every row_step-th row or column (1: all of them; N: the class
// token's, beside the band kernels below).
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
                                       const int rows, const int row_step, const int heads, const int tokens,
                                       const float scale, const int zero_mode) {
    const int row = get_global_id(0) * row_step;
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
                                        const int rows, const int row_step, const int heads, const int tokens,
                                        const float scale, const int zero_mode) {
    const int row = get_global_id(0) * row_step;
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
                                                const int rows, const int row_step, const int heads, const int tokens,
                                                const float scale) {
    const int column = get_global_id(0) * row_step;
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

#ifdef BAND_GROUP
// Band kernels, for patterns given as bands (SparseAttentionBands: Fibottention, dilated,
// axial): patch p (token p + 1) of head h keeps key patch p + offset for each band (offset,
// shift) of h, unless that leaves the patches or, on a grid `grid_width` patches wide, the
// query's column plus shift leaves the grid; every patch also keeps the class token (key 0).
// A group owns BAND_GROUP consecutive patches (queries, or keys for dK and dV) of one pair; per
// band the other side's rows are one contiguous block, staged in local memory by coalesced
// loads (rows padded to HEAD_SIZE + 1 floats, so the work-items' row reads fall in different
// banks). The class token's own row and column are dense: the index-list kernels run them.
// The bands' table (`pattern` + bands_start): H + 1 starts, counted in bands, then (offset,
// shift) per band. Groups: (patch blocks, B*H).
#define ROW_STRIDE (HEAD_SIZE + 1)

// Whether patch `patch` keeps patch `patch + offset` through band (offset, shift).
inline bool band_keeps(const int patch, const int offset, const int shift, const int patches, const int grid_width) {
    const int other = patch + offset;
    if (patch < 0 || patch >= patches || other < 0 || other >= patches) return false;
    return grid_width == 0 || (uint)(patch % grid_width + shift) < (uint)grid_width;
}

// The keys patch `patch` keeps: the class token and one per band that keeps a patch.
inline int kept_keys(const int patch, __global const int *band, const int band_first, const int band_end, const int patches,
                     const int grid_width) {
    int kept = 1;
    for (int b = band_first; b < band_end; ++b) kept += band_keeps(patch, band[2 * b], band[2 * b + 1], patches, grid_width);
    return kept;
}

// Tokens 1 + first ... of a [N, D] matrix times `factor` into BAND_GROUP padded rows, zeros
// outside the patches.
inline void stage_patches(__global const float *source, __local float *block, const int first, const int patches,
                          const float factor) {
    for (int i = get_local_id(0); i < BAND_GROUP * HEAD_SIZE; i += BAND_GROUP) {
        const int r = i / HEAD_SIZE;
        const int patch = first + r;
        block[r * ROW_STRIDE + i % HEAD_SIZE] =
            patch >= 0 && patch < patches ? source[(size_t)(patch + 1) * HEAD_SIZE + i % HEAD_SIZE] * factor : 0.0f;
    }
}

// What every band kernel knows of its group: `lane`, the pair (b H + h), `patches` (N - 1),
// the group's `first` patch and this work-item's `patch`, the pair's offset `base` into the
// [B, H, N, D] matrices, and the head's bands [band_first, band_end) in `band` (offset and
// shift of band b at 2 b and 2 b + 1).
#define BAND_GROUP_PREAMBLE                                                   \
    const int lane = get_local_id(0);                                       \
    const int pair = get_group_id(1);                                       \
    const int patches = tokens - 1;                                         \
    const int first = get_group_id(0) * BAND_GROUP;                         \
    const int patch = first + lane;                                         \
    const size_t base = (size_t)pair * tokens * HEAD_SIZE;                  \
    const int band_first = pattern[bands_start + pair % heads];             \
    const int band_end = pattern[bands_start + pair % heads + 1];           \
    __global const int *band = pattern + bands_start + heads + 1

// The previous band's rows have been read; then BAND_GROUP rows of `source` and `second_source`
// (times `factor`, for the first) from patch `start` on, unless the block lies outside the
// patches. Every work-item meets both barriers whatever the block: PoCL miscompiles a loop
// that skips its barriers, even when the whole group skips them.
inline void stage_band(__global const float *source, __global const float *second_source, __local float *block,
                       __local float *second_block, const int start, const int patches, const float factor) {
    barrier(CLK_LOCAL_MEM_FENCE);
    if (start < patches && start + BAND_GROUP > 0) {
        stage_patches(source, block, start, patches, factor);
        stage_patches(second_source, second_block, start, patches, 1.0f);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

// Row `row` of a [N, D] matrix into HEAD_SIZE floats of local memory (the class token's).
inline void stage_row(__global const float *source, __local float *target, const int row) {
    for (int c = get_local_id(0); c < HEAD_SIZE; c += BAND_GROUP) target[c] = source[(size_t)row * HEAD_SIZE + c];
}

inline float dot_row(const float *row, __local const float *other) {
    float sum = 0.0f;
    for (int c = 0; c < HEAD_SIZE; ++c) sum += row[c] * other[c];
    return sum;
}

// One key of the forward's online softmax. With `complement` masked keys of logit 0 (zero
// mode) the accumulator holds sum_j (exp(s_j - m) - exp(-m)) v_j, which rescales like the
// weights, so that O = (accumulator + exp(-m) V_all) / denominator needs no second sum.
inline void softmax_step(const float score, __local const float *value_row, const int complement, float *largest,
                         float *denominator, float *masked_weight, float *accumulator) {
    if (score > *largest) {
        const float factor = exp(*largest - score);
        *denominator *= factor;
        for (int c = 0; c < HEAD_SIZE; ++c) accumulator[c] *= factor;
        *largest = score;
        *masked_weight = complement > 0 ? exp(-score) : 0.0f;
    }
    const float weight = exp(score - *largest);
    *denominator += weight;
    for (int c = 0; c < HEAD_SIZE; ++c) accumulator[c] += (weight - *masked_weight) * value_row[c];
}

// Forward for the patch rows: O and lse (never +inf: every patch keeps the class token).
__kernel __attribute__((reqd_work_group_size(BAND_GROUP, 1, 1)))
void sparse_bands_forward(__global const float *query, __global const float *key, __global const float *value,
                          __global const float *totals, __global float *output, __global float *lse,
                          __global const int *pattern, const int bands_start, const int grid_width, const int heads,
                          const int tokens, const float scale, const int zero_mode) {
    __local float key_block[BAND_GROUP * ROW_STRIDE];
    __local float value_block[BAND_GROUP * ROW_STRIDE];
    __local float class_key[HEAD_SIZE];
    __local float class_value[HEAD_SIZE];
    BAND_GROUP_PREAMBLE;
    const int complement = zero_mode ? tokens - kept_keys(patch, band, band_first, band_end, patches, grid_width) : 0;
    float q[HEAD_SIZE];
    float accumulator[HEAD_SIZE];
    for (int c = 0; c < HEAD_SIZE; ++c) {
        q[c] = patch < patches ? query[base + (size_t)(patch + 1) * HEAD_SIZE + c] * scale : 0.0f;
        accumulator[c] = 0.0f;
    }
    stage_row(key + base, class_key, 0);
    stage_row(value + base, class_value, 0);
    barrier(CLK_LOCAL_MEM_FENCE);
    float largest = complement > 0 ? 0.0f : -INFINITY;
    float denominator = (float)complement;
    float masked_weight = complement > 0 ? 1.0f : 0.0f;
    softmax_step(dot_row(q, class_key), class_value, complement, &largest, &denominator, &masked_weight, accumulator);
    for (int b = band_first; b < band_end; ++b) {
        const int offset = band[2 * b];
        stage_band(key + base, value + base, key_block, value_block, first + offset, patches, 1.0f);
        if (band_keeps(patch, offset, band[2 * b + 1], patches, grid_width)) {
            softmax_step(dot_row(q, key_block + lane * ROW_STRIDE), value_block + lane * ROW_STRIDE, complement, &largest, &denominator,
                         &masked_weight, accumulator);
        }
    }
    if (patch >= patches) return;
    const size_t row = (size_t)pair * tokens + patch + 1;
    const float inverse = 1.0f / denominator;
    for (int c = 0; c < HEAD_SIZE; ++c) {
        // `totals` is computed (and initialised) in zero mode only, where masked_weight > 0.
        const float masked = masked_weight > 0.0f ? masked_weight * totals[(size_t)pair * HEAD_SIZE + c] : 0.0f;
        output[row * HEAD_SIZE + c] = (accumulator[c] + masked) * inverse;
    }
    lse[row] = largest + log(denominator);
}

// dQ += scale dS_ij k_j for one kept key: dS_ij = P_ij (dO_i . v_j - D_i), P_ij = exp(s_ij - L_i).
inline void query_gradient_step(const float *q, const float *d_o, __local const float *key_row, __local const float *value_row,
                                const float row_lse, const float row_dot, float *gradient) {
    const float score_gradient = exp(dot_row(q, key_row) - row_lse) * (dot_row(d_o, value_row) - row_dot);
    for (int c = 0; c < HEAD_SIZE; ++c) gradient[c] += score_gradient * key_row[c];
}

// Backward for the patch rows: dQ, the row dots D_i = dO_i . O_i and `masked` (the weight of
// each masked key in zero mode, else 0), which the key/value kernels read.
__kernel __attribute__((reqd_work_group_size(BAND_GROUP, 1, 1)))
void sparse_bands_backward_query(__global const float *query, __global const float *key, __global const float *value,
                                 __global const float *output, __global const float *lse, __global const float *output_gradient,
                                 __global float *query_gradient, __global float *delta, __global float *masked,
                                 __global const int *pattern, const int bands_start, const int grid_width, const int heads,
                                 const int tokens, const float scale, const int zero_mode) {
    __local float key_block[BAND_GROUP * ROW_STRIDE];
    __local float value_block[BAND_GROUP * ROW_STRIDE];
    __local float class_key[HEAD_SIZE];
    __local float class_value[HEAD_SIZE];
    BAND_GROUP_PREAMBLE;
    const bool active = patch < patches;
    const size_t row = (size_t)pair * tokens + patch + 1;
    float q[HEAD_SIZE];
    float d_o[HEAD_SIZE];
    float gradient[HEAD_SIZE];
    float row_dot = 0.0f;
    for (int c = 0; c < HEAD_SIZE; ++c) {
        q[c] = active ? query[row * HEAD_SIZE + c] * scale : 0.0f;
        d_o[c] = active ? output_gradient[row * HEAD_SIZE + c] : 0.0f;
        if (active) row_dot += d_o[c] * output[row * HEAD_SIZE + c];
        gradient[c] = 0.0f;
    }
    // Lanes past the patches take L = +inf: their probabilities are 0.
    const float row_lse = active ? lse[row] : INFINITY;
    if (active) {
        delta[row] = row_dot;
        masked[row] = zero_mode && kept_keys(patch, band, band_first, band_end, patches, grid_width) < tokens ? exp(-row_lse) : 0.0f;
    }
    stage_row(key + base, class_key, 0);
    stage_row(value + base, class_value, 0);
    barrier(CLK_LOCAL_MEM_FENCE);
    query_gradient_step(q, d_o, class_key, class_value, row_lse, row_dot, gradient);
    for (int b = band_first; b < band_end; ++b) {
        const int offset = band[2 * b];
        stage_band(key + base, value + base, key_block, value_block, first + offset, patches, 1.0f);
        if (band_keeps(patch, offset, band[2 * b + 1], patches, grid_width)) {
            query_gradient_step(q, d_o, key_block + lane * ROW_STRIDE, value_block + lane * ROW_STRIDE, row_lse, row_dot, gradient);
        }
    }
    if (!active) return;
    for (int c = 0; c < HEAD_SIZE; ++c) query_gradient[row * HEAD_SIZE + c] = gradient[c] * scale;
}

// dK_j += dS_ij (scale q_i), dV_j += (P_ij - masked_i) dO_i for one query i that keeps key j.
inline void key_value_gradient_step(__local const float *key_row, __local const float *value_row, __local const float *query_row,
                                    __local const float *gradient_row, const float row_lse, const float row_dot, const float row_masked,
                                    float *key_sum, float *value_sum) {
    float score = 0.0f;
    float probability_gradient = 0.0f;
    for (int c = 0; c < HEAD_SIZE; ++c) {
        score += query_row[c] * key_row[c];
        probability_gradient += gradient_row[c] * value_row[c];
    }
    const float probability = exp(score - row_lse);
    const float score_gradient = probability * (probability_gradient - row_dot);
    for (int c = 0; c < HEAD_SIZE; ++c) {
        key_sum[c] += score_gradient * query_row[c];
        value_sum[c] += (probability - row_masked) * gradient_row[c];
    }
}

// Backward for the patch keys: dK and dV over the class query and the queries j - offset of
// each band. Zero mode adds `totals` = sum_i masked_i dO_i to dV (the masked pairs' share).
__kernel __attribute__((reqd_work_group_size(BAND_GROUP, 1, 1)))
void sparse_bands_backward_key_value(__global const float *query, __global const float *key, __global const float *value,
                                     __global const float *lse, __global const float *output_gradient, __global const float *delta,
                                     __global const float *masked, __global const float *totals, __global float *key_gradient,
                                     __global float *value_gradient, __global const int *pattern, const int bands_start,
                                     const int grid_width, const int heads, const int tokens, const float scale) {
    __local float key_block[BAND_GROUP * ROW_STRIDE];
    __local float value_block[BAND_GROUP * ROW_STRIDE];
    __local float query_block[BAND_GROUP * ROW_STRIDE];
    __local float gradient_block[BAND_GROUP * ROW_STRIDE];
    __local float class_query[HEAD_SIZE];
    __local float class_gradient[HEAD_SIZE];
    BAND_GROUP_PREAMBLE;
    const size_t rows = (size_t)pair * tokens;
    stage_patches(key + base, key_block, first, patches, 1.0f);
    stage_patches(value + base, value_block, first, patches, 1.0f);
    for (int c = lane; c < HEAD_SIZE; c += BAND_GROUP) {
        class_query[c] = query[base + c] * scale;
        class_gradient[c] = output_gradient[base + c];
    }
    float key_sum[HEAD_SIZE];
    float value_sum[HEAD_SIZE];
    for (int c = 0; c < HEAD_SIZE; ++c) {
        key_sum[c] = 0.0f;
        value_sum[c] = totals[(size_t)pair * HEAD_SIZE + c];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    __local const float *key_row = key_block + lane * ROW_STRIDE;
    __local const float *value_row = value_block + lane * ROW_STRIDE;
    // The class query keeps every key, and no key of its row is masked.
    key_value_gradient_step(key_row, value_row, class_query, class_gradient, lse[rows], delta[rows], masked[rows], key_sum, value_sum);
    for (int b = band_first; b < band_end; ++b) {
        const int offset = band[2 * b];
        // Key j is kept by query j - offset; the block's L, row dots and masked weights are
        // read by the work-item of their row only, so they need no barrier of their own.
        stage_band(query + base, output_gradient + base, query_block, gradient_block, first - offset, patches, scale);
        const int staged = first - offset + lane;
        const bool inside = staged >= 0 && staged < patches;
        const float staged_lse = inside ? lse[rows + staged + 1] : INFINITY;
        const float staged_dot = inside ? delta[rows + staged + 1] : 0.0f;
        const float staged_masked = inside ? masked[rows + staged + 1] : 0.0f;
        if (patch < patches && band_keeps(patch - offset, offset, band[2 * b + 1], patches, grid_width)) {
            key_value_gradient_step(key_row, value_row, query_block + lane * ROW_STRIDE, gradient_block + lane * ROW_STRIDE, staged_lse,
                                    staged_dot, staged_masked, key_sum, value_sum);
        }
    }
    if (patch >= patches) return;
    for (int c = 0; c < HEAD_SIZE; ++c) {
        key_gradient[base + (size_t)(patch + 1) * HEAD_SIZE + c] = key_sum[c];
        value_gradient[base + (size_t)(patch + 1) * HEAD_SIZE + c] = value_sum[c];
    }
}
#endif
