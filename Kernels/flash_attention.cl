// Tiled exact attention (FlashAttention 2): softmax(scale Q K^T + bias) V without the
// N x N matrix. Legend: B batch, H heads, N tokens, D head size; Q, K, V, O, dO, dQ, dK,
// dV are [B, H, N, D]; L (log-sum-exp) and the row dots are [B, H, N]; the optional bias
// is [H, N, N]. The build option HEAD_SIZE fixes D; each kernel's block and tile sizes are
// build options too (below).
// A fully masked row has O = 0 and L = +inf, so its recomputed probabilities are 0.
// Dropout on the probabilities (inverted, PyTorch's dropout(softmax(S)) V) is compiled in
// with FLASH_DROPOUT; the kernels take its stream's key, the probability p and 1 / (1 - p)
// either way. Probability (i, j) of head `pair` (b H + h) is kept when
// counter_uniform(key, (pair N + i) N + j) >= p (the uint arithmetic wraps as the Swift
// index truncates), the draw of Tensor.dropout on the [B, H, N, N] probabilities. With the
// factor f (0, or 1 / (1 - p) when kept): O = sum_j f P_ij V_j, L stays the undropped
// scores' log-sum-exp, dV = (f P)^T dO, dS = P (f dP - D) with dP = dO V^T, and the row dots
// D = rowsum(dO O) of the dropped output (D_i = sum_j P_ij f dP_ij still).
// CPU counterpart: Sources/ViTCPU/CPUBackend+FlashAttention.swift.

#define DROPOUT_ARGUMENTS const uint dropout_key, const float dropout_probability, const float dropout_scale
#ifdef FLASH_DROPOUT
// Whether probability (`row`, `column`) of head `pair` is kept.
inline bool dropout_keeps(const uint key, const float probability, const int pair, const int tokens, const int row,
                          const int column) {
    const uint index = ((uint)pair * (uint)tokens + (uint)row) * (uint)tokens + (uint)column;
    return counter_uniform(key, index) >= probability;
}
#define DROPOUT_KEEPS(row, column) dropout_keeps(dropout_key, dropout_probability, pair, tokens, row, column)
#define DROPOUT_FACTOR(row, column) (DROPOUT_KEEPS(row, column) ? dropout_scale : 0.0f)
#else
#define DROPOUT_FACTOR(row, column) 1.0f
#endif

