/// Mean cross-entropy of `logits` [batch, classes] against class indices `labels` [batch]
/// (stored as floats), with optional label smoothing, as PyTorch's `F.cross_entropy`.
/// Returns a one-element tensor of shape [].
public func crossEntropy(logits: Tensor, labels: Tensor, labelSmoothing: Float = 0) throws -> Tensor {
    let backend = try Tensor.commonBackend("crossEntropy", logits, labels)
    guard logits.shape.rank == 2, labels.shape == [logits.shape[0]] else {
        throw ViTError.shapeMismatch(operation: "crossEntropy", detail: "logits must be [batch, classes] and labels [batch], got \(logits.shape) and \(labels.shape)")
    }
    guard labelSmoothing >= 0, labelSmoothing <= 1 else {
        throw ViTError.invalidArgument(operation: "crossEntropy", detail: "label smoothing \(labelSmoothing) must be in [0, 1]")
    }
    let (rows, classes) = (logits.shape[0], logits.shape[1])
    let values = try labels.toArray()
    if let bad = values.first(where: { $0 < 0 || $0 >= Float(classes) || $0 != $0.rounded() }) {
        throw ViTError.invalidArgument(operation: "crossEntropy", detail: "label \(bad) is not a class index in 0..<\(classes)")
    }
    let losses = try Tensor.empty([rows], on: backend)
    try backend.crossEntropyForward(logits: logits.storage, labels: labels.storage, losses: losses.storage, rows: rows, classes: classes, labelSmoothing: labelSmoothing)
    let total = try GradientMode.withoutGradient { try losses.sum(axis: 0).scaled(by: 1 / Float(max(rows, 1))) }
    return total.recording([logits]) { gradient in
        // The incoming gradient is a device scalar; its value scales dlogits.
        let scale = try gradient.item() / Float(max(rows, 1))
        let logitsGradient = try logits.emptyLike()
        try backend.crossEntropyBackward(
            logits: logits.storage, labels: labels.storage, logitsGradient: logitsGradient.storage, rows: rows,
            classes: classes, labelSmoothing: labelSmoothing, scale: scale)
        return [logitsGradient]
    }
}
