import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The permute family: Kernels/permute.cl, its checks and its benchmark rows.
    enum Permute: KernelFamilyDeclaration {
        static let name = "permute"

        /// The seed ViT's split of Q, K and V into heads.
        static var benchmarks: [BenchmarkRow] {
            [
                BenchmarkRow(name: "permute", size: "256x65x3x4x12 heads", flops: 0, bytes: 2 * float * Double(16640 * 144)) { backend in
                    let kernels = try backend.kernels(PermuteKernels.self)
                    let (x, y) = (try buffer(16640 * 144, backend), try backend.allocate(count: 16640 * 144))
                    return { try kernels.permute(x, output: y, shape: [256, 65, 3, 4, 12], permutation: [2, 0, 3, 1, 4]) }
                }
            ]
        }

        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            let permutes: [([Int], [Int])] = scope.sizes(
                [([1], [0]), ([7, 33], [1, 0]), ([7, 1, 33, 2], [3, 0, 2, 1]), ([2, 3, 5, 7, 1, 3], [5, 4, 3, 2, 1, 0])],
                large: [([256, 65, 4, 12], [0, 2, 1, 3]), ([256, 4, 65, 12], [0, 2, 1, 3]), ([8, 197, 3, 12, 64], [2, 0, 3, 1, 4])])
            return permutes.map { shape, permutation in
                let count = shape.reduce(1, *)
                return KernelCheck(kernel: "permute", size: "\(shape) by \(permutation)", absoluteTolerance: 0, relativeTolerance: 0) { backend in
                    let input = try upload(values(count, seed: 20), to: backend)
                    let output = try backend.allocate(count: count)
                    try backend.kernels(PermuteKernels.self).permute(input, output: output, shape: shape, permutation: permutation)
                    return [try download(output, count, from: backend)]
                }
            }
        }
    }
}

extension OpenCLBackend: PermuteKernels {
    public func permute(_ input: DeviceStorage, output: DeviceStorage, shape: [Int], permutation: [Int]) throws {
        var inputStrides = [Int](repeating: 1, count: shape.count)
        for axis in stride(from: shape.count - 2, through: 0, by: -1) { inputStrides[axis] = inputStrides[axis + 1] * shape[axis + 1] }
        // Pad to rank 6 with leading axes of size 1 (stride 0).
        let padding = 6 - shape.count
        let sizes = [Int](repeating: 1, count: padding) + permutation.map { shape[$0] }
        let strides = [Int](repeating: 0, count: padding) + permutation.map { inputStrides[$0] }
        let count = shape.reduce(1, *)
        try launch(
            "permute", "permute_forward", global: [count],
            [.buffer(input), .buffer(output), .int(count)] + sizes.map { .int($0) } + strides.map { .int($0) })
    }
}
