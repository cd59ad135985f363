import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The layernorm family: Kernels/layernorm.cl, its checks and its benchmark rows.
    enum LayerNorm: KernelFamilyDeclaration {
        static let name = "layernorm"

        /// Layer norm forward and backward at the ViT activation sizes.
        static var benchmarks: [BenchmarkRow] {
            activationSizes.flatMap { rows, columns, label in
                let count = rows * columns
                /// Inputs, parameters and statistics of one layer norm, forward pass done.
                func prepared(_ backend: Backend) throws -> (LayerNormKernels, [DeviceStorage]) {
                    let kernels = try backend.kernels(LayerNormKernels.self)
                    let (x, y, w, b) = (
                        try buffer(count, backend), try backend.allocate(count: count), try buffer(columns, backend), try buffer(columns, backend)
                    )
                    let (mean, inverse) = (try backend.allocate(count: rows), try backend.allocate(count: rows))
                    try kernels.layerNormForward(
                        x, weight: w, bias: b, output: y, mean: mean, inverseStandardDeviation: inverse, rows: rows, columns: columns, epsilon: 1e-5)
                    return (kernels, [x, y, w, b, mean, inverse])
                }
                return [
                    BenchmarkRow(name: "layernorm_forward", size: label, flops: 0, bytes: 2 * float * Double(count)) { backend in
                        let (kernels, s) = try prepared(backend)
                        return {
                            try kernels.layerNormForward(
                                s[0], weight: s[2], bias: s[3], output: s[1], mean: s[4], inverseStandardDeviation: s[5], rows: rows,
                                columns: columns, epsilon: 1e-5)
                        }
                    },
                    BenchmarkRow(name: "layernorm_backward", size: label, flops: 0, bytes: 3 * float * Double(count)) { backend in
                        let (kernels, s) = try prepared(backend)
                        let (dy, dx) = (try buffer(count, backend), try backend.allocate(count: count))
                        let (dw, db) = (try backend.allocate(count: columns), try backend.allocate(count: columns))
                        return {
                            try kernels.layerNormBackward(
                                outputGradient: dy, input: s[0], weight: s[2], mean: s[4], inverseStandardDeviation: s[5],
                                inputGradient: dx, weightGradient: dw, biasGradient: db, rows: rows, columns: columns)
                        }
                    },
                ]
            }
        }

        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            var checks: [KernelCheck] = []
            for (rows, columns) in scope.sizes([(1, 1), (7, 33), (129, 129)], large: [(256 * 65, 48), (8 * 197, 768)]) {
                let count = rows * columns
                // Means and variances over `columns` terms; parameter gradients sum over `rows`.
                let rowTolerance = 1e-6 * Float(columns).squareRoot() * 8
                checks.append(
                    KernelCheck(kernel: "layernorm", size: "\(rows)x\(columns)", absoluteTolerance: max(rowTolerance, 2e-6), relativeTolerance: 1e-5)
                    {
                        backend in
                        let input = try upload(values(count, seed: 11, scale: 3, shift: 0.5), to: backend)
                        let (weight, bias) = (
                            try upload(values(columns, seed: 12, shift: 1), to: backend), try upload(values(columns, seed: 13), to: backend)
                        )
                        let output = try backend.allocate(count: count)
                        let (mean, inverse) = (try backend.allocate(count: rows), try backend.allocate(count: rows))
                        try backend.kernels(LayerNormKernels.self).layerNormForward(
                            input, weight: weight, bias: bias, output: output, mean: mean, inverseStandardDeviation: inverse,
                            rows: rows, columns: columns, epsilon: 1e-5)
                        return [
                            try download(output, count, from: backend), try download(mean, rows, from: backend),
                            try download(inverse, rows, from: backend),
                        ]
                    })
                checks.append(
                    KernelCheck(
                        kernel: "layernorm_backward", size: "\(rows)x\(columns)",
                        absoluteTolerance: max(rowTolerance, 1e-6 * Float(rows).squareRoot() * 8), relativeTolerance: 1e-4
                    ) { backend in
                        let input = try upload(values(count, seed: 11, scale: 3, shift: 0.5), to: backend)
                        let (weight, bias) = (
                            try upload(values(columns, seed: 12, shift: 1), to: backend), try upload(values(columns, seed: 13), to: backend)
                        )
                        let gradient = try upload(values(count, seed: 14), to: backend)
                        let output = try backend.allocate(count: count)
                        let (mean, inverse) = (try backend.allocate(count: rows), try backend.allocate(count: rows))
                        try backend.kernels(LayerNormKernels.self).layerNormForward(
                            input, weight: weight, bias: bias, output: output, mean: mean, inverseStandardDeviation: inverse,
                            rows: rows, columns: columns, epsilon: 1e-5)
                        let inputGradient = try backend.allocate(count: count)
                        let (weightGradient, biasGradient) = (try backend.allocate(count: columns), try backend.allocate(count: columns))
                        try backend.kernels(LayerNormKernels.self).layerNormBackward(
                            outputGradient: gradient, input: input, weight: weight, mean: mean, inverseStandardDeviation: inverse,
                            inputGradient: inputGradient, weightGradient: weightGradient, biasGradient: biasGradient, rows: rows, columns: columns)
                        return [
                            try download(inputGradient, count, from: backend), try download(weightGradient, columns, from: backend),
                            try download(biasGradient, columns, from: backend),
                        ]
                    })
            }
            return checks
        }
    }
}

extension OpenCLBackend: LayerNormKernels {
    public func layerNormForward(
        _ input: DeviceStorage, weight: DeviceStorage, bias: DeviceStorage, output: DeviceStorage,
        mean: DeviceStorage, inverseStandardDeviation: DeviceStorage, rows: Int, columns: Int, epsilon: Float
    ) throws {
        let group = rowGroupSize(columns: columns)
        try launch(
            "layernorm", "layernorm_forward", global: [rows * group], local: [group],
            [
                .buffer(input), .buffer(weight), .buffer(bias), .buffer(output), .buffer(mean), .buffer(inverseStandardDeviation),
                .int(columns), .float(epsilon), .local(floats: group),
            ])
    }

    public func layerNormBackward(
        outputGradient: DeviceStorage, input: DeviceStorage, weight: DeviceStorage, mean: DeviceStorage,
        inverseStandardDeviation: DeviceStorage, inputGradient: DeviceStorage, weightGradient: DeviceStorage,
        biasGradient: DeviceStorage, rows: Int, columns: Int
    ) throws {
        let group = rowGroupSize(columns: columns)
        try launch(
            "layernorm", "layernorm_backward", global: [rows * group], local: [group],
            [
                .buffer(outputGradient), .buffer(input), .buffer(weight), .buffer(mean), .buffer(inverseStandardDeviation),
                .buffer(inputGradient), .int(columns), .local(floats: group),
            ])
        // One work-group per column sums both parameters' rows in local memory: one launch,
        // where partial sums per row chunk would need a second pass for each parameter.
        let columnGroup = rowGroupSize(columns: rows)
        try launch(
            "layernorm", "layernorm_parameters_backward", global: [columns * columnGroup], local: [columnGroup],
            [
                .buffer(outputGradient), .buffer(input), .buffer(mean), .buffer(inverseStandardDeviation),
                .buffer(weightGradient), .buffer(biasGradient), .int(rows), .int(columns), .local(floats: columnGroup),
            ])
    }
}
