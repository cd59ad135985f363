import Foundation
import ViTCore
import ViTData
import ViTNN

/// Loss and top-k accuracy over a data set.
public struct EvaluationResult: Sendable {
    public var loss: Double
    public var top1: Double
    public var top5: Double
    public var count: Int
}

/// Counts correct predictions in logits [batch, classes] against labels.
public enum Accuracy {
    /// How many rows have their label among the `k` largest logits (ties count against, and
    /// a NaN logit of the label's class is never a hit, a NaN elsewhere counts as larger).
    public static func correct(logits: [Float], labels: [Float], classes: Int, k: Int) -> Int {
        var hits = 0
        for row in labels.indices {
            let base = row * classes
            let label = Int(labels[row])
            let target = logits[base + label]
            guard !target.isNaN else { continue }
            var larger = 0
            for column in 0..<classes where column != label && !(logits[base + column] < target) {
                larger += 1
            }
            if larger < k { hits += 1 }
        }
        return hits
    }
}

extension VisionTransformer {
    /// Mean loss and top-1/top-5 accuracy (in percent) of the model on every batch of `loader`,
    /// over the shards of every process of `processes` when `loader` reads one shard (a
    /// collective: every process calls it).
    public func evaluate(on loader: BatchLoader, labelSmoothing: Float = 0, processes: ProcessGroup = SingleProcess()) throws -> EvaluationResult {
        // Summed loss, top-1 hits, top-5 hits and images.
        var totals = [Double](repeating: 0, count: 4)
        let classes = configuration.numClasses
        try GradientMode.withoutGradient {
            // A shard's part of the last, short batch may be empty.
            let batches = loader.epoch(0)
            while let batch = try batches.nextBatch() {
                guard batch.count > 0 else { continue }
                let images = try batch.imageTensor(on: backend)
                let labels = try ClassLabels(batch.labels, classes: classes, on: backend)
                let logits = try self(images, context: ForwardContext(training: false))
                let loss = try crossEntropy(logits: logits, classLabels: labels, labelSmoothing: labelSmoothing).item()
                let values = try logits.toArray()
                totals[0] += Double(loss) * Double(batch.count)
                totals[1] += Double(Accuracy.correct(logits: values, labels: batch.labels, classes: classes, k: 1))
                totals[2] += Double(Accuracy.correct(logits: values, labels: batch.labels, classes: classes, k: min(5, classes)))
                totals[3] += Double(batch.count)
            }
        }
        totals = try processes.summed(totals)
        let count = max(totals[3], 1)
        return EvaluationResult(loss: totals[0] / count, top1: 100 * totals[1] / count, top5: 100 * totals[2] / count, count: Int(totals[3]))
    }

    /// Inference latency per image in milliseconds (mean and standard deviation over
    /// `repeats` timed forward passes of `images`, after two warm-up passes).
    public func inferenceLatency(images: Tensor, repeats: Int = 10) throws -> (mean: Double, standardDeviation: Double) {
        let batch = Double(images.shape[0])
        var samples: [Double] = []
        try GradientMode.withoutGradient {
            for index in 0..<(repeats + 2) {
                let start = DispatchTime.now().uptimeNanoseconds
                let logits = try self(images, context: ForwardContext(training: false))
                try backend.synchronize()
                _ = logits
                if index >= 2 { samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-6 / batch) }
            }
        }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(samples.count - 1, 1))
        return (mean, variance.squareRoot())
    }
}
