import COpenCL
import ViTCore

/// The kernel families of Kernels/ behind the Backend operations.
extension OpenCLBackend {
    public func fill(_ storage: DeviceStorage, count: Int, value: Float) throws {
        try launch("elementwise", "fill_forward", global: [count], [.buffer(storage), .int(count), .float(value)])
    }

    public func binary(_ operation: BinaryOperation, _ a: DeviceStorage, _ b: DeviceStorage, output: DeviceStorage, count: Int) throws {
        try launch("elementwise", "\(operation.rawValue)_forward", global: [count], [.buffer(a), .buffer(b), .buffer(output), .int(count)])
    }

    public func scale(_ input: DeviceStorage, by alpha: Float, output: DeviceStorage, count: Int) throws {
        try launch("elementwise", "scale_forward", global: [count], [.buffer(input), .buffer(output), .int(count), .float(alpha)])
    }

    public func scaleByNorm(
        _ input: DeviceStorage, output: DeviceStorage, count: Int, squaredNorms: DeviceStorage, block: Int, numerator: Float,
        epsilon: Float, atMostOne: Bool
    ) throws {
        try launch(
            "elementwise", "scale_by_norm_forward", global: [count],
            [
                .buffer(input), .buffer(output), .int(count), .buffer(squaredNorms), .int(max(block, 1)), .float(numerator), .float(epsilon),
                .int(atMostOne ? 1 : 0),
            ])
    }

    public func addBias(_ input: DeviceStorage, bias: DeviceStorage, output: DeviceStorage, rows: Int, columns: Int) throws {
        try launch(
            "elementwise", "add_bias_forward", global: [columns, rows],
            [.buffer(input), .buffer(bias), .buffer(output), .int(rows), .int(columns)])
    }

    public func geluForward(_ input: DeviceStorage, output: DeviceStorage, count: Int) throws {
        try launch("gelu", "gelu_forward", global: [count], [.buffer(input), .buffer(output), .int(count)])
    }

    public func geluBackward(_ input: DeviceStorage, outputGradient: DeviceStorage, inputGradient: DeviceStorage, count: Int) throws {
        try launch("gelu", "gelu_backward", global: [count], [.buffer(input), .buffer(outputGradient), .buffer(inputGradient), .int(count)])
    }

    public func layerNormForward(
        _ input: DeviceStorage, weight: DeviceStorage, bias: DeviceStorage, output: DeviceStorage,
        mean: DeviceStorage, inverseStandardDeviation: DeviceStorage, rows: Int, columns: Int, epsilon: Float
    ) throws {
        let group = rowGroupSize(columns: columns)
        try launch(
            "layernorm", "layernorm_forward", global: [rows * group], local: [group],
            [
                .buffer(input), .buffer(weight), .buffer(bias), .buffer(output), .buffer(mean), .buffer(inverseStandardDeviation),
                .int(columns), .float(epsilon), .local(floats: group),
            ])
    }

    public func layerNormBackward(
        outputGradient: DeviceStorage, input: DeviceStorage, weight: DeviceStorage, mean: DeviceStorage,
        inverseStandardDeviation: DeviceStorage, inputGradient: DeviceStorage, weightGradient: DeviceStorage,
        biasGradient: DeviceStorage, rows: Int, columns: Int
    ) throws {
        let group = rowGroupSize(columns: columns)
        try launch(
            "layernorm", "layernorm_backward", global: [rows * group], local: [group],
            [
                .buffer(outputGradient), .buffer(input), .buffer(weight), .buffer(mean), .buffer(inverseStandardDeviation),
                .buffer(inputGradient), .int(columns), .local(floats: group),
            ])
        // One work-group per column sums both parameters' rows in local memory: one launch,
        // where partial sums per row chunk would need a second pass for each parameter.
        let columnGroup = rowGroupSize(columns: rows)
        try launch(
            "layernorm", "layernorm_parameters_backward", global: [columns * columnGroup], local: [columnGroup],
            [
                .buffer(outputGradient), .buffer(input), .buffer(mean), .buffer(inverseStandardDeviation),
                .buffer(weightGradient), .buffer(biasGradient), .int(rows), .int(columns), .local(floats: columnGroup),
            ])
    }

    public func softmaxForward(_ input: DeviceStorage, output: DeviceStorage, rows: Int, columns: Int) throws {
        let group = rowGroupSize(columns: columns)
        try launch(
            "softmax", "softmax_forward", global: [rows * group], local: [group],
            [.buffer(input), .buffer(output), .int(columns), .local(floats: group)])
    }

    public func softmaxBackward(output: DeviceStorage, outputGradient: DeviceStorage, inputGradient: DeviceStorage, rows: Int, columns: Int) throws {
        let group = rowGroupSize(columns: columns)
        try launch(
            "softmax", "softmax_backward", global: [rows * group], local: [group],
            [.buffer(output), .buffer(outputGradient), .buffer(inputGradient), .int(columns), .local(floats: group)])
    }

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

    /// Work-items a launch should have to keep a GPU's lanes busy; fewer outputs than this
    /// make a sum split its axis.
    static let parallelWorkItems = 16384
    /// Terms one work-item adds in a row before the next stage takes over.
    static let serialLength = 16
    /// Terms per work-item up to which a work-group per output sums its whole axis in one
    /// launch (bias gradients over a batch's rows): a second launch costs a GPU more than
    /// these few more serial additions.
    static let singleLaunchSerialLength = 64

