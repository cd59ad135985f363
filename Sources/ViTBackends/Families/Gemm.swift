import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The gemm family: CLBlast's kernels, their checks and benchmark rows.
    public enum Gemm: KernelFamilyDeclaration {
        public static let name = "gemm"
        /// The products the benchmarks time, with their labels.
        public static let products: [(label: String, descriptor: GemmDescriptor)] = [
            ("qkv 16640x144x48", GemmDescriptor(transposeA: false, transposeB: true, m: 16640, n: 144, k: 48)),
            ("fc1 16640x192x48", GemmDescriptor(transposeA: false, transposeB: true, m: 16640, n: 192, k: 48)),
            ("fc2 16640x48x192", GemmDescriptor(transposeA: false, transposeB: true, m: 16640, n: 48, k: 192)),
            ("dW 192x48x16640", GemmDescriptor(transposeA: true, transposeB: false, m: 192, n: 48, k: 16640)),
            ("qkv 1576x2304x768", GemmDescriptor(transposeA: false, transposeB: true, m: 1576, n: 2304, k: 768)),
            ("fc1 1576x3072x768", GemmDescriptor(transposeA: false, transposeB: true, m: 1576, n: 3072, k: 768)),
            (
                "QK^T 1024x65x65x12",
                GemmDescriptor(
                    transposeA: false, transposeB: true, m: 65, n: 65, k: 12, batchCount: 1024,
                    strideA: 65 * 12, strideB: 65 * 12, strideC: 65 * 65)
            ),
            (
                "QK^T 96x197x197x64",
                GemmDescriptor(
                    transposeA: false, transposeB: true, m: 197, n: 197, k: 64, batchCount: 96,
                    strideA: 197 * 64, strideB: 197 * 64, strideC: 197 * 197)
            ),
        ]
        public static let deviceCode = KernelFamily.DeviceCode.library("CLBlast")

        /// GEMMs of the seed ViT (256 images x 65 tokens, width 48, MLP 192) and of ViT-B/16
        /// (8 images x 197 tokens, width 768), attention's batched products, and the backend's
        /// matmul through the tensor API (output allocated per call, as the model uses it).
        public static var benchmarks: [BenchmarkRow] {
            let rows = products.map { size, d in
                BenchmarkRow(name: "gemm", size: size, flops: d.flops, bytes: 0) { backend in
                    let (a, b) = (try buffer(d.m * d.k * d.batchCount, backend), try buffer(d.k * d.n * d.batchCount, backend))
                    let c = try backend.allocate(count: d.m * d.n * d.batchCount)
                    return { try backend.gemm(d, a: a, b: b, c: c) }
                }
            }
            let tensorProduct = BenchmarkRow(name: "matmul (tensor)", size: "qkv 16640x144x48", flops: 2 * 16640 * 144 * 48, bytes: 0) { backend in
                let x = try Tensor(values(16640 * 48, seed: 1), shape: [256, 65, 48], on: backend)
                let w = try Tensor(values(144 * 48, seed: 2), shape: [144, 48], on: backend)
                return { _ = try matmul(x, w, transposeB: true) }
            }
            return rows + [tensorProduct]
        }

        public static func checks(_ scope: CheckScope) -> [KernelCheck] {
            var checks: [KernelCheck] = []
            let sizes: [(m: Int, n: Int, k: Int)] = scope.sizes(
                [(1, 1, 1), (7, 33, 129), (129, 7, 33)], large: [(256 * 65, 144, 48), (8 * 197, 768, 768)])
            for (m, n, k) in sizes {
                for (transposeA, transposeB) in [(false, false), (false, true), (true, false), (true, true)] {
                    // Large sizes once, in the layouts a Linear layer uses (x W^T and the two gradients).
                    if m * n > 100_000 && !((!transposeA && transposeB) || (!transposeA && !transposeB) || (transposeA && !transposeB)) { continue }
                    let descriptor = GemmDescriptor(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, beta: 0)
                    checks.append(gemmCheck(descriptor, label: "\(m)x\(n)x\(k) \(transposeA ? "T" : "N")\(transposeB ? "T" : "N")"))
                }
            }
            // alpha and beta, and the strided-batched form of attention (B*H products of N x N x D).
            checks.append(
                gemmCheck(
                    GemmDescriptor(transposeA: false, transposeB: true, m: 33, n: 7, k: 129, alpha: 0.5, beta: 0.25), label: "33x7x129 NT a.5 b.25")
            )
            for (batch, n, d) in scope.sizes([(3, 7, 5)], large: [(256 * 4, 65, 12), (8 * 12, 197, 64)]) {
                checks.append(
                    gemmCheck(
                        GemmDescriptor(
                            transposeA: false, transposeB: true, m: n, n: n, k: d, batchCount: batch,
                            strideA: n * d, strideB: n * d, strideC: n * n), label: "batched \(batch)x\(n)x\(n)x\(d) NT"))
                checks.append(
                    gemmCheck(
                        GemmDescriptor(
                            transposeA: false, transposeB: false, m: n, n: d, k: n, batchCount: batch,
                            strideA: n * n, strideB: n * d, strideC: n * d), label: "batched \(batch)x\(n)x\(d)x\(n) NN"))
            }
            return checks
        }

        static func gemmCheck(_ d: GemmDescriptor, label: String) -> KernelCheck {
            let countA = d.m * d.k + (d.batchCount - 1) * d.strideA
            let countB = d.k * d.n + (d.batchCount - 1) * d.strideB
            let countC = d.m * d.n + (d.batchCount - 1) * d.strideC
            // Products of terms in [-1, 1] summed over k: rounding grows like sqrt(k) u.
            return KernelCheck(kernel: "gemm", size: label, absoluteTolerance: 2e-6 * Float(d.k).squareRoot() * 4, relativeTolerance: 1e-5) {
                backend in
                let a = try upload(values(countA, seed: 1), to: backend)
                let b = try upload(values(countB, seed: 2), to: backend)
                let c = try upload(values(countC, seed: 3), to: backend)
                try backend.gemm(d, a: a, b: b, c: c)
                return [try download(c, countC, from: backend)]
            }
        }
    }
}
