import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The elementwise family: Kernels/elementwise.cl, its checks and its benchmark rows.
    enum Elementwise: KernelFamilyDeclaration {
        static let name = "elementwise"

        /// Addition and the bias row at the ViT activation sizes, and gradient clipping (a
        /// scale by a norm on the device) over the seed ViT's gradient arena.
        static var benchmarks: [BenchmarkRow] {
            activationSizes.flatMap { rows, columns, label in
                let count = rows * columns
                return [
                    BenchmarkRow(name: "add", size: label, flops: 0, bytes: 3 * float * Double(count)) { backend in
                        let (a, b, c) = (try buffer(count, backend), try buffer(count, backend), try backend.allocate(count: count))
                        return { try backend.pointwise(.add(b), a, output: c, count: count) }
                    },
                    BenchmarkRow(name: "add_bias", size: label, flops: 0, bytes: 2 * float * Double(count)) { backend in
                        let (a, bias, c) = (try buffer(count, backend), try buffer(columns, backend), try backend.allocate(count: count))
                        return { try backend.pointwise(.addBias(bias, columns: columns), a, output: c, count: count) }
                    },
                ]
            } + [
                BenchmarkRow(name: "scale_by_norm", size: "arena 119194", flops: 0, bytes: 2 * float * 119_194) { backend in
                    let (x, norm) = (try buffer(119_194, backend), try buffer(1, backend))
                    let clip = PointwiseOperation.scaleByNorm(squaredNorms: norm, block: 119_194, numerator: 1, epsilon: 1e-6, atMostOne: true)
                    return { try backend.pointwise(clip, x, output: x, count: 119_194) }
                }
            ]
        }

        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            var checks: [KernelCheck] = []
            for count in scope.sizes(oddCounts, large: vitCounts) {
                let binaryOperations: [(String, (DeviceStorage) -> PointwiseOperation)] = [
                    ("add", PointwiseOperation.add), ("subtract", PointwiseOperation.subtract), ("multiply", PointwiseOperation.multiply),
                ]
                for (name, operation) in binaryOperations {
                    checks.append(
                        KernelCheck(kernel: name, size: "\(count)", absoluteTolerance: 1e-6, relativeTolerance: 1e-6) { backend in
                            let (a, b) = (try upload(values(count, seed: 4), to: backend), try upload(values(count, seed: 5), to: backend))
                            let output = try backend.allocate(count: count)
                            try backend.pointwise(operation(b), a, output: output, count: count)
                            return [try download(output, count, from: backend)]
                        })
                }
                checks.append(
                    KernelCheck(kernel: "scale", size: "\(count)", absoluteTolerance: 1e-6, relativeTolerance: 1e-6) { backend in
                        let input = try upload(values(count, seed: 6), to: backend)
                        let output = try backend.allocate(count: count)
                        try backend.pointwise(.scale(-1.75), input, output: output, count: count)
                        return [try download(output, count, from: backend)]
                    })
                // One norm (clipping), and one norm per block of 5 (a batch of matrices).
                for (numerator, atMostOne, block) in [(Float(0.5), true, count), (2, true, count), (1, false, 5)] {
                    let size = "\(count) \(atMostOne ? "clip to" : "norm") \(numerator) block \(block)"
                    checks.append(
                        KernelCheck(kernel: "scale_by_norm", size: size, absoluteTolerance: 1e-6, relativeTolerance: 1e-6) { backend in
                            let input = try upload(values(count, seed: 6), to: backend)
                            let blocks = (count + block - 1) / block
                            let squaredNorms = try upload((0..<blocks).map { Float(block * ($0 % 3 + 1)) / 3 }, to: backend)
                            let output = try backend.allocate(count: count)
                            let scaling = PointwiseOperation.scaleByNorm(
                                squaredNorms: squaredNorms, block: block, numerator: numerator, epsilon: 1e-6, atMostOne: atMostOne)
                            try backend.pointwise(scaling, input, output: output, count: count)
                            return [try download(output, count, from: backend)]
                        })
                }
                checks.append(
                    KernelCheck(kernel: "fill", size: "\(count)", absoluteTolerance: 0, relativeTolerance: 0) { backend in
                        let output = try backend.allocate(count: count)
                        try backend.fill(output, count: count, value: 0.375)
                        return [try download(output, count, from: backend)]
                    })
            }
            for (rows, columns) in scope.sizes([(1, 1), (7, 33), (129, 7)], large: [(256 * 65, 48), (8 * 197, 768)]) {
                checks.append(
                    KernelCheck(kernel: "add_bias", size: "\(rows)x\(columns)", absoluteTolerance: 1e-6, relativeTolerance: 1e-6) { backend in
                        let input = try upload(values(rows * columns, seed: 9), to: backend)
                        let bias = try upload(values(columns, seed: 10), to: backend)
                        let output = try backend.allocate(count: rows * columns)
                        try backend.pointwise(.addBias(bias, columns: columns), input, output: output, count: rows * columns)
                        return [try download(output, rows * columns, from: backend)]
                    })
            }
            for (length, count, sourceStride, destinationStride) in scope.sizes(
                [(1, 1, 1, 1), (7, 33, 9, 8)], large: [(48, 256, 65 * 48, 48), (64 * 48, 256, 64 * 48, 65 * 48)])
            {
                checks.append(
                    KernelCheck(kernel: "copy_blocks", size: "\(count) blocks of \(length)", absoluteTolerance: 0, relativeTolerance: 0) { backend in
                        let input = try upload(values(count * sourceStride + 3, seed: 23), to: backend)
                        let output = try upload(values(count * destinationStride + 5, seed: 24), to: backend)
                        try backend.copyBlocks(
                            from: input, offset: 3, stride: sourceStride, to: output, offset: 5, stride: destinationStride, length: length,
                            count: count)
                        return [try download(output, count * destinationStride + 5, from: backend)]
                    })
            }
            return checks
        }
    }
}
