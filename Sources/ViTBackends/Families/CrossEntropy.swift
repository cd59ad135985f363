import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The crossentropy family: Kernels/crossentropy.cl, its checks and its benchmark rows.
    enum CrossEntropy: KernelFamilyDeclaration {
        static let name = "crossentropy"

        /// The on-device loss and top-1 count of a batch of 256 over 10 classes.
        static var benchmarks: [BenchmarkRow] {
            [
                BenchmarkRow(name: "crossentropy_stats", size: "256x10", flops: 0, bytes: float * 256 * 11) { backend in
                    let kernels = try backend.kernels(CrossEntropyKernels.self)
                    let (logits, loss, totals) = (try buffer(2560, backend), try buffer(1, backend), try buffer(4, backend))
                    let labels = try backend.allocate(count: 256)
                    try backend.fill(labels, count: 256, value: 3)
                    return {
                        try kernels.accumulateClassificationStatistics(
                            logits: logits, labels: labels, loss: loss, statistics: totals, rows: 256, classes: 10)
                    }
                }
            ]
        }

        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            var checks: [KernelCheck] = []
            for (rows, classes) in scope.sizes([(1, 1), (7, 10)], large: [(256, 10), (33, 1000)]) {
                for smoothing: Float in [0, 0.1] {
                    checks.append(
                        KernelCheck(
                            kernel: "crossentropy", size: "\(rows)x\(classes) s=\(smoothing)", absoluteTolerance: 1e-5, relativeTolerance: 1e-5
                        ) {
                            backend in
                            let logits = try upload(values(rows * classes, seed: 17, scale: 5), to: backend)
                            let labels = try upload((0..<rows).map { Float(($0 * 7 + 3) % classes) }, to: backend)
                            let losses = try backend.allocate(count: rows)
                            let gradient = try backend.allocate(count: rows * classes)
                            let outputGradient = try upload([0.75], to: backend)
                            try backend.kernels(CrossEntropyKernels.self).crossEntropyForward(
                                logits: logits, labels: labels, losses: losses, rows: rows, classes: classes, labelSmoothing: smoothing,
                                scale: 1 / Float(rows))
                            try backend.kernels(CrossEntropyKernels.self).crossEntropyBackward(
                                logits: logits, labels: labels, outputGradient: outputGradient, logitsGradient: gradient,
                                rows: rows, classes: classes, labelSmoothing: smoothing, scale: 1 / Float(rows))
                            return [try download(losses, rows, from: backend), try download(gradient, rows * classes, from: backend)]
                        })
                }
            }
            // Top-1 statistics over three batches, with ties, a NaN logit and a NaN label logit, and
            // a NaN loss in the middle (it ends the loss sum and the count of finite batches):
            // counts are exact, the loss sum is one product and one addition.
            for (rows, classes) in scope.sizes([(1, 1), (7, 10), (33, 3)], large: [(256, 10), (129, 1000)]) {
                checks.append(
                    KernelCheck(kernel: "crossentropy_statistics", size: "\(rows)x\(classes)", absoluteTolerance: 0, relativeTolerance: 1e-6) {
                        backend in
                        var logits = values(rows * classes, seed: 27, scale: 5).map { ($0 * 4).rounded() / 4 }
                        if rows > 2 { logits[classes + 1] = .nan }
                        if rows > 4 { logits[4 * classes + (4 * 7 + 3) % classes] = .nan }
                        let (logitsBuffer, labels) = (
                            try upload(logits, to: backend), try upload((0..<rows).map { Float(($0 * 7 + 3) % classes) }, to: backend)
                        )
                        let statistics = try upload([0.5, 2, 0, 0], to: backend)
                        for loss: Float in [0.25, .nan, 1.75] {
                            try backend.kernels(CrossEntropyKernels.self).accumulateClassificationStatistics(
                                logits: logitsBuffer, labels: labels, loss: try upload([loss], to: backend),
                                statistics: statistics, rows: rows, classes: classes)
                        }
                        return [try download(statistics, 4, from: backend)]
                    })
            }
            return checks
        }
    }
}

extension OpenCLBackend: CrossEntropyKernels {
    public func crossEntropyForward(
        logits: DeviceStorage, labels: DeviceStorage, losses: DeviceStorage, rows: Int, classes: Int, labelSmoothing: Float, scale: Float
    ) throws {
        let group = rowGroupSize(columns: classes)
        try launch(
            "crossentropy", "crossentropy_forward", global: [rows * group], local: [group],
            [
                .buffer(logits), .buffer(labels), .buffer(losses), .int(classes), .float(labelSmoothing), .float(scale), .local(floats: group),
            ])
    }

    public func crossEntropyBackward(
        logits: DeviceStorage, labels: DeviceStorage, outputGradient: DeviceStorage, logitsGradient: DeviceStorage, rows: Int,
        classes: Int, labelSmoothing: Float, scale: Float
    ) throws {
        let group = rowGroupSize(columns: classes)
        try launch(
            "crossentropy", "crossentropy_backward", global: [rows * group], local: [group],
            [
                .buffer(logits), .buffer(labels), .buffer(outputGradient), .buffer(logitsGradient), .int(classes), .float(labelSmoothing),
                .float(scale), .local(floats: group),
            ])
    }

    public func accumulateClassificationStatistics(
        logits: DeviceStorage, labels: DeviceStorage, loss: DeviceStorage, statistics: DeviceStorage, rows: Int, classes: Int
    ) throws {
        let group = rowGroupSize(columns: rows)
        try launch(
            "crossentropy", "crossentropy_statistics", global: [group], local: [group],
            [
                .buffer(logits), .buffer(labels), .buffer(loss), .buffer(statistics), .int(rows), .int(classes), .local(floats: group),
            ])
    }
}
