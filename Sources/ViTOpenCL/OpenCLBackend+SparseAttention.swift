import ViTCore

/// Sparse masked attention (Kernels/sparse_attention.cl): one work-item per query row for the
/// forward pass and dQ, one per key column for dK and dV. The head size is a build option
/// (it sizes the private accumulators), so each head size builds the family once.
extension OpenCLBackend {
    private func sparseOptions(_ headSize: Int) -> String { "-DHEAD_SIZE=\(headSize)" }

    public func sparseAttentionForward(
        query: DeviceStorage, key: DeviceStorage, value: DeviceStorage, output: DeviceStorage, logSumExp: DeviceStorage,
        index: SparseAttentionIndex, batch: Int, headSize: Int, scale: Float, mode: SparseAttentionMaskMode
    ) throws {
        let (tokens, heads) = (index.tokens, index.heads)
        let rows = batch * heads * tokens
        // Zero mode: the masked keys' values are V_all minus the kept keys' values.
        let valueTotals = try allocate(count: batch * heads * headSize)
        if mode == .zero { try sum(value, output: valueTotals, outer: batch * heads, axis: tokens, inner: headSize) }
        try launch(
            "sparse_attention", "sparse_attention_forward", global: [rows], options: sparseOptions(headSize),
            [
                .buffer(query), .buffer(key), .buffer(value), .buffer(valueTotals), .buffer(output), .buffer(logSumExp),
                .buffer(index.storage), .int(0), .int(index.columnIndicesStart),
                .int(rows), .int(heads), .int(tokens), .float(scale), .int(mode == .zero ? 1 : 0),
            ])
    }

    public func sparseAttentionBackward(
        query: DeviceStorage, key: DeviceStorage, value: DeviceStorage, output: DeviceStorage, logSumExp: DeviceStorage,
        outputGradient: DeviceStorage, queryGradient: DeviceStorage, keyGradient: DeviceStorage, valueGradient: DeviceStorage,
        index: SparseAttentionIndex, batch: Int, headSize: Int, scale: Float, mode: SparseAttentionMaskMode
    ) throws {
        let (tokens, heads) = (index.tokens, index.heads)
        let rows = batch * heads * tokens
        let options = sparseOptions(headSize)
        let (delta, masked, totals) = (try allocate(count: rows), try allocate(count: rows), try allocate(count: batch * heads * headSize))
        try launch(
            "sparse_attention", "sparse_attention_backward", global: [rows], options: options,
            [
                .buffer(query), .buffer(key), .buffer(value), .buffer(output), .buffer(logSumExp), .buffer(outputGradient),
                .buffer(queryGradient), .buffer(delta), .buffer(masked),
                .buffer(index.storage), .int(0), .int(index.columnIndicesStart),
                .int(rows), .int(heads), .int(tokens), .float(scale), .int(mode == .zero ? 1 : 0),
            ])
        try launch(
            "sparse_attention", "sparse_attention_complement_backward", global: [batch * heads * headSize], options: options,
            [
                .buffer(outputGradient), .buffer(masked), .buffer(totals), .int(batch * heads), .int(tokens),
            ])
        try launch(
            "sparse_attention", "sparse_attention_columns_backward", global: [rows], options: options,
            [
                .buffer(query), .buffer(key), .buffer(value), .buffer(logSumExp), .buffer(outputGradient), .buffer(delta),
                .buffer(masked), .buffer(totals), .buffer(keyGradient), .buffer(valueGradient),
                .buffer(index.storage), .int(index.columnOffsetsStart), .int(index.rowIndicesStart),
                .int(rows), .int(heads), .int(tokens), .float(scale),
            ])
    }
}
