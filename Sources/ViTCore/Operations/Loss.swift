/// Cross-entropy and the on-device batch statistics of a classifier (Kernels/crossentropy.cl).
public protocol CrossEntropyKernels {
    /// Per-row cross-entropy of logits against class indices (stored as floats), with label
    /// smoothing as PyTorch's `cross_entropy(label_smoothing:)`, times `scale` (1 / rows makes
    /// the rows' sum the mean).
    func crossEntropyForward(
        logits: DeviceStorage, labels: DeviceStorage, losses: DeviceStorage, rows: Int, classes: Int, labelSmoothing: Float, scale: Float
    ) throws
    /// `outputGradient[0] * scale * d(loss_row)/d(logits)` for every row (the loss's incoming
    /// gradient is read on the device, not by the host).
    func crossEntropyBackward(
        logits: DeviceStorage, labels: DeviceStorage, outputGradient: DeviceStorage, logitsGradient: DeviceStorage, rows: Int,
        classes: Int, labelSmoothing: Float, scale: Float
    ) throws
    /// Adds `loss[0] * rows` (a batch's summed loss, from its mean) to `statistics[0]` and the
    /// batch's top-1 hits to `statistics[1]`. A row is a hit when no other class's logit is at
    /// least its label's and no logit is NaN. `statistics[2]` counts the batches before the
    /// first non-finite loss, which sets `statistics[3]` to 1 and ends the loss sum.
    func accumulateClassificationStatistics(
        logits: DeviceStorage, labels: DeviceStorage, loss: DeviceStorage, statistics: DeviceStorage, rows: Int, classes: Int
    ) throws
}

/// Class indices for a batch, checked on the host and then uploaded, so the loss never reads
/// them back from the device: `labels[i]` is the class of row i, in `0..<classes`.
public struct ClassLabels {
    /// The labels on the device, as floats (the kernels' layout).
    public let tensor: Tensor
    /// The number of classes the labels were checked against.
    public let classes: Int

    /// Checks `values` against `classes` and uploads them to `backend`.
    public init(_ values: [Float], classes: Int, on backend: Backend) throws {
        try self.init(checking: values, classes: classes) { try Tensor(values, shape: [values.count], on: backend) }
    }

    /// Checks `tensor`'s values (read back once) against `classes`.
    public init(_ tensor: Tensor, classes: Int) throws {
        try self.init(checking: try tensor.toArray(), classes: classes) { tensor }
    }

    private init(checking values: [Float], classes: Int, tensor: () throws -> Tensor) throws {
        if let bad = values.first(where: { $0 < 0 || $0 >= Float(classes) || $0 != $0.rounded() }) {
            throw ViTError.invalidArgument(operation: "crossEntropy", detail: "label \(bad) is not a class index in 0..<\(classes)")
        }
        self.tensor = try tensor()
        self.classes = classes
    }
}

/// Mean cross-entropy of logits [batch, classes] against class indices [batch] (stored as
/// floats), with optional label smoothing: PyTorch's `F.cross_entropy`. The labels are read
/// back once to check them; `crossEntropy(logits:classLabels:)` takes labels checked on the host.
public func crossEntropy(logits: Tensor, labels: Tensor, labelSmoothing: Float = 0) throws -> Tensor {
    _ = try Tensor.commonBackend("crossEntropy", logits, labels)
    guard logits.shape.rank == 2, labels.shape == [logits.shape[0]] else {
        throw ViTError.shapeMismatch(
            operation: "crossEntropy", detail: "logits must be [batch, classes] and labels [batch], got \(logits.shape) and \(labels.shape)")
    }
    return try crossEntropy(logits: logits, classLabels: ClassLabels(labels, classes: logits.shape[1]), labelSmoothing: labelSmoothing)
}

/// Mean cross-entropy against labels checked on the host; nothing in it waits for the device
/// (the backward pass reads the loss's incoming gradient on the device).
public func crossEntropy(logits: Tensor, classLabels: ClassLabels, labelSmoothing: Float = 0) throws -> Tensor {
    let labels = classLabels.tensor
    let backend = try Tensor.commonBackend("crossEntropy", logits, labels)
    guard logits.shape.rank == 2, labels.shape == [logits.shape[0]], classLabels.classes == logits.shape[1] else {
        throw ViTError.shapeMismatch(
            operation: "crossEntropy",
            detail: "logits must be [batch, classes] and labels [batch] of \(classLabels.classes) classes, got \(logits.shape) and \(labels.shape)")
    }
    guard labelSmoothing >= 0, labelSmoothing <= 1 else {
        throw ViTError.invalidArgument(operation: "crossEntropy", detail: "label smoothing \(labelSmoothing) must be in [0, 1]")
    }
    let (rows, classes) = (logits.shape[0], logits.shape[1])
    let losses = try Tensor.empty([rows], on: backend)
    // Each row's loss divided by the rows, so their sum is the mean.
    try backend.kernels(CrossEntropyKernels.self).crossEntropyForward(
        logits: logits.storage, labels: labels.storage, losses: losses.storage, rows: rows, classes: classes,
        labelSmoothing: labelSmoothing, scale: 1 / Float(max(rows, 1)))
    let total = try GradientMode.withoutGradient { try losses.sum(axis: 0) }
    return total.recording([logits]) { gradient in
        let logitsGradient = try logits.emptyLike()
        try backend.kernels(CrossEntropyKernels.self).crossEntropyBackward(
            logits: logits.storage, labels: labels.storage, outputGradient: gradient.storage, logitsGradient: logitsGradient.storage,
            rows: rows, classes: classes, labelSmoothing: labelSmoothing, scale: 1 / Float(max(rows, 1)))
        return [logitsGradient]
    }
}
