import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The sgd family: Kernels/sgd.cl, its checks and its benchmark rows.
    enum SGD: KernelFamilyDeclaration {
        static let name = "sgd"

        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            scope.sizes(oddCounts, large: [119_194]).map { count in
                KernelCheck(kernel: "sgd", size: "\(count) x3 steps", absoluteTolerance: 1e-6, relativeTolerance: 1e-5) { backend in
                    let parameter = try upload(values(count, seed: 26), to: backend)
                    let velocity = try backend.allocate(count: count)
                    try backend.fill(velocity, count: count, value: 0)
                    for step in 1...3 {
                        let gradient = try upload(values(count, seed: 26 + UInt32(step)), to: backend)
                        try backend.kernels(SGDKernels.self).sgd(
                            parameter: parameter, gradient: gradient, velocity: velocity, count: count, learningRate: 0.05, momentum: 0.9,
                            weightDecay: 5e-4)
                    }
                    return [try download(parameter, count, from: backend), try download(velocity, count, from: backend)]
                }
            }
        }
    }
}

extension OpenCLBackend: SGDKernels {
    public func sgd(
        parameter: DeviceStorage, gradient: DeviceStorage, velocity: DeviceStorage, count: Int, learningRate: Float, momentum: Float,
        weightDecay: Float
    ) throws {
        try launch(
            "sgd", "sgd_step", global: [count],
            [
                .buffer(parameter), .buffer(gradient), .buffer(velocity), .int(count), .float(learningRate), .float(momentum), .float(weightDecay),
            ])
    }
}
