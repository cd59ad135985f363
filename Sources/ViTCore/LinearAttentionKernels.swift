/// Kernels of linear attention, shared by Performer and elu + 1 linear attention:
/// `S = phi(K)^T V` (M x D per head), `z = phi(K)^T 1`, `out = phi(Q) S / (phi(Q) z + epsilon)`.
///
/// Legend: `batch` = B H head matrices, N tokens, M features, D head dim; `rows` = B H N.
///
/// Appending a column of ones to V turns S and z into one product, `[S, z] = phi(K)^T [V, 1]`
/// (M x (D + 1)), and the numerator and denominator into another, `phi(Q) [S, z]`
/// (N x (D + 1)): both are GEMMs, and the kernels here do the rest. Time and memory are
/// linear in N.
public protocol LinearAttentionKernels {
    /// Values [rows, D] with a column of ones appended: [rows, D + 1].
    func linearAttentionAppendOnes(_ value: DeviceStorage, output: DeviceStorage, rows: Int, headSize: Int) throws
    /// `out[r, d] = numerator[r, d] / denominator[r]` with `denominator[r] = numerator[r, D] + epsilon`,
    /// for `numerator = phi(Q) [S, z]` [rows, D + 1]; saves the denominators [rows] for the backward pass.
    func linearAttentionNormalizeForward(
        numerator: DeviceStorage, output: DeviceStorage, denominator: DeviceStorage, rows: Int, headSize: Int, epsilon: Float
    ) throws
    /// The numerator's gradient [rows, D + 1] from the output's: `dout / denominator` in the first D
    /// columns, `-sum_d(dout * out) / denominator` in the last.
    func linearAttentionNormalizeBackward(
        outputGradient: DeviceStorage, output: DeviceStorage, denominator: DeviceStorage, numeratorGradient: DeviceStorage,
        rows: Int, headSize: Int
    ) throws
}

extension Backend {
    /// Linear attention's forward pass: `output` [batch, N, D], and for the backward pass the
    /// state `[S, z]` [batch, M, D + 1] and the denominators [batch, N].
    public func linearAttentionForward(
        queryFeatures: DeviceStorage, keyFeatures: DeviceStorage, value: DeviceStorage, output: DeviceStorage,
        state: DeviceStorage, denominator: DeviceStorage, batch: Int, tokens: Int, features: Int, headSize: Int, epsilon: Float
    ) throws {
        let (n, m, augmented) = (tokens, features, headSize + 1)
        let values = try allocate(count: batch * n * augmented)
        try linearAttentionAppendOnes(value, output: values, rows: batch * n, headSize: headSize)
        // [S, z] = phi(K)^T [V, 1], then the numerator phi(Q) [S, z].
        try gemm(
            GemmDescriptor(
                transposeA: true, transposeB: false, m: m, n: augmented, k: n, batchCount: batch,
                strideA: n * m, strideB: n * augmented, strideC: m * augmented), a: keyFeatures, b: values, c: state)
        let numerator = try allocate(count: batch * n * augmented)
        try gemm(
            GemmDescriptor(
                transposeA: false, transposeB: false, m: n, n: augmented, k: m, batchCount: batch,
                strideA: n * m, strideB: m * augmented, strideC: n * augmented), a: queryFeatures, b: state, c: numerator)
        try linearAttentionNormalizeForward(
            numerator: numerator, output: output, denominator: denominator, rows: batch * n,
            headSize: headSize, epsilon: epsilon)
    }

    /// Linear attention's backward pass from the forward pass's output, state and denominators:
    /// the gradients of the query features, key features [batch, N, M] and values [batch, N, D].
    public func linearAttentionBackward(
        outputGradient: DeviceStorage, output: DeviceStorage, state: DeviceStorage, denominator: DeviceStorage,
        queryFeatures: DeviceStorage, keyFeatures: DeviceStorage, value: DeviceStorage,
        queryFeaturesGradient: DeviceStorage, keyFeaturesGradient: DeviceStorage, valueGradient: DeviceStorage,
        batch: Int, tokens: Int, features: Int, headSize: Int
    ) throws {
        let (n, m, augmented) = (tokens, features, headSize + 1)
        let numeratorGradient = try allocate(count: batch * n * augmented)
        try linearAttentionNormalizeBackward(
            outputGradient: outputGradient, output: output, denominator: denominator,
            numeratorGradient: numeratorGradient, rows: batch * n, headSize: headSize)
        // d phi(Q) = d numerator [S, z]^T; d[S, z] = phi(Q)^T d numerator.
        try gemm(
            GemmDescriptor(
                transposeA: false, transposeB: true, m: n, n: m, k: augmented, batchCount: batch,
                strideA: n * augmented, strideB: m * augmented, strideC: n * m),
            a: numeratorGradient, b: state, c: queryFeaturesGradient)
        let stateGradient = try allocate(count: batch * m * augmented)
        try gemm(
            GemmDescriptor(
                transposeA: true, transposeB: false, m: m, n: augmented, k: n, batchCount: batch,
                strideA: n * m, strideB: n * augmented, strideC: m * augmented),
            a: queryFeatures, b: numeratorGradient, c: stateGradient)
        // d phi(K) = [V, 1] d[S, z]^T; d[V, 1] = phi(K) d[S, z], whose last column is dropped.
        let values = try allocate(count: batch * n * augmented)
        try linearAttentionAppendOnes(value, output: values, rows: batch * n, headSize: headSize)
        try gemm(
            GemmDescriptor(
                transposeA: false, transposeB: true, m: n, n: m, k: augmented, batchCount: batch,
                strideA: n * augmented, strideB: m * augmented, strideC: n * m),
            a: values, b: stateGradient, c: keyFeaturesGradient)
        let valuesGradient = try allocate(count: batch * n * augmented)
        try gemm(
            GemmDescriptor(
                transposeA: false, transposeB: false, m: n, n: augmented, k: m, batchCount: batch,
                strideA: n * m, strideB: m * augmented, strideC: n * augmented),
            a: keyFeatures, b: stateGradient, c: valuesGradient)
        try copyBlocks(
            from: valuesGradient, offset: 0, stride: augmented, to: valueGradient, offset: 0, stride: headSize,
            length: headSize, count: batch * n)
    }
}