// Rows `first`... of a [N, D] matrix into a block of `rows` rows, times `factor`, zeros past N.
inline void load_block(__global const float *source, __local float *block, const int first, const int rows, const int tokens,
                       const float factor) {
    for (int i = get_local_id(0); i < rows * HEAD_SIZE; i += TILED_GROUP) {
        const int row = first + i / HEAD_SIZE;
        block[i] = row < tokens ? source[(size_t)row * HEAD_SIZE + i % HEAD_SIZE] * factor : 0.0f;
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


__kernel __attribute__((reqd_work_group_size(TILED_GROUP, 1, 1)))
void flash_attention_forward_tiled(__global const float *query, __global const float *key, __global const float *value,
                                   __global const float *bias, const int has_bias, __global float *output,
                                   __global float *log_sum_exp, const int tokens, const int heads, const float scale,
                                   DROPOUT_ARGUMENTS) {
    __local float query_block[BLOCK_ROWS * HEAD_SIZE];
    __local float key_value_block[BLOCK_COLUMNS * HEAD_SIZE];
    __local float scores[BLOCK_ROWS * BLOCK_COLUMNS];
    // Each score tile's row maxima, so that a row's maximum reads COLUMN_TILES values.
    __local float partial_maxima[BLOCK_ROWS * COLUMN_TILES];
    __local float row_maximum[BLOCK_ROWS];
    __local float row_correction[BLOCK_ROWS];
    __local float row_total[BLOCK_ROWS];
#ifdef FLASH_DROPOUT
    // Bit j of a score tile's row: whether its probability j is kept (SCORE_COLUMNS <= 32),
    // drawn once per score and read by every output tile of the row.
    __local uint kept_bits[BLOCK_ROWS * COLUMN_TILES];
#endif
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
#ifdef FLASH_DROPOUT
                uint kept = 0;
#endif
                for (int j = 0; j < SCORE_COLUMNS; j++) {
                    const int column = first_column + tile_column + j;
                    // Keys past N, and every key of a row past N, take no weight.
                    float score = -INFINITY;
                    if (column < tokens && row < tokens) score = s[i][j] + (has_bias ? bias_block[(size_t)row * tokens + column] : 0.0f);
                    scores[(tile_row + i) * BLOCK_COLUMNS + tile_column + j] = score;
                    maximum = fmax(maximum, score);
#ifdef FLASH_DROPOUT
                    if (DROPOUT_KEEPS(row, column)) kept |= 1u << j;
#endif
                }
                partial_maxima[(tile_row + i) * COLUMN_TILES + t % COLUMN_TILES] = maximum;
#ifdef FLASH_DROPOUT
                kept_bits[(tile_row + i) * COLUMN_TILES + t % COLUMN_TILES] = kept;
#endif
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
#ifdef FLASH_DROPOUT
            // A score tile's kept bits, read once for its SCORE_COLUMNS columns.
            uint kept[ROW_TILE];
#endif
            for (int c = 0; c < BLOCK_COLUMNS; c++) {
#ifdef FLASH_DROPOUT
                if (c % SCORE_COLUMNS == 0) {
                    for (int i = 0; i < ROW_TILE; i++) kept[i] = kept_bits[(output_row + i) * COLUMN_TILES + c / SCORE_COLUMNS];
                }
#endif
                float p[ROW_TILE];
                float v[OUTPUT_COLUMNS];
                for (int i = 0; i < ROW_TILE; i++) {
                    p[i] = maximum[i] > -INFINITY ? exp(scores[(output_row + i) * BLOCK_COLUMNS + c] - maximum[i]) : 0.0f;
                    total[i] += p[i];
#ifdef FLASH_DROPOUT
                    // The totals are of the undropped P; the output takes f P.
                    p[i] = (kept[i] >> (c % SCORE_COLUMNS)) & 1u ? p[i] * dropout_scale : 0.0f;
#endif
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

#ifdef OWN_ROWS
// Version 2 of the backward pass, register-tiled like the forward's version 2. Each kernel's
// group owns OWN_ROWS rows (queries for dQ, keys for dK and dV) and walks the other operand
// in blocks of OTHER_ROWS rows, both staged in local memory, with L and the row dots of the
// block's queries. Per block its work-items compute two products in ROW_TILE x SCORE_COLUMNS
// register tiles (own rows by other rows, a sum over D; each own value loaded from local
// memory serves SCORE_COLUMNS multiply-adds, each other value ROW_TILE): first f dP - D
// (dP = dO V^T, f the dropout's factor, 1 without it), then the scores, whose tiles turn them into P = exp(s - L) and leave dS =
// P (dP - D) in local memory. The gradients are ROW_TILE x OUTPUT_COLUMNS register tiles kept
// across the blocks (each weight loaded serves OUTPUT_COLUMNS multiply-adds, each operand
// value ROW_TILE): dQ = scale dS K, dV = P^T dO and dK = scale dS^T Q, the key/value kernel
// giving half its work-items a dV tile and half a dK tile. Two kernels, so that every gradient
// row has one writer (OpenCL 1.2 has no float atomics); the query kernel runs first and
// writes the row dots D = rowsum(dO O) that the key/value kernel reads.
// Build options: OWN_ROWS (a multiple of ROW_TILE), OTHER_ROWS (a multiple of
// SCORE_COLUMNS), OUTPUT_COLUMNS (divides HEAD_SIZE) and TILED_GROUP, at least the number of
// gradient tiles; the loops over product tiles and rows stride by it. Groups: (own blocks, B*H).
#ifndef ROW_TILE
#define ROW_TILE 8
#endif
#define OWN_TILES (OWN_ROWS / ROW_TILE)
#define PRODUCT_TILES (OWN_TILES * (OTHER_ROWS / SCORE_COLUMNS))
#define HEAD_TILES (HEAD_SIZE / OUTPUT_COLUMNS)

// Product tile `tile` of an own block [OWN_ROWS, D] and an other block [OTHER_ROWS, D]
// (own rows by other rows, summed over D); sets its first own row and other row.
inline void product_tile(__local const float *own, __local const float *other, const int tile, int *tile_row, int *tile_column,
                         float s[ROW_TILE][SCORE_COLUMNS]) {
    *tile_row = (tile / (OTHER_ROWS / SCORE_COLUMNS)) * ROW_TILE;
    *tile_column = (tile % (OTHER_ROWS / SCORE_COLUMNS)) * SCORE_COLUMNS;
    for (int i = 0; i < ROW_TILE; i++)
        for (int j = 0; j < SCORE_COLUMNS; j++) s[i][j] = 0.0f;
    for (int d = 0; d < HEAD_SIZE; d++) {
        float a[ROW_TILE];
        float b[SCORE_COLUMNS];
        for (int i = 0; i < ROW_TILE; i++) a[i] = own[(*tile_row + i) * HEAD_SIZE + d];
        for (int j = 0; j < SCORE_COLUMNS; j++) b[j] = other[(*tile_column + j) * HEAD_SIZE + d];
        for (int i = 0; i < ROW_TILE; i++)
            for (int j = 0; j < SCORE_COLUMNS; j++) s[i][j] += a[i] * b[j];
    }
}

// accumulator += weights[own rows, :] operand[:, head columns], a sum over the other block.
inline void accumulate_tile(__local const float *weights, __local const float *operand, const int output_row, const int output_column,
                            float accumulator[ROW_TILE][OUTPUT_COLUMNS]) {
    for (int c = 0; c < OTHER_ROWS; c++) {
        float w[ROW_TILE];
        float x[OUTPUT_COLUMNS];
        for (int i = 0; i < ROW_TILE; i++) w[i] = weights[(output_row + i) * OTHER_ROWS + c];
        for (int j = 0; j < OUTPUT_COLUMNS; j++) x[j] = operand[c * HEAD_SIZE + output_column + j];
        for (int i = 0; i < ROW_TILE; i++)
            for (int j = 0; j < OUTPUT_COLUMNS; j++) accumulator[i][j] += w[i] * x[j];
    }
}

// dQ for a block of OWN_ROWS queries over blocks of OTHER_ROWS keys; also writes the block's
// row dots D_i = rowsum(dO_i * O_i).
__kernel __attribute__((reqd_work_group_size(TILED_GROUP, 1, 1)))
void flash_attention_backward_query_tiled(__global const float *query, __global const float *key, __global const float *value,
                                          __global const float *bias, const int has_bias, __global const float *output,
                                          __global const float *log_sum_exp, __global const float *output_gradient,
                                          __global float *query_gradient, __global float *row_dots, const int tokens,
                                          const int heads, const float scale, DROPOUT_ARGUMENTS) {
    __local float query_block[OWN_ROWS * HEAD_SIZE];
    __local float gradient_block[OWN_ROWS * HEAD_SIZE];
    __local float key_block[OTHER_ROWS * HEAD_SIZE];
    __local float value_block[OTHER_ROWS * HEAD_SIZE];
    // dP - D, then dS.
    __local float products[OWN_ROWS * OTHER_ROWS];
    __local float row_lse[OWN_ROWS];
    __local float row_dot[OWN_ROWS];
    const int item = get_local_id(0);
    const int pair = get_group_id(1);
    const int first_row = get_group_id(0) * OWN_ROWS;
    const size_t base = (size_t)pair * tokens * HEAD_SIZE;
    __global const float *bias_block = bias + (size_t)(pair % heads) * tokens * tokens;
    load_block(query + base, query_block, first_row, OWN_ROWS, tokens, scale);
    load_block(output_gradient + base, gradient_block, first_row, OWN_ROWS, tokens, 1.0f);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int r = item; r < OWN_ROWS; r += TILED_GROUP) {
        const int row = first_row + r;
        float dot = 0.0f;
        if (row < tokens) {
            for (int d = 0; d < HEAD_SIZE; d++) dot += gradient_block[r * HEAD_SIZE + d] * output[base + (size_t)row * HEAD_SIZE + d];
            row_dots[(size_t)pair * tokens + row] = dot;
        }
        row_dot[r] = dot;
        // Rows past N get +inf, so their probabilities are 0 (as a fully masked row's).
        row_lse[r] = row < tokens ? log_sum_exp[(size_t)pair * tokens + row] : INFINITY;
    }
    const bool has_output = item < OWN_TILES * HEAD_TILES;
    const int output_row = (item / HEAD_TILES) * ROW_TILE;
    const int output_column = (item % HEAD_TILES) * OUTPUT_COLUMNS;
    float accumulator[ROW_TILE][OUTPUT_COLUMNS];
    for (int i = 0; i < ROW_TILE; i++)
        for (int j = 0; j < OUTPUT_COLUMNS; j++) accumulator[i][j] = 0.0f;

    for (int first_column = 0; first_column < tokens; first_column += OTHER_ROWS) {
        // The previous block's gradient tiles have read the keys and dS (and, before the
        // first block, the row dots and L are written).
        barrier(CLK_LOCAL_MEM_FENCE);
        load_block(key + base, key_block, first_column, OTHER_ROWS, tokens, 1.0f);
        load_block(value + base, value_block, first_column, OTHER_ROWS, tokens, 1.0f);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int t = item; t < PRODUCT_TILES; t += TILED_GROUP) {
            int tile_row, tile_column;
            float s[ROW_TILE][SCORE_COLUMNS];
            product_tile(gradient_block, value_block, t, &tile_row, &tile_column, s);
            for (int i = 0; i < ROW_TILE; i++) {
                const float dot = row_dot[tile_row + i];
                for (int j = 0; j < SCORE_COLUMNS; j++)
                    products[(tile_row + i) * OTHER_ROWS + tile_column + j] =
                        s[i][j] * DROPOUT_FACTOR(first_row + tile_row + i, first_column + tile_column + j) - dot;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int t = item; t < PRODUCT_TILES; t += TILED_GROUP) {
            int tile_row, tile_column;
            float s[ROW_TILE][SCORE_COLUMNS];
            product_tile(query_block, key_block, t, &tile_row, &tile_column, s);
            for (int i = 0; i < ROW_TILE; i++) {
                const int row = first_row + tile_row + i;
                const float lse = row_lse[tile_row + i];
                for (int j = 0; j < SCORE_COLUMNS; j++) {
                    const int column = first_column + tile_column + j;
                    // Keys past N, and every key of a row past N, take no weight.
                    float p = 0.0f;
                    if (row < tokens && column < tokens) p = exp(s[i][j] + (has_bias ? bias_block[(size_t)row * tokens + column] : 0.0f) - lse);
                    products[(tile_row + i) * OTHER_ROWS + tile_column + j] *= p;
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (has_output) accumulate_tile(products, key_block, output_row, output_column, accumulator);
    }
    if (has_output) {
        for (int i = 0; i < ROW_TILE; i++) {
            const int row = first_row + output_row + i;
            if (row >= tokens) break;
            for (int j = 0; j < OUTPUT_COLUMNS; j++)
                query_gradient[base + (size_t)row * HEAD_SIZE + output_column + j] = accumulator[i][j] * scale;
        }
    }
}

// dK and dV for a block of OWN_ROWS keys over blocks of OTHER_ROWS queries (the row dots
// from the query kernel).
__kernel __attribute__((reqd_work_group_size(TILED_GROUP, 1, 1)))
void flash_attention_backward_key_value_tiled(__global const float *query, __global const float *key, __global const float *value,
                                              __global const float *bias, const int has_bias, __global const float *log_sum_exp,
                                              __global const float *row_dots, __global const float *output_gradient,
                                              __global float *key_gradient, __global float *value_gradient, const int tokens,
                                              const int heads, const float scale, DROPOUT_ARGUMENTS) {
    __local float key_block[OWN_ROWS * HEAD_SIZE];
    __local float value_block[OWN_ROWS * HEAD_SIZE];
    __local float query_block[OTHER_ROWS * HEAD_SIZE];
    __local float gradient_block[OTHER_ROWS * HEAD_SIZE];
    // P^T, and dP^T - D then dS^T (keys by queries).
    __local float probabilities[OWN_ROWS * OTHER_ROWS];
    __local float products[OWN_ROWS * OTHER_ROWS];
    __local float column_lse[OTHER_ROWS];
    __local float column_dot[OTHER_ROWS];
    const int item = get_local_id(0);
    const int pair = get_group_id(1);
    const int first_row = get_group_id(0) * OWN_ROWS;
    const size_t base = (size_t)pair * tokens * HEAD_SIZE;
    __global const float *bias_block = bias + (size_t)(pair % heads) * tokens * tokens;
    load_block(key + base, key_block, first_row, OWN_ROWS, tokens, 1.0f);
    load_block(value + base, value_block, first_row, OWN_ROWS, tokens, 1.0f);
    // Work-items [0, tiles) own a dV tile, [tiles, 2 tiles) a dK tile.
    const int tiles = OWN_TILES * HEAD_TILES;
    const bool has_output = item < 2 * tiles;
    const bool key_output = item >= tiles;
    const int tile = key_output ? item - tiles : item;
    const int output_row = (tile / HEAD_TILES) * ROW_TILE;
    const int output_column = (tile % HEAD_TILES) * OUTPUT_COLUMNS;
    __local const float *weights = key_output ? products : probabilities;
    // Q is staged times the scale, so dS^T (scale Q) is dK.
    __local const float *operand = key_output ? query_block : gradient_block;
    float accumulator[ROW_TILE][OUTPUT_COLUMNS];
    for (int i = 0; i < ROW_TILE; i++)
        for (int j = 0; j < OUTPUT_COLUMNS; j++) accumulator[i][j] = 0.0f;

    for (int first_column = 0; first_column < tokens; first_column += OTHER_ROWS) {
        // The previous block's gradient tiles have read the queries, dO, P and dS.
        barrier(CLK_LOCAL_MEM_FENCE);
        load_block(query + base, query_block, first_column, OTHER_ROWS, tokens, scale);
        load_block(output_gradient + base, gradient_block, first_column, OTHER_ROWS, tokens, 1.0f);
        for (int c = item; c < OTHER_ROWS; c += TILED_GROUP) {
            const int column = first_column + c;
            // Queries past N get +inf, so their probabilities are 0.
            column_lse[c] = column < tokens ? log_sum_exp[(size_t)pair * tokens + column] : INFINITY;
            column_dot[c] = column < tokens ? row_dots[(size_t)pair * tokens + column] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int t = item; t < PRODUCT_TILES; t += TILED_GROUP) {
            int tile_row, tile_column;
            float s[ROW_TILE][SCORE_COLUMNS];
            product_tile(value_block, gradient_block, t, &tile_row, &tile_column, s);
            float dot[SCORE_COLUMNS];
            for (int j = 0; j < SCORE_COLUMNS; j++) dot[j] = column_dot[tile_column + j];
            for (int i = 0; i < ROW_TILE; i++)
                for (int j = 0; j < SCORE_COLUMNS; j++) {
                    const int index = (tile_row + i) * OTHER_ROWS + tile_column + j;
                    // Key row, query column.
                    products[index] = s[i][j] * DROPOUT_FACTOR(first_column + tile_column + j, first_row + tile_row + i) - dot[j];
                }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int t = item; t < PRODUCT_TILES; t += TILED_GROUP) {
            int tile_row, tile_column;
            float s[ROW_TILE][SCORE_COLUMNS];
            product_tile(key_block, query_block, t, &tile_row, &tile_column, s);
            float lse[SCORE_COLUMNS];
            for (int j = 0; j < SCORE_COLUMNS; j++) lse[j] = column_lse[tile_column + j];
            for (int i = 0; i < ROW_TILE; i++) {
                const int row = first_row + tile_row + i;
                for (int j = 0; j < SCORE_COLUMNS; j++) {
                    const int column = first_column + tile_column + j;
                    // Queries past N, and every query of a key past N, take no weight.
                    float p = 0.0f;
                    if (row < tokens && column < tokens)
                        p = exp(s[i][j] + (has_bias ? bias_block[(size_t)column * tokens + row] : 0.0f) - lse[j]);
                    const int index = (tile_row + i) * OTHER_ROWS + tile_column + j;
                    // The factor drawn again, which costs arithmetic rather than a load.
                    probabilities[index] = p * DROPOUT_FACTOR(column, row);
                    products[index] *= p;
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (has_output) accumulate_tile(weights, operand, output_row, output_column, accumulator);
    }
    if (has_output) {
        __global float *gradient = key_output ? key_gradient : value_gradient;
        for (int i = 0; i < ROW_TILE; i++) {
            const int row = first_row + output_row + i;
            if (row >= tokens) break;
            for (int j = 0; j < OUTPUT_COLUMNS; j++) gradient[base + (size_t)row * HEAD_SIZE + output_column + j] = accumulator[i][j];
        }
    }
}
#endif
