// Tiled exact attention (FlashAttention 2): softmax(scale Q K^T + bias) V without the
// N x N matrix. Legend: B batch, H heads, N tokens, D head size; Q, K, V, O, dO, dQ, dK,
// dV are [B, H, N, D]; L (log-sum-exp) and the row dots are [B, H, N]; the optional bias
// is [H, N, N]. Build options fix HEAD_SIZE (D), FLASH_GROUP (work-items per group, one row
// each) and FLASH_TILE (rows of the other operand staged in local memory per step).
// A fully masked row has O = 0 and L = +inf, so its recomputed probabilities are 0.
// Version 1: one work-item per row, dot products over D in private memory (the backward
// pass, and the reference of version 2 of the forward pass, at the end of the file).
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

#ifdef BLOCK_ROWS
// Version 2 of the forward pass, register-tiled (FlashAttention 2's blocking without tensor
// cores). A group owns BLOCK_ROWS query rows and walks the keys in blocks of BLOCK_COLUMNS,
// staged in local memory. Its work-items compute the block's scores in ROW_TILE x
// SCORE_COLUMNS register tiles (each Q value loaded from local memory serves SCORE_COLUMNS
// multiply-adds, each K value ROW_TILE) and the output in ROW_TILE x OUTPUT_COLUMNS register
// tiles that stay in registers across the key blocks; the output tiles turn scores into
// probabilities as they read them, so the softmax costs no pass over the block.
// Build options: BLOCK_ROWS (a multiple of ROW_TILE), SCORE_COLUMNS, BLOCK_COLUMNS (a
// multiple of it), OUTPUT_COLUMNS (divides HEAD_SIZE) and TILED_GROUP, at least the number of
// output tiles; the loops over score tiles and rows stride by it. Groups: (query blocks, B*H).
#define ROW_TILE 8
#define ROW_TILES (BLOCK_ROWS / ROW_TILE)
#define COLUMN_TILES (BLOCK_COLUMNS / SCORE_COLUMNS)
#define OUTPUT_TILES_PER_ROW (HEAD_SIZE / OUTPUT_COLUMNS)

// Rows `first`... of a [N, D] matrix into a block of `rows` rows, times `factor`, zeros past N.
inline void load_block(__global const float *source, __local float *block, const int first, const int rows, const int tokens,
                       const float factor) {
    for (int i = get_local_id(0); i < rows * HEAD_SIZE; i += TILED_GROUP) {
        const int row = first + i / HEAD_SIZE;
        block[i] = row < tokens ? source[(size_t)row * HEAD_SIZE + i % HEAD_SIZE] * factor : 0.0f;
    }
}