    /// Every sum is parallel (Kernels/reduce.cl): one work-item per output when there are
    /// outputs enough; otherwise the axis is cut into chunks whose partial sums are summed
    /// again, by work-items (columns of `inner` > 1) or by work-groups in local memory.
    public func sum(_ input: DeviceStorage, output: DeviceStorage, outer: Int, axis: Int, inner: Int) throws {
        let outputs = outer * inner
        guard outputs > 0 else { return }
        if outputs >= Self.parallelWorkItems || axis <= 1 {
            try launch("reduce", "sum_forward", global: [outputs], [.buffer(input), .buffer(output), .int(outer), .int(axis), .int(inner)])
            return
        }
        let group = rowGroupSize(columns: axis)
        let singleLaunch = axis <= group * Self.singleLaunchSerialLength
        if inner > 1 && !singleLaunch {
            // Work-items over (outer, chunks, inner), then the chunks are summed.
            let chunkLength = max(Self.serialLength, (axis * outputs + Self.parallelWorkItems - 1) / Self.parallelWorkItems)
            let chunks = (axis + chunkLength - 1) / chunkLength
            let partials = try allocate(count: outer * chunks * inner)
            try launch(
                "reduce", "sum_partials_forward", global: [outer * chunks * inner],
                [
                    .buffer(input), .buffer(partials), .int(outer), .int(axis), .int(inner), .int(chunks), .int(chunkLength),
                ])
            try sum(partials, output: output, outer: outer, axis: chunks, inner: inner)
            return
        }
        // One work-group per (output, chunk); a second pass when there is more than one chunk.
        let chunkLength = singleLaunch ? axis : group * Self.serialLength
        let chunks = (axis + chunkLength - 1) / chunkLength
        let result = chunks == 1 ? output : try allocate(count: outputs * chunks)
        try launch(
            "reduce", "sum_group_forward", global: [outputs * chunks * group], local: [group],
            [
                .buffer(input), .buffer(result), .int(axis), .int(inner), .int(chunks), .int(chunkLength), .local(floats: group),
            ])
        if chunks > 1 { try sum(result, output: output, outer: outputs, axis: chunks, inner: 1) }
    }

    public func broadcast(_ input: DeviceStorage, output: DeviceStorage, outer: Int, axis: Int, inner: Int) throws {
        try launch(
            "reduce", "broadcast_forward", global: [outer * axis * inner],
            [.buffer(input), .buffer(output), .int(outer), .int(axis), .int(inner)])
    }

    public func permute(_ input: DeviceStorage, output: DeviceStorage, shape: [Int], permutation: [Int]) throws {
        var inputStrides = [Int](repeating: 1, count: shape.count)
        for axis in stride(from: shape.count - 2, through: 0, by: -1) { inputStrides[axis] = inputStrides[axis + 1] * shape[axis + 1] }
        // Pad to rank 6 with leading axes of size 1 (stride 0).
        let padding = 6 - shape.count
        let sizes = [Int](repeating: 1, count: padding) + permutation.map { shape[$0] }
        let strides = [Int](repeating: 0, count: padding) + permutation.map { inputStrides[$0] }
        let count = shape.reduce(1, *)
        try launch(
            "permute", "permute_forward", global: [count],
            [.buffer(input), .buffer(output), .int(count)] + sizes.map { .int($0) } + strides.map { .int($0) })
    }

    public func dropout(_ input: DeviceStorage, output: DeviceStorage, count: Int, probability: Float, seed: UInt32, offset: UInt32) throws {
        try launch(
            "dropout", "dropout_forward", global: [count],
            [.buffer(input), .buffer(output), .int(count), .float(probability), .uint(seed), .uint(offset)])
    }

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

/// Block copies and the patch layout.
extension OpenCLBackend {
    public func copyBlocks(
        from source: DeviceStorage, offset sourceOffset: Int, stride sourceStride: Int,
        to destination: DeviceStorage, offset destinationOffset: Int, stride destinationStride: Int, length: Int, count: Int
    ) throws {
        try launch(
            "elementwise", "copy_blocks", global: [length, count],
            [
                .buffer(source), .int(sourceOffset), .int(sourceStride), .buffer(destination), .int(destinationOffset),
                .int(destinationStride), .int(length), .int(count),
            ])
    }

    public func patchify(_ images: DeviceStorage, output: DeviceStorage, batch: Int, channels: Int, height: Int, width: Int, patch: Int) throws {
        let count = batch * channels * (height / patch) * patch * (width / patch) * patch
        try launch(
            "patchify", "patchify_forward", global: [count],
            [.buffer(images), .buffer(output), .int(count), .int(channels), .int(height), .int(width), .int(patch)])
    }

    public func unpatchify(_ patches: DeviceStorage, output: DeviceStorage, batch: Int, channels: Int, height: Int, width: Int, patch: Int) throws {
        let count = batch * channels * (height / patch) * patch * (width / patch) * patch
        try launch(
            "patchify", "patchify_backward", global: [count],
            [.buffer(patches), .buffer(output), .int(count), .int(channels), .int(height), .int(width), .int(patch)])
    }
}

extension OpenCLBackend {
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
