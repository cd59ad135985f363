import COpenCL
import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The linear_attention family: Kernels/linear_attention.cl, its checks and its benchmark rows.
    enum LinearAttention: KernelFamilyDeclaration {
        static let name = "linear_attention"

        /// Linear attention forward and backward (Kernels/linear_attention.cl and the GEMMs
        /// between its kernels) at (B H, N, M, D): odd sizes, the seed ViT with Performer's
        /// default M = int(D ln D) (256 images x 4 heads, N 65, M 29, D 12) and ViT-B/16's heads
        /// (8 x 12, N 197, M 266, D 64).
        ///
        /// Tolerances: features in [0, 1) and values and output gradients in [-1, 1]. Each GEMM
        /// sums up to L = max(N, M) terms in another order than OpenBLAS (error like sqrt(L) u
        /// times the sum of |terms|), and the output is a quotient by a sum of positive terms
        /// that bounds those sums, so the absolute part grows like sqrt(L) u; quotients and the
        /// gradients' products add a few u relative.
        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            let sizes: [(batch: Int, tokens: Int, features: Int, headSize: Int)] = scope.sizes(
                [(1, 1, 1, 1), (3, 7, 33, 16), (2, 129, 7, 33)], large: [(256 * 4, 65, 29, 12), (8 * 12, 197, 266, 64)])
            return sizes.map { batch, tokens, features, headSize in
                let longest = Float(max(tokens, features))
                return KernelCheck(
                    kernel: "linear_attention", size: "\(batch)x\(tokens)x\(features)x\(headSize)",
                    absoluteTolerance: 1e-6 * longest.squareRoot() * 8, relativeTolerance: 1e-4
                ) { backend in
                    let (featureCount, valueCount) = (batch * tokens * features, batch * tokens * headSize)
                    let queryFeatures = try upload(values(featureCount, seed: 45, scale: 0.5, shift: 0.5), to: backend)
                    let keyFeatures = try upload(values(featureCount, seed: 46, scale: 0.5, shift: 0.5), to: backend)
                    let value = try upload(values(valueCount, seed: 47), to: backend)
                    let outputGradient = try upload(values(valueCount, seed: 48), to: backend)
                    let output = try backend.allocate(count: valueCount)
                    let state = try backend.allocate(count: batch * features * (headSize + 1))
                    let denominator = try backend.allocate(count: batch * tokens)
                    try backend.kernels(LinearAttentionKernels.self).linearAttentionForward(
                        queryFeatures: queryFeatures, keyFeatures: keyFeatures, value: value, output: output, state: state,
                        denominator: denominator, batch: batch, tokens: tokens, features: features, headSize: headSize,
                        epsilon: 1e-6)
                    let gradients = try [featureCount, featureCount, valueCount].map { try backend.allocate(count: $0) }
                    try backend.kernels(LinearAttentionKernels.self).linearAttentionBackward(
                        outputGradient: outputGradient, output: output, state: state, denominator: denominator,
                        queryFeatures: queryFeatures, keyFeatures: keyFeatures, value: value,
                        queryFeaturesGradient: gradients[0], keyFeaturesGradient: gradients[1], valueGradient: gradients[2],
                        batch: batch, tokens: tokens, features: features, headSize: headSize)
                    return [
                        try download(output, valueCount, from: backend), try download(denominator, batch * tokens, from: backend),
                        try download(gradients[0], featureCount, from: backend), try download(gradients[1], featureCount, from: backend),
                        try download(gradients[2], valueCount, from: backend),
                    ]
                }
            }
        }
    }
}

/// The element-wise parts of linear attention (Kernels/linear_attention.cl); its products
/// are CLBlast GEMMs, composed in `Backend.linearAttentionForward`.
extension OpenCLBackend: LinearAttentionKernels {
    public func linearAttentionAppendOnes(_ value: DeviceStorage, output: DeviceStorage, rows: Int, headSize: Int) throws {
        try launch(
            "linear_attention", "append_ones_forward", global: [headSize + 1, rows],
            [.buffer(value), .buffer(output), .int(rows), .int(headSize)])
    }

    public func linearAttentionNormalizeForward(
        numerator: DeviceStorage, output: DeviceStorage, denominator: DeviceStorage, rows: Int, headSize: Int, epsilon: Float
    ) throws {
        try launch(
            "linear_attention", "linear_attention_forward", global: [headSize, rows],
            [.buffer(numerator), .buffer(output), .buffer(denominator), .int(rows), .int(headSize), .float(epsilon)])
    }

    public func linearAttentionNormalizeBackward(
        outputGradient: DeviceStorage, output: DeviceStorage, denominator: DeviceStorage, numeratorGradient: DeviceStorage,
        rows: Int, headSize: Int
    ) throws {
        let group = rowGroupSize(columns: headSize)
        try launch(
            "linear_attention", "linear_attention_backward", global: [rows * group], local: [group],
            [
                .buffer(outputGradient), .buffer(output), .buffer(denominator), .buffer(numeratorGradient), .int(headSize),
                .local(floats: group),
            ])
    }
}
