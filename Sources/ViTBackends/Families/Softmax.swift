import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The softmax family: Kernels/softmax.cl, its checks and its benchmark rows.
    enum Softmax: KernelFamilyDeclaration {
        static let name = "softmax"

        /// Attention's row softmax: the seed ViT's 1024 heads of 65 rows of 65, ViT-B/16's 96 of 197.
        static var benchmarks: [BenchmarkRow] {
            [(256 * 4 * 65, 65, "1024x65 rows of 65"), (8 * 12 * 197, 197, "18912 rows of 197")].flatMap { rows, columns, label in
                let count = rows * columns
                return [
                    BenchmarkRow(name: "softmax_forward", size: label, flops: 0, bytes: 2 * float * Double(count)) { backend in
                        let kernels = try backend.kernels(SoftmaxKernels.self)
                        let (x, y) = (try buffer(count, backend), try backend.allocate(count: count))
                        return { try kernels.softmaxForward(x, output: y, rows: rows, columns: columns) }
                    },
                    BenchmarkRow(name: "softmax_backward", size: label, flops: 0, bytes: 3 * float * Double(count)) { backend in
                        let kernels = try backend.kernels(SoftmaxKernels.self)
                        let (y, dy, dx) = (try buffer(count, backend), try buffer(count, backend), try backend.allocate(count: count))
                        return { try kernels.softmaxBackward(output: y, outputGradient: dy, inputGradient: dx, rows: rows, columns: columns) }
                    },
                ]
            }
        }

        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            scope.sizes([(1, 1), (7, 33), (33, 129)], large: [(256 * 4 * 65, 65), (8 * 12 * 197 / 4, 197)]).map { rows, columns in
                let count = rows * columns
                return KernelCheck(kernel: "softmax", size: "\(rows)x\(columns)", absoluteTolerance: 1e-6, relativeTolerance: 1e-5) { backend in
                    let input = try upload(values(count, seed: 15, scale: 6), to: backend)
                    let gradient = try upload(values(count, seed: 16), to: backend)
                    let (output, inputGradient) = (try backend.allocate(count: count), try backend.allocate(count: count))
                    try backend.kernels(SoftmaxKernels.self).softmaxForward(input, output: output, rows: rows, columns: columns)
                    try backend.kernels(SoftmaxKernels.self).softmaxBackward(
                        output: output, outputGradient: gradient, inputGradient: inputGradient, rows: rows, columns: columns)
                    return [try download(output, count, from: backend), try download(inputGradient, count, from: backend)]
                }
            }
        }
    }
}

extension OpenCLBackend: SoftmaxKernels {
    public func softmaxForward(_ input: DeviceStorage, output: DeviceStorage, rows: Int, columns: Int) throws {
        let group = rowGroupSize(columns: columns)
        try launch(
            "softmax", "softmax_forward", global: [rows * group], local: [group],
            [.buffer(input), .buffer(output), .int(columns), .local(floats: group)])
    }

    public func softmaxBackward(output: DeviceStorage, outputGradient: DeviceStorage, inputGradient: DeviceStorage, rows: Int, columns: Int) throws {
        let group = rowGroupSize(columns: columns)
        try launch(
            "softmax", "softmax_backward", global: [rows * group], local: [group],
            [.buffer(output), .buffer(outputGradient), .buffer(inputGradient), .int(columns), .local(floats: group)])
    }
}
