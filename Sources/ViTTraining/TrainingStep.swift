import Foundation
import ViTCore
import ViTData
import ViTNN

/// What `TrainingStatistics.read()` finds: the mean loss and top-1 accuracy of the batches
/// so far, and the first batch whose loss was not finite.
public struct TrainingFigures: Sendable {
    /// The mean loss (while every loss is finite).
    public var loss: Double
    /// Top-1 accuracy in percent (a NaN logit is never a hit).
    public var top1: Double
    /// The index (0-based, since the last reset) of the first batch with a NaN or infinite
    /// loss; nil while every loss is finite.
    public var firstNonFiniteBatch: Int?
}

/// The loss and top-1 hits of the training batches so far, summed on the device so that a
/// step never waits for it; `read()` copies them to the host (one wait).
public final class TrainingStatistics {
    /// [summed loss, hits, batches before the first non-finite loss, 1 once one was seen] on
    /// the device.
    private let totals: Tensor
    /// Images counted since the last reset (known on the host).
    public private(set) var seen = 0

    init(on backend: Backend) throws {
        totals = try Tensor.zeros([4], on: backend)
    }

    /// Adds a batch: its mean `loss` (a device scalar) and its logits' top-1 hits.
    func accumulate(logits: Tensor, labels: ClassLabels, loss: Tensor) throws {
        let (rows, classes) = (logits.shape[0], logits.shape[1])
        try logits.backend.accumulateClassificationStatistics(
            logits: logits.storage, labels: labels.tensor.storage, loss: loss.storage,
            statistics: totals.storage, rows: rows, classes: classes)
        seen += rows
    }

    /// The figures since the last reset; waits for the device.
    public func read() throws -> TrainingFigures {
        let values = try totals.toArray()
        let count = Double(max(seen, 1))
        return TrainingFigures(
            loss: Double(values[0]) / count, top1: 100 * Double(values[1]) / count,
            firstNonFiniteBatch: values[3] != 0 ? Int(values[2]) : nil)
    }

    /// Starts counting again from zero.
    public func reset() throws {
        try totals.backend.fill(totals.storage, count: 4, value: 0)
        seen = 0
    }
}

/// One optimisation step of `vit train`: upload, forward, loss, backward, clipping, update.
/// The trainer and `vit-bench training` both run it, so the benchmark times what training
/// does. Nothing in it waits for the device: labels are checked on the host before upload,
/// and the loss and hits accumulate in `statistics`.
public final class TrainingStep {
    public let model: VisionTransformer
    public let optimizer: Optimizer
    /// The loss and hits of the steps since the statistics' last reset.
    public let statistics: TrainingStatistics
    private let labelSmoothing: Float
    private let gradientClipNorm: Float
    private let seed: UInt32

    /// A step of `model` with `optimizer`, using the loss and clipping settings of `options`.
    public init(model: VisionTransformer, optimizer: Optimizer, options: TrainingOptions) throws {
        self.model = model
        self.optimizer = optimizer
        statistics = try TrainingStatistics(on: model.backend)
        labelSmoothing = options.labelSmoothing
        gradientClipNorm = options.gradientClipNorm
        seed = UInt32(truncatingIfNeeded: options.seed)
    }

    /// Trains on `batch` at `learningRate`.
    public func callAsFunction(_ batch: Batch, learningRate: Float) throws {
        let backend = model.backend
        let images = try Tensor(batch.images, shape: Shape(batch.imageShape), on: backend)
        let labels = try ClassLabels(batch.labels, classes: model.configuration.numClasses, on: backend)
        let context = ForwardContext(training: true, seed: seed, step: optimizer.stepCount)
        let logits = try model(images, context: context)
        let loss = try crossEntropy(logits: logits, classLabels: labels, labelSmoothing: labelSmoothing)
        try optimizer.zeroGradients()
        try loss.backward()
        if gradientClipNorm > 0 { try clipGradientNorm(optimizer.arena, maximumNorm: gradientClipNorm) }
        try optimizer.step(learningRate: learningRate)
        try statistics.accumulate(logits: logits, labels: labels, loss: loss)
    }
}
