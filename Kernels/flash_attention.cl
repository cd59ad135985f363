// Tiled exact attention (FlashAttention 2): softmax(scale Q K^T + bias) V without the
// N x N matrix. Legend: B batch, H heads, N tokens, D head size; Q, K, V, O, dO, dQ, dK,
// dV are [B, H, N, D]; L (log-sum-exp) and the row dots are [B, H, N]; the optional bias
// is [H, N, N]. Build options fix HEAD_SIZE (D), FLASH_GROUP (work-items per group, one row
// each) and FLASH_TILE (rows of the other operand staged in local memory per step).
// A fully masked row has O = 0 and L = +inf, so its recomputed probabilities are 0.
// Version 1: one work-item per row, dot products over D in private memory.
// CPU counterpart: Sources/ViTCPU/CPUBackend+FlashAttention.swift.

// Copies FLASH_TILE rows (from `first`) of a [N, D] matrix into local memory, zeros past N.
inline void load_tile(__global const float *source, __local float *tile, const int first, const int tokens) {
    for (int i = get_local_id(0); i < FLASH_TILE * HEAD_SIZE; i += FLASH_GROUP) {
        const int row = first + i / HEAD_SIZE;
        tile[i] = row < tokens ? source[(size_t)row * HEAD_SIZE + i % HEAD_SIZE] : 0.0f;
    }
}

// Row `row` of a [N, D] matrix times `factor` into private memory, or zeros for an
// inactive work-item (a row past N).
inline void load_row(__global const float *source, const int row, const bool active, const float factor, float *target) {
    for (int d = 0; d < HEAD_SIZE; d++) target[d] = active ? source[(size_t)row * HEAD_SIZE + d] * factor : 0.0f;
}

inline float dot_local(const float *row, __local const float *tile_row) {
    float sum = 0.0f;
    for (int d = 0; d < HEAD_SIZE; d++) sum += row[d] * tile_row[d];
    return sum;
}

