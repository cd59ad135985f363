// Muon's update besides its GEMMs (Sources/ViTTraining/Optimizer.swift): every block
// matrix's momentum and Nesterov direction in one launch, the matrix polynomial of each
// Newton-Schulz step, and the update from the orthogonalised directions in one launch.
// Legend: `table` holds 6 ints per matrix (MuonMatrixTable): offset into the parameter,
// gradient and momentum arenas, rows, columns, offset of its slot in the work buffer, the
// update's scale (float bits), decayed (0 or 1). A slot holds the matrix tall: element (r, c)
// at r * columns + c when rows >= columns, else at c * rows + r (the transpose).
// The per-matrix launches run work-items over (element, matrix). CPU counterpart:
// CPUBackend+Muon.swift.

// The table entry of matrix m when its element e exists, else 0: work-items past the
// matrix (launches run over the largest one) or past the table return.
inline __global const int *matrix_entry(__global const int *table, const int matrices, const int e, const int m) {
    if (m >= matrices) return 0;
    __global const int *entry = table + 6 * m;
    return e < entry[1] * entry[2] ? entry : 0;
}

// Where element e of an entry's matrix lies in the work buffer (its tall slot).
inline size_t slot_index(__global const int *entry, const int e) {
    const int rows = entry[1];
    const int columns = entry[2];
    const int r = e / columns;
    return (size_t)entry[3] + (rows >= columns ? e : (e - r * columns) * rows + r);
}

// buffer = momentum buffer + g; slot = g + momentum buffer (torch's Nesterov form).
__kernel void muon_momentum(__global const float *gradient, __global float *buffer, __global float *work,
                            __global const int *table, const int matrices, const float momentum) {
    const int e = get_global_id(0);
    __global const int *entry = matrix_entry(table, matrices, e, get_global_id(1));
    if (!entry) return;
    const size_t i = (size_t)entry[0] + e;
    const float g = gradient[i];
    const float updated = momentum * buffer[i] + g;
    buffer[i] = updated;
    work[slot_index(entry, e)] = g + momentum * updated;
}

// polynomial = f (a I + b H + c H H), H = f^2 G, f = 1 / (sqrt(trace G) + epsilon) when
// normalising, else 1. Work-items over (element of the side x side output, matrix).
__kernel void newton_schulz_polynomial(__global const float *gram, __global float *polynomial, const int matrices,
                                       const int side, const float a, const float b, const float c,
                                       const int normalize, const float epsilon) {
    const int e = get_global_id(0);
    const int m = get_global_id(1);
    if (m >= matrices || e >= side * side) return;
    __global const float *g = gram + (size_t)m * side * side;
    const int i = e / side;
    const int j = e - i * side;
    float f = 1.0f;
    if (normalize) {
        float trace = 0.0f;
        for (int k = 0; k < side; k++) trace += g[k * side + k];
        f = 1.0f / (sqrt(trace) + epsilon);
    }
    float product = 0.0f;
    for (int k = 0; k < side; k++) product += g[i * side + k] * g[k * side + j];
    const float squared = f * f;
    const float value = b * (squared * g[e]) + c * (squared * squared * product) + (i == j ? a : 0.0f);
    polynomial[(size_t)m * side * side + e] = f * value;
}

// p = p (1 - lr wd) - lr scale o, o the matrix's orthogonalised slot.
__kernel void muon_update(__global float *parameter, __global const float *work, __global const int *table,
                          const int matrices, const float learning_rate, const float weight_decay) {
    const int e = get_global_id(0);
    __global const int *entry = matrix_entry(table, matrices, e, get_global_id(1));
    if (!entry) return;
    const size_t i = (size_t)entry[0] + e;
    const float decay = entry[5] ? 1.0f - learning_rate * weight_decay : 1.0f;
    const float step = learning_rate * as_float(entry[4]);
    parameter[i] = parameter[i] * decay - step * work[slot_index(entry, e)];
}
