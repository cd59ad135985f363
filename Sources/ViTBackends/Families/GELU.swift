import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The gelu family: Kernels/gelu.cl, its checks and its benchmark rows.
    enum GELU: KernelFamilyDeclaration {
        static let name = "gelu"

        /// GELU and its gradient at the ViT activation sizes.
        static var benchmarks: [BenchmarkRow] {
            activationSizes.flatMap { rows, columns, label in
                let count = rows * columns
                return [
                    BenchmarkRow(name: "gelu_forward", size: label, flops: 0, bytes: 2 * float * Double(count)) { backend in
                        let (a, c) = (try buffer(count, backend), try backend.allocate(count: count))
                        return { try backend.pointwise(.gelu, a, output: c, count: count) }
                    },
                    BenchmarkRow(name: "gelu_backward", size: label, flops: 0, bytes: 3 * float * Double(count)) { backend in
                        let (a, g, c) = (try buffer(count, backend), try buffer(count, backend), try backend.allocate(count: count))
                        return { try backend.pointwise(.geluGradient(outputGradient: g), a, output: c, count: count) }
                    },
                ]
            }
        }

        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            scope.sizes(oddCounts, large: vitCounts).map { count in
                pointwiseCheck(
                    "gelu", count: count, seed: 7, forward: { try $0.pointwise(.gelu, $1, output: $2, count: count) },
                    backward: { try $0.pointwise(.geluGradient(outputGradient: $2), $1, output: $3, count: count) })
            }
        }
    }
}