// Groups: (query blocks, B*H). Each work-item owns one query row.
__kernel void flash_attention_forward(__global const float *query, __global const float *key, __global const float *value,
                                      __global const float *bias, const int has_bias, __global float *output,
                                      __global float *log_sum_exp, const int tokens, const int heads, const float scale) {
    __local float key_tile[FLASH_TILE * HEAD_SIZE];
    __local float value_tile[FLASH_TILE * HEAD_SIZE];
    const int pair = get_group_id(1);
    const int row = get_group_id(0) * FLASH_GROUP + get_local_id(0);
    const size_t base = (size_t)pair * tokens * HEAD_SIZE;
    const bool active = row < tokens;
    float q[HEAD_SIZE];
    float accumulator[HEAD_SIZE];
    load_row(query + base, row, active, scale, q);
    for (int d = 0; d < HEAD_SIZE; d++) accumulator[d] = 0.0f;
    __global const float *bias_row = bias + ((size_t)(pair % heads) * tokens + (active ? row : 0)) * tokens;
    float maximum = -INFINITY;
    float total = 0.0f;
    for (int first = 0; first < tokens; first += FLASH_TILE) {
        load_tile(key + base, key_tile, first, tokens);
        load_tile(value + base, value_tile, first, tokens);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (active) {
            const int columns = min(FLASH_TILE, tokens - first);
            float scores[FLASH_TILE];
            float tile_maximum = -INFINITY;
            for (int c = 0; c < columns; c++) {
                scores[c] = dot_local(q, key_tile + c * HEAD_SIZE) + (has_bias ? bias_row[first + c] : 0.0f);
                tile_maximum = fmax(tile_maximum, scores[c]);
            }
            const float new_maximum = fmax(maximum, tile_maximum);
            if (new_maximum > -INFINITY) {
                const float correction = exp(maximum - new_maximum);
                total *= correction;
                for (int d = 0; d < HEAD_SIZE; d++) accumulator[d] *= correction;
                for (int c = 0; c < columns; c++) {
                    const float p = exp(scores[c] - new_maximum);
                    total += p;
                    for (int d = 0; d < HEAD_SIZE; d++) accumulator[d] += p * value_tile[c * HEAD_SIZE + d];
                }
                maximum = new_maximum;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (active) {
        const float inverse = total > 0.0f ? 1.0f / total : 0.0f;
        for (int d = 0; d < HEAD_SIZE; d++) output[base + (size_t)row * HEAD_SIZE + d] = accumulator[d] * inverse;
        log_sum_exp[(size_t)pair * tokens + row] = total > 0.0f ? maximum + log(total) : INFINITY;
    }
}

// D_i = rowsum(dO_i * O_i), one work-item per row of all B*H*N rows.
__kernel void flash_attention_backward_dot(__global const float *output, __global const float *output_gradient,
                                           __global float *row_dots, const int rows) {
    const int row = get_global_id(0);
    if (row >= rows) return;
    float sum = 0.0f;
    for (int d = 0; d < HEAD_SIZE; d++) sum += output[(size_t)row * HEAD_SIZE + d] * output_gradient[(size_t)row * HEAD_SIZE + d];
    row_dots[row] = sum;
}

// Groups: (key blocks, B*H). Each work-item owns one key row j and accumulates dK_j and dV_j
// over every query: dV_j += p dO_i, dK_j += scale ds q_i, with p = exp(s - L_i) and
// ds = p (dO_i . v_j - D_i).
__kernel void flash_attention_backward_key_value(__global const float *query, __global const float *key, __global const float *value,
                                                 __global const float *bias, const int has_bias, __global const float *log_sum_exp,
                                                 __global const float *row_dots, __global const float *output_gradient,
                                                 __global float *key_gradient, __global float *value_gradient,
                                                 const int tokens, const int heads, const float scale) {
    __local float query_tile[FLASH_TILE * HEAD_SIZE];
    __local float gradient_tile[FLASH_TILE * HEAD_SIZE];
    const int pair = get_group_id(1);
    const int column = get_group_id(0) * FLASH_GROUP + get_local_id(0);
    const size_t base = (size_t)pair * tokens * HEAD_SIZE;
    const bool active = column < tokens;
    float k[HEAD_SIZE];
    float v[HEAD_SIZE];
    float key_accumulator[HEAD_SIZE];
    float value_accumulator[HEAD_SIZE];
    load_row(key + base, column, active, scale, k);
    load_row(value + base, column, active, 1.0f, v);
    for (int d = 0; d < HEAD_SIZE; d++) {
        key_accumulator[d] = 0.0f;
        value_accumulator[d] = 0.0f;
    }
    __global const float *bias_column = bias + (size_t)(pair % heads) * tokens * tokens + (active ? column : 0);
    for (int first = 0; first < tokens; first += FLASH_TILE) {
        load_tile(query + base, query_tile, first, tokens);
        load_tile(output_gradient + base, gradient_tile, first, tokens);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (active) {
            const int rows = min(FLASH_TILE, tokens - first);
            for (int r = 0; r < rows; r++) {
                const int row = first + r;
                const float s = dot_local(k, query_tile + r * HEAD_SIZE) + (has_bias ? bias_column[(size_t)row * tokens] : 0.0f);
                const float p = exp(s - log_sum_exp[(size_t)pair * tokens + row]);
                const float dp = dot_local(v, gradient_tile + r * HEAD_SIZE);
                const float ds = p * (dp - row_dots[(size_t)pair * tokens + row]);
                for (int d = 0; d < HEAD_SIZE; d++) {
                    value_accumulator[d] += p * gradient_tile[r * HEAD_SIZE + d];
                    key_accumulator[d] += ds * query_tile[r * HEAD_SIZE + d];
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (active) {
        for (int d = 0; d < HEAD_SIZE; d++) {
            key_gradient[base + (size_t)column * HEAD_SIZE + d] = key_accumulator[d] * scale;
            value_gradient[base + (size_t)column * HEAD_SIZE + d] = value_accumulator[d];
        }
    }
}

// Groups: (query blocks, B*H). Each work-item owns one query row: dQ_i = scale sum_j ds_ij k_j,
// its own pass so that no two work-items write one row (OpenCL 1.2 has no float atomics).
__kernel void flash_attention_backward_query(__global const float *query, __global const float *key, __global const float *value,
                                             __global const float *bias, const int has_bias, __global const float *log_sum_exp,
                                             __global const float *row_dots, __global const float *output_gradient,
                                             __global float *query_gradient, const int tokens, const int heads, const float scale) {
    __local float key_tile[FLASH_TILE * HEAD_SIZE];
    __local float value_tile[FLASH_TILE * HEAD_SIZE];
    const int pair = get_group_id(1);
    const int row = get_group_id(0) * FLASH_GROUP + get_local_id(0);
    const size_t base = (size_t)pair * tokens * HEAD_SIZE;
    const bool active = row < tokens;
    float q[HEAD_SIZE];
    float gradient[HEAD_SIZE];
    float accumulator[HEAD_SIZE];
    load_row(query + base, row, active, scale, q);
    load_row(output_gradient + base, row, active, 1.0f, gradient);
    for (int d = 0; d < HEAD_SIZE; d++) accumulator[d] = 0.0f;
    const float lse = active ? log_sum_exp[(size_t)pair * tokens + row] : INFINITY;
    const float row_dot = active ? row_dots[(size_t)pair * tokens + row] : 0.0f;
    __global const float *bias_row = bias + ((size_t)(pair % heads) * tokens + (active ? row : 0)) * tokens;
    for (int first = 0; first < tokens; first += FLASH_TILE) {
        load_tile(key + base, key_tile, first, tokens);
        load_tile(value + base, value_tile, first, tokens);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (active) {
            const int columns = min(FLASH_TILE, tokens - first);
            for (int c = 0; c < columns; c++) {
                const float s = dot_local(q, key_tile + c * HEAD_SIZE) + (has_bias ? bias_row[first + c] : 0.0f);
                const float p = exp(s - lse);
                const float ds = p * (dot_local(gradient, value_tile + c * HEAD_SIZE) - row_dot);
                for (int d = 0; d < HEAD_SIZE; d++) accumulator[d] += ds * key_tile[c * HEAD_SIZE + d];
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (active) {
        for (int d = 0; d < HEAD_SIZE; d++) query_gradient[base + (size_t)row * HEAD_SIZE + d] = accumulator[d] * scale;
    }
}
