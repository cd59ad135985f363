/// Kernels of the feature maps phi that turn softmax attention into linear attention
/// (`LinearAttentionKernels`): Performer's positive random features (FAVOR+) and
/// Katharopoulos et al.'s elu + 1.
///
/// Legend: `rows` = B H N (every token of every head), M random features, D head dim.
public protocol FeatureMapKernels {
    /// FAVOR+ positive random features from the projections `p = scale x W^T` [rows, M] of the
    /// inputs `x` [rows, D] onto M random directions W:
    /// `phi[r, m] = exp(p[r, m] - scale^2 |x_r|^2 / 2 - stabilizer) / sqrt(M)`.
    /// The stabilizer is the largest exponent `p[r, m] - scale^2 |x_r|^2 / 2` over each block of
    /// `blockRows` consecutive rows (1: per query row; N: per head's key matrix), so the largest
    /// feature of a block is exactly 1 / sqrt(M) and nothing overflows. `rows` is a multiple of
    /// `blockRows`.
    func favorFeaturesForward(
        projection: DeviceStorage, input: DeviceStorage, output: DeviceStorage, rows: Int, features: Int, inputSize: Int,
        scale: Float, blockRows: Int
    ) throws
    /// Gradients of `favorFeaturesForward` with the stabilizer held constant (it cancels in
    /// linear attention's quotient): `dp = dphi * phi` [rows, M] and the part of dx that comes
    /// from the norm term, `dx = -scale^2 x sum_m(dphi * phi)` [rows, D]. The part through p is a GEMM.
    func favorFeaturesBackward(
        output: DeviceStorage, outputGradient: DeviceStorage, input: DeviceStorage, projectionGradient: DeviceStorage,
        inputGradient: DeviceStorage, rows: Int, features: Int, inputSize: Int, scale: Float
    ) throws

    /// `elu(x) + 1` element by element: `x + 1` for x > 0, else `exp(x)` (positive everywhere).
    func eluFeaturesForward(_ input: DeviceStorage, output: DeviceStorage, count: Int) throws
    /// Gradient of `elu(x) + 1`: `dy` for x > 0, else `dy exp(x)`.
    func eluFeaturesBackward(_ input: DeviceStorage, outputGradient: DeviceStorage, inputGradient: DeviceStorage, count: Int) throws
}
