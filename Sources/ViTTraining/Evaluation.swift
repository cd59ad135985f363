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
    /// Mean loss and top-1/top-5 accuracy (in percent) of the model on every batch of `loader`.
    public func evaluate(on loader: BatchLoader, labelSmoothing: Float = 0) throws -> EvaluationResult {
        var result = EvaluationResult(loss: 0, top1: 0, top5: 0, count: 0)
        let classes = configuration.numClasses
        try GradientMode.withoutGradient {
            for batch in loader.epoch(0) {
                let images = try Tensor(batch.images, shape: Shape(batch.imageShape), on: backend)
                let labels = try ClassLabels(batch.labels, classes: classes, on: backend)
                let logits = try self(images, context: ForwardContext(training: false))
                let loss = try crossEntropy(logits: logits, classLabels: labels, labelSmoothing: labelSmoothing).item()
                let values = try logits.toArray()
                result.loss += Double(loss) * Double(batch.count)
                result.top1 += Double(Accuracy.correct(logits: values, labels: batch.labels, classes: classes, k: 1))
                result.top5 += Double(Accuracy.correct(logits: values, labels: batch.labels, classes: classes, k: min(5, classes)))
                result.count += batch.count
            }
        }
        let count = Double(max(result.count, 1))
        result.loss /= count
        result.top1 *= 100 / count
        result.top5 *= 100 / count
        return result
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