__kernel __attribute__((reqd_work_group_size(TILED_GROUP, 1, 1)))
void flash_attention_forward_tiled(__global const float *query, __global const float *key, __global const float *value,
                                   __global const float *bias, const int has_bias, __global float *output,
                                   __global float *log_sum_exp, const int tokens, const int heads, const float scale) {
    __local float query_block[BLOCK_ROWS * HEAD_SIZE];
    __local float key_value_block[BLOCK_COLUMNS * HEAD_SIZE];
    __local float scores[BLOCK_ROWS * BLOCK_COLUMNS];
    // Each score tile's row maxima, so that a row's maximum reads COLUMN_TILES values.
    __local float partial_maxima[BLOCK_ROWS * COLUMN_TILES];
    __local float row_maximum[BLOCK_ROWS];
    __local float row_correction[BLOCK_ROWS];
    __local float row_total[BLOCK_ROWS];
    const int item = get_local_id(0);
    const int pair = get_group_id(1);
    const int first_row = get_group_id(0) * BLOCK_ROWS;
    const size_t base = (size_t)pair * tokens * HEAD_SIZE;
    __global const float *bias_block = bias + (size_t)(pair % heads) * tokens * tokens;
    load_block(query + base, query_block, first_row, BLOCK_ROWS, tokens, scale);
    for (int r = item; r < BLOCK_ROWS; r += TILED_GROUP) {
        row_maximum[r] = -INFINITY;
        row_total[r] = 0.0f;
    }
    // This work-item's output tile (none for the work-items past the output tiles); the
    // tiles of the first output columns also keep their rows' sums of probabilities.
    const bool has_output = item < ROW_TILES * OUTPUT_TILES_PER_ROW;
    const int output_row = (item / OUTPUT_TILES_PER_ROW) * ROW_TILE;
    const int output_column = (item % OUTPUT_TILES_PER_ROW) * OUTPUT_COLUMNS;
    const bool keeps_totals = has_output && output_column == 0;
    float accumulator[ROW_TILE][OUTPUT_COLUMNS];
    for (int i = 0; i < ROW_TILE; i++)
        for (int j = 0; j < OUTPUT_COLUMNS; j++) accumulator[i][j] = 0.0f;

    for (int first_column = 0; first_column < tokens; first_column += BLOCK_COLUMNS) {
        // The previous block's output products have read the values and scores.
        barrier(CLK_LOCAL_MEM_FENCE);
        load_block(key + base, key_value_block, first_column, BLOCK_COLUMNS, tokens, 1.0f);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int t = item; t < ROW_TILES * COLUMN_TILES; t += TILED_GROUP) {
            const int tile_row = (t / COLUMN_TILES) * ROW_TILE;
            const int tile_column = (t % COLUMN_TILES) * SCORE_COLUMNS;
            float s[ROW_TILE][SCORE_COLUMNS];
            for (int i = 0; i < ROW_TILE; i++)
                for (int j = 0; j < SCORE_COLUMNS; j++) s[i][j] = 0.0f;
            for (int d = 0; d < HEAD_SIZE; d++) {
                float q[ROW_TILE];
                float k[SCORE_COLUMNS];
                for (int i = 0; i < ROW_TILE; i++) q[i] = query_block[(tile_row + i) * HEAD_SIZE + d];
                for (int j = 0; j < SCORE_COLUMNS; j++) k[j] = key_value_block[(tile_column + j) * HEAD_SIZE + d];
                for (int i = 0; i < ROW_TILE; i++)
                    for (int j = 0; j < SCORE_COLUMNS; j++) s[i][j] += q[i] * k[j];
            }
            for (int i = 0; i < ROW_TILE; i++) {
                const int row = first_row + tile_row + i;
                float maximum = -INFINITY;
                for (int j = 0; j < SCORE_COLUMNS; j++) {
                    const int column = first_column + tile_column + j;
                    // Keys past N, and every key of a row past N, take no weight.
                    float score = -INFINITY;
                    if (column < tokens && row < tokens) score = s[i][j] + (has_bias ? bias_block[(size_t)row * tokens + column] : 0.0f);
                    scores[(tile_row + i) * BLOCK_COLUMNS + tile_column + j] = score;
                    maximum = fmax(maximum, score);
                }
                partial_maxima[(tile_row + i) * COLUMN_TILES + t % COLUMN_TILES] = maximum;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        // Each row's running maximum, while the values replace the keys.
        for (int r = item; r < BLOCK_ROWS; r += TILED_GROUP) {
            const float previous = row_maximum[r];
            float maximum = previous;
            for (int c = 0; c < COLUMN_TILES; c++) maximum = fmax(maximum, partial_maxima[r * COLUMN_TILES + c]);
            // A row masked so far keeps maximum -inf; its probabilities are 0, not NaN.
            row_correction[r] = maximum > -INFINITY ? exp(previous - maximum) : 1.0f;
            row_maximum[r] = maximum;
        }
        load_block(value + base, key_value_block, first_column, BLOCK_COLUMNS, tokens, 1.0f);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (has_output) {
            float maximum[ROW_TILE];
            float total[ROW_TILE];
            for (int i = 0; i < ROW_TILE; i++) {
                const float correction = row_correction[output_row + i];
                maximum[i] = row_maximum[output_row + i];
                total[i] = 0.0f;
                for (int j = 0; j < OUTPUT_COLUMNS; j++) accumulator[i][j] *= correction;
            }
            for (int c = 0; c < BLOCK_COLUMNS; c++) {
                float p[ROW_TILE];
                float v[OUTPUT_COLUMNS];
                for (int i = 0; i < ROW_TILE; i++) {
                    p[i] = maximum[i] > -INFINITY ? exp(scores[(output_row + i) * BLOCK_COLUMNS + c] - maximum[i]) : 0.0f;
                    total[i] += p[i];
                }
                for (int j = 0; j < OUTPUT_COLUMNS; j++) v[j] = key_value_block[c * HEAD_SIZE + output_column + j];
                for (int i = 0; i < ROW_TILE; i++)
                    for (int j = 0; j < OUTPUT_COLUMNS; j++) accumulator[i][j] += p[i] * v[j];
            }
            if (keeps_totals) {
                for (int i = 0; i < ROW_TILE; i++) row_total[output_row + i] = row_total[output_row + i] * row_correction[output_row + i] + total[i];
            }
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (has_output) {
        for (int i = 0; i < ROW_TILE; i++) {
            const int row = first_row + output_row + i;
            if (row >= tokens) break;
            const float total = row_total[output_row + i];
            const float inverse = total > 0.0f ? 1.0f / total : 0.0f;
            for (int j = 0; j < OUTPUT_COLUMNS; j++) output[base + (size_t)row * HEAD_SIZE + output_column + j] = accumulator[i][j] * inverse;
        }
    }
    for (int r = item; r < BLOCK_ROWS && first_row + r < tokens; r += TILED_GROUP) {
        const float total = row_total[r];
        log_sum_exp[(size_t)pair * tokens + first_row + r] = total > 0.0f ? row_maximum[r] + log(total) : INFINITY;
    }
}
#endif
