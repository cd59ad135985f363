/// Kernels of linear attention, shared by Performer and elu + 1 linear attention:
/// `S = phi(K)^T V` (M x D per head), `z = phi(K)^T 1`, `out = phi(Q) S / (phi(Q) z + epsilon)`.
///
/// Legend: `batch` = B H head matrices, N tokens, M features, D head dim; `rows` = B H N.
///
/// Appending a column of ones to V turns S and z into one product, `[S, z] = phi(K)^T [V, 1]`
/// (M x (D + 1)), and the numerator and denominator into another, `phi(Q) [S, z]`
/// (N x (D + 1)): both are GEMMs, and the kernels here do the rest. Time and memory are
/// linear in N.
public protocol LinearAttentionKernels: Backend {
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

extension LinearAttentionKernels {
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
            .batched(transposeA: true, transposeB: false, m: m, n: augmented, k: n, batchCount: batch), a: keyFeatures, b: values, c: state)
        let numerator = try allocate(count: batch * n * augmented)
        try gemm(
            .batched(transposeA: false, transposeB: false, m: n, n: augmented, k: m, batchCount: batch), a: queryFeatures, b: state, c: numerator)
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
            .batched(transposeA: false, transposeB: true, m: n, n: m, k: augmented, batchCount: batch), a: numeratorGradient, b: state,
            c: queryFeaturesGradient)
        let stateGradient = try allocate(count: batch * m * augmented)
        try gemm(
            .batched(transposeA: true, transposeB: false, m: m, n: augmented, k: n, batchCount: batch), a: queryFeatures, b: numeratorGradient,
            c: stateGradient)
        // d phi(K) = [V, 1] d[S, z]^T; d[V, 1] = phi(K) d[S, z], whose last column is dropped.
        let values = try allocate(count: batch * n * augmented)
        try linearAttentionAppendOnes(value, output: values, rows: batch * n, headSize: headSize)
        try gemm(
            .batched(transposeA: false, transposeB: true, m: n, n: m, k: augmented, batchCount: batch), a: values, b: stateGradient,
            c: keyFeaturesGradient)
        let valuesGradient = try allocate(count: batch * n * augmented)
        try gemm(
            .batched(transposeA: false, transposeB: false, m: n, n: augmented, k: m, batchCount: batch), a: keyFeatures, b: stateGradient,
            c: valuesGradient)
        try copyBlocks(
            from: valuesGradient, offset: 0, stride: augmented, to: valueGradient, offset: 0, stride: headSize,
            length: headSize, count: batch * n)
    }
}

/// Linear attention on per-head features and values (see `LinearAttentionKernels`):
/// `phi(Q) (phi(K)^T V) / (phi(Q) phi(K)^T 1 + epsilon)`, with `queryFeatures` and
/// `keyFeatures` [..., N, M] (positive) and `value` [..., N, D]. Result: [..., N, D].
/// Time and memory are linear in N: no N x N matrix is formed.
public func linearAttention(queryFeatures: Tensor, keyFeatures: Tensor, value: Tensor, epsilon: Float) throws -> Tensor {
    let backend = try Tensor.commonBackend("linearAttention", queryFeatures, keyFeatures, value)
    try Tensor.requireSameShape("linearAttention", queryFeatures, keyFeatures)
    try value.requireRank(atLeast: 2, "linearAttention")
    let leading = Array(value.shape.dimensions.dropLast())
    guard Array(queryFeatures.shape.dimensions.dropLast()) == leading else {
        throw ViTError.shapeMismatch(
            operation: "linearAttention", detail: "features \(queryFeatures.shape) and values \(value.shape) differ before the last axis")
    }
    guard epsilon >= 0 else {
        throw ViTError.invalidArgument(operation: "linearAttention", detail: "epsilon must not be negative, got \(epsilon)")
    }
    let (tokens, features, headSize) = (value.shape[-2], queryFeatures.shape.last, value.shape.last)
    let batch = leading.dropLast().reduce(1, *)
    let output = try value.emptyLike()
    let state = try Tensor.empty([batch, features, headSize + 1], on: backend)
    let denominator = try Tensor.empty([batch, tokens], on: backend)
    try backend.kernels(LinearAttentionKernels.self).linearAttentionForward(
        queryFeatures: queryFeatures.storage, keyFeatures: keyFeatures.storage, value: value.storage,
        output: output.storage, state: state.storage, denominator: denominator.storage, batch: batch,
        tokens: tokens, features: features, headSize: headSize, epsilon: epsilon)
    let outputStorage = output.storage
    return output.recording([queryFeatures, keyFeatures, value]) { gradient in
        let gradients = try [queryFeatures.emptyLike(), keyFeatures.emptyLike(), value.emptyLike()]
        try backend.kernels(LinearAttentionKernels.self).linearAttentionBackward(
            outputGradient: gradient.storage, output: outputStorage, state: state.storage,
            denominator: denominator.storage, queryFeatures: queryFeatures.storage,
            keyFeatures: keyFeatures.storage, value: value.storage,
            queryFeaturesGradient: gradients[0].storage, keyFeaturesGradient: gradients[1].storage,
            valueGradient: gradients[2].storage, batch: batch, tokens: tokens, features: features, headSize: headSize)
        return gradients
    }
}
