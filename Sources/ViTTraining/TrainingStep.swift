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
        try logits.backend.kernels(CrossEntropyKernels.self).accumulateClassificationStatistics(
            logits: logits.storage, labels: labels.tensor.storage, loss: loss.storage,
            statistics: totals.storage, rows: rows, classes: classes)
        seen += rows
    }

    /// This process's figures since the last reset; waits for the device.
    public func read() throws -> TrainingFigures {
        try read(across: SingleProcess())
    }

    /// The figures since the last reset over every process of `processes` (a collective:
    /// every process calls it at the same step); waits for the device.
    public func read(across processes: ProcessGroup) throws -> TrainingFigures {
        let values = try totals.toArray()
        let sums = try processes.summed([Double(values[0]), Double(values[1]), Double(seen)])
        let firstNonFinite = try processes.minimized([values[3] != 0 ? Double(values[2]) : .infinity])[0]
        let count = max(sums[2], 1)
        return TrainingFigures(
            loss: sums[0] / count, top1: 100 * sums[1] / count, firstNonFiniteBatch: firstNonFinite.isFinite ? Int(firstNonFinite) : nil)
    }

    /// Starts counting again from zero.
    public func reset() throws {
        try totals.backend.fill(totals.storage, count: 4, value: 0)
        seen = 0
    }
}

/// One optimisation step of `vit train`: upload, forward, loss, backward, gradient averaging
/// over the processes of a data-parallel run, clipping, update. The trainer and `vit-bench
/// training` both run it, so the benchmark times what training does. In a single process
/// nothing in it waits for the device: labels are checked on the host before upload, and the
/// loss and hits accumulate in `statistics`. With several processes the gradients travel
/// through pinned host memory in buckets whose allreduce overlaps the backward pass
/// (`GradientAverager`).
public final class TrainingStep {
    public let model: VisionTransformer
    public let optimizer: Optimizer
    /// The loss and hits of the steps since the statistics' last reset.
    public let statistics: TrainingStatistics
    private let labelSmoothing: Float
    private let gradientClipNorm: Float
    private let seed: UInt32
    /// The processes whose gradients each step averages.
    public let processes: ProcessGroup
    /// Averages the gradients over the processes (nil in a single process).
    private let averager: GradientAverager?

    /// A step of `model` with `optimizer`, using the loss and clipping settings of `options`,
    /// averaging the gradients over `processes`.
    public init(model: VisionTransformer, optimizer: Optimizer, options: TrainingOptions, processes: ProcessGroup = SingleProcess()) throws {
        self.model = model
        self.optimizer = optimizer
        self.processes = processes
        averager = processes.size > 1 ? try GradientAverager(arena: optimizer.arena, processes: processes) : nil
        statistics = try TrainingStatistics(on: model.backend)
        labelSmoothing = options.labelSmoothing
        gradientClipNorm = options.gradientClipNorm
        seed = UInt32(truncatingIfNeeded: options.seed)
    }

    /// What averaging the gradients cost since the last `resetCommunication()`; nil in a
    /// single process.
    public var communication: CommunicationFigures? { averager?.figures }

    /// Starts the communication figures from zero.
    public func resetCommunication() {
        averager?.resetFigures()
    }

    /// Trains on `batch` at `learningRate`.
    public func callAsFunction(_ batch: Batch, learningRate: Float) throws {
        let backend = model.backend
        let images = try batch.imageTensor(on: backend)
        let labels = try ClassLabels(batch.labels, classes: model.configuration.numClasses, on: backend)
        let context = ForwardContext(training: true, seed: seed, step: optimizer.stepCount)
        let logits = try model(images, context: context)
        let loss = try crossEntropy(logits: logits, classLabels: labels, labelSmoothing: labelSmoothing)
        try optimizer.zeroGradients()
        if let averager {
            // Each process's loss is the mean over its share of the global batch, so the mean
            // of their gradients is the gradient of the global batch's mean loss.
            averager.beginStep()
            try loss.backward(leafFinished: averager.leafFinished)
            try averager.finish()
        } else {
            try loss.backward()
        }
        if gradientClipNorm > 0 { try clipGradientNorm(optimizer.arena, maximumNorm: gradientClipNorm) }
        try optimizer.step(learningRate: learningRate)
        try statistics.accumulate(logits: logits, labels: labels, loss: loss)
    }
}
