import COpenCL
import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The feature_map family: Kernels/feature_map.cl, its checks and its benchmark rows.
    enum FeatureMaps: KernelFamilyDeclaration {
        static let name = "feature_map"

        /// FAVOR+ and elu + 1 feature maps (Kernels/feature_map.cl). FAVOR+ sizes are (rows, M, D,
        /// rows per stabilizer block): per-row blocks are queries, blocks of N rows a head's keys;
        /// the seed ViT (D 12, M = int(D ln D) = 29, N 65, 256 images x 4 heads) and ViT-B/16's
        /// heads (D 64, M 266, N 197, 8 images x 12 heads).
        ///
        /// Tolerances: the exponents are computed in the same order on both backends, so the
        /// features differ by exp's error (OpenCL allows 3 ulp): 1e-5 relative. The backward pass
        /// sums M products dphi * phi (each below 1 / sqrt(M)) in another order: the absolute part
        /// grows like sqrt(M) u, as for the other row reductions.
        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            var checks: [KernelCheck] = []
            let favorSizes: [(rows: Int, features: Int, inputSize: Int, blockRows: Int)] = scope.sizes(
                [(1, 1, 1, 1), (7, 33, 16, 1), (7, 33, 16, 7), (2 * 129, 65, 33, 129)],
                large: [(256 * 4 * 65, 29, 12, 1), (256 * 4 * 65, 29, 12, 65), (8 * 12 * 197, 266, 64, 1), (8 * 12 * 197, 266, 64, 197)])
            for (rows, features, inputSize, blockRows) in favorSizes {
                let size = "\(rows)x\(features)x\(inputSize) block \(blockRows)"
                checks.append(
                    KernelCheck(
                        kernel: "favor", size: size, absoluteTolerance: 1e-6 * Float(features).squareRoot() * 8,
                        relativeTolerance: 1e-5
                    ) { backend in
                        let projection = try upload(values(rows * features, seed: 40, scale: 3), to: backend)
                        let input = try upload(values(rows * inputSize, seed: 41), to: backend)
                        let gradient = try upload(values(rows * features, seed: 42), to: backend)
                        let scale = 1 / Foundation.pow(Float(inputSize), 0.25)
                        let output = try backend.allocate(count: rows * features)
                        try backend.kernels(FeatureMapKernels.self).favorFeaturesForward(
                            projection: projection, input: input, output: output, rows: rows, features: features,
                            inputSize: inputSize, scale: scale, blockRows: blockRows)
                        let (projectionGradient, inputGradient) = (
                            try backend.allocate(count: rows * features), try backend.allocate(count: rows * inputSize)
                        )
                        try backend.kernels(FeatureMapKernels.self).favorFeaturesBackward(
                            output: output, outputGradient: gradient, input: input, projectionGradient: projectionGradient,
                            inputGradient: inputGradient, rows: rows, features: features, inputSize: inputSize, scale: scale)
                        return [
                            try download(output, rows * features, from: backend), try download(projectionGradient, rows * features, from: backend),
                            try download(inputGradient, rows * inputSize, from: backend),
                        ]
                    })
            }
            for count in scope.sizes(oddCounts, large: vitCounts) {
                checks.append(
                    pointwiseCheck(
                        "elu_features", count: count, seed: 43,
                        forward: { try $0.kernels(FeatureMapKernels.self).eluFeaturesForward($1, output: $2, count: count) },
                        backward: {
                            try $0.kernels(FeatureMapKernels.self).eluFeaturesBackward($1, outputGradient: $2, inputGradient: $3, count: count)
                        }))
            }
            return checks
        }
    }
}

/// The feature maps of linear attention (Kernels/feature_map.cl).
extension OpenCLBackend: FeatureMapKernels {
    public func favorFeaturesForward(
        projection: DeviceStorage, input: DeviceStorage, output: DeviceStorage, rows: Int, features: Int, inputSize: Int,
        scale: Float, blockRows: Int
    ) throws {
        let norms = try allocate(count: rows)
        try launch(
            "feature_map", "favor_norms_forward", global: [rows],
            [.buffer(input), .buffer(norms), .int(rows), .int(inputSize), .float(scale * scale / 2)])
        let group = rowGroupSize(columns: blockRows * features)
        try launch(
            "feature_map", "favor_forward", global: [rows / max(blockRows, 1) * group], local: [group],
            [.buffer(projection), .buffer(norms), .buffer(output), .int(blockRows), .int(features), .local(floats: group)])
    }

    public func favorFeaturesBackward(
        output: DeviceStorage, outputGradient: DeviceStorage, input: DeviceStorage, projectionGradient: DeviceStorage,
        inputGradient: DeviceStorage, rows: Int, features: Int, inputSize: Int, scale: Float
    ) throws {
        let group = rowGroupSize(columns: max(features, inputSize))
        try launch(
            "feature_map", "favor_backward", global: [rows * group], local: [group],
            [
                .buffer(output), .buffer(outputGradient), .buffer(input), .buffer(projectionGradient), .buffer(inputGradient),
                .int(features), .int(inputSize), .float(scale * scale), .local(floats: group),
            ])
    }

    public func eluFeaturesForward(_ input: DeviceStorage, output: DeviceStorage, count: Int) throws {
        try launch("feature_map", "elu_features_forward", global: [count], [.buffer(input), .buffer(output), .int(count)])
    }

    public func eluFeaturesBackward(_ input: DeviceStorage, outputGradient: DeviceStorage, inputGradient: DeviceStorage, count: Int) throws {
        try launch(
            "feature_map", "elu_features_backward", global: [count],
            [.buffer(input), .buffer(outputGradient), .buffer(inputGradient), .int(count)])
    }
}
