import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The dropout family: Kernels/dropout.cl, its checks and its benchmark rows.
    enum Dropout: KernelFamilyDeclaration {
        static let name = "dropout"

        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            var checks: [KernelCheck] = []
            for count in scope.sizes(oddCounts, large: vitCounts) {
                for probability: Float in [0.1, 0.5] {
                    checks.append(
                        KernelCheck(kernel: "dropout", size: "\(count) p=\(probability)", absoluteTolerance: 0, relativeTolerance: 1e-6) { backend in
                            let input = try upload(values(count, seed: 21), to: backend)
                            let output = try backend.allocate(count: count)
                            try backend.kernels(DropoutKernels.self).dropout(
                                input, output: output, count: count, probability: probability, seed: 1234, offset: 17)
                            return [try download(output, count, from: backend)]
                        })
                }
            }
            return checks
        }
    }
}

extension OpenCLBackend: DropoutKernels {
    public func dropout(_ input: DeviceStorage, output: DeviceStorage, count: Int, probability: Float, seed: UInt32, offset: UInt32) throws {
        try launch(
            "dropout", "dropout_forward", global: [count],
            [.buffer(input), .buffer(output), .int(count), .float(probability), .uint(seed), .uint(offset)])
    }
}
