import Foundation

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

/// Which rows share FAVOR+'s stabilizer (see `FeatureMapKernels.favorFeaturesForward`).
public enum FavorStabilizer: Sendable {
    /// One per row: for queries, where it cancels in each output row's quotient.
    case perRow
    /// One per matrix of the last two axes (one head's keys): it cancels in every quotient.
    case perMatrix
}

extension Tensor {
    /// FAVOR+ positive random features of the softmax kernel exp(q.k / sqrt(D)) for the rows of
    /// this tensor [..., N, D], with random directions `projections` [M, D]:
    /// `phi(x) = exp(w.x' - |x'|^2 / 2 - stabilizer) / sqrt(M)` for `x' = x / D^(1/4)`, so that
    /// `E[phi(q).phi(k)] = exp(q.k / sqrt(D))` up to the stabilizers, which are detached from
    /// the gradient (they cancel in linear attention). Result: [..., N, M].
    public func favorFeatures(projections: Tensor, stabilizer: FavorStabilizer) throws -> Tensor {
        try requireRank(atLeast: 2, "favorFeatures")
        let inputSize = shape.last
        guard projections.shape.rank == 2, projections.shape[1] == inputSize else {
            throw ViTError.shapeMismatch(
                operation: "favorFeatures", detail: "projections \(projections.shape) must be [features, \(inputSize)] for input \(shape)")
        }
        let features = projections.shape[0]
        let scale = 1 / Foundation.pow(Float(inputSize), 0.25)
        let projection = try matmul(self, projections, transposeB: true, alpha: scale)
        let rows = shape.rowCount
        let blockRows = stabilizer == .perRow ? 1 : shape[-2]
        let output = try projection.emptyLike()
        try backend.kernels(FeatureMapKernels.self).favorFeaturesForward(
            projection: projection.storage, input: storage, output: output.storage, rows: rows, features: features,
            inputSize: inputSize, scale: scale, blockRows: blockRows)
        let featureStorage = output.storage
        return output.recording([projection, self]) { gradient in
            let projectionGradient = try projection.emptyLike()
            let inputGradient = try self.emptyLike()
            try self.backend.kernels(FeatureMapKernels.self).favorFeaturesBackward(
                output: featureStorage, outputGradient: gradient.storage, input: self.storage,
                projectionGradient: projectionGradient.storage, inputGradient: inputGradient.storage,
                rows: rows, features: features, inputSize: inputSize, scale: scale)
            return [projectionGradient, inputGradient]
        }
    }

    /// `elu(x) + 1`, element by element: the feature map of Katharopoulos et al.'s linear attention.
    public func eluFeatures() throws -> Tensor {
        let output = try emptyLike()
        try backend.kernels(FeatureMapKernels.self).eluFeaturesForward(storage, output: output.storage, count: elementCount)
        return output.recording([self]) { gradient in
            let inputGradient = try self.emptyLike()
            try self.backend.kernels(FeatureMapKernels.self).eluFeaturesBackward(
                self.storage, outputGradient: gradient.storage, inputGradient: inputGradient.storage, count: self.elementCount)
            return [inputGradient]
        }
    }
}
