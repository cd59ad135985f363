import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The adamw family: Kernels/adamw.cl, its checks and its benchmark rows.
    enum AdamW: KernelFamilyDeclaration {
        static let name = "adamw"

        /// One AdamW step over the seed ViT's parameters.
        static var benchmarks: [BenchmarkRow] {
            [
                BenchmarkRow(name: "adamw", size: "119194 params", flops: 0, bytes: 7 * float * 119_194) { backend in
                    let kernels = try backend.kernels(AdamWKernels.self)
                    let (p, g, m, v) = (
                        try buffer(119_194, backend), try buffer(119_194, backend), try buffer(119_194, backend), try buffer(119_194, backend)
                    )
                    try backend.fill(v, count: 119_194, value: 1)
                    return {
                        try kernels.adamW(
                            parameter: p, gradient: g, firstMoment: m, secondMoment: v, count: 119_194, step: AdamWStep(learningRate: 1e-3, step: 5))
                    }
                }
            ]
        }

        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            scope.sizes(oddCounts, large: [119_194]).map { count in
                KernelCheck(kernel: "adamw", size: "\(count) x3 steps", absoluteTolerance: 1e-6, relativeTolerance: 1e-5) { backend in
                    let parameter = try upload(values(count, seed: 22), to: backend)
                    let (first, second) = (try backend.allocate(count: count), try backend.allocate(count: count))
                    try backend.fill(first, count: count, value: 0)
                    try backend.fill(second, count: count, value: 0)
                    for step in 1...3 {
                        let gradient = try upload(values(count, seed: 22 + UInt32(step)), to: backend)
                        try backend.kernels(AdamWKernels.self).adamW(
                            parameter: parameter, gradient: gradient, firstMoment: first, secondMoment: second, count: count,
                            step: AdamWStep(learningRate: 1e-3, weightDecay: 0.05, step: step))
                    }
                    return [
                        try download(parameter, count, from: backend), try download(first, count, from: backend),
                        try download(second, count, from: backend),
                    ]
                }
            }
        }
    }
}

extension OpenCLBackend: AdamWKernels {
    public func adamW(
        parameter: DeviceStorage, gradient: DeviceStorage, firstMoment: DeviceStorage, secondMoment: DeviceStorage, count: Int, step: AdamWStep
    ) throws {
        try launch(
            "adamw", "adamw_step", global: [count],
            [
                .buffer(parameter), .buffer(gradient), .buffer(firstMoment), .buffer(secondMoment), .int(count),
                .float(1 - step.learningRate * step.weightDecay), .float(step.learningRate / step.firstCorrection),
                .float(step.beta1), .float(step.beta2), .float(step.epsilon), .float(step.secondCorrection.squareRoot()),
            ])
    }
}
