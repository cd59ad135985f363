/// The patch layout of patch embedding (Kernels/patchify.cl).
public protocol PatchifyKernels {
    /// Cuts images [batch, channels, height, width] into patches [batch, (height/patch) (width/patch),
    /// channels patch patch], each patch's values in (channel, row, column) order: the layout of
    /// a convolution weight [out, channels, patch, patch], so patch embedding is then one GEMM.
    func patchify(_ images: DeviceStorage, output: DeviceStorage, batch: Int, channels: Int, height: Int, width: Int, patch: Int) throws
    /// The adjoint of `patchify`: puts patch values back at their pixels (patches do not overlap).
    func unpatchify(_ patches: DeviceStorage, output: DeviceStorage, batch: Int, channels: Int, height: Int, width: Int, patch: Int) throws
}

/// Joins tensors along `axis`; every other axis must agree.
public func concatenate(_ tensors: [Tensor], axis: Int) throws -> Tensor {
    guard let first = tensors.first else {
        throw ViTError.invalidArgument(operation: "concatenate", detail: "needs at least one tensor")
    }
    let backend = first.backend
    for tensor in tensors.dropFirst() { _ = try Tensor.commonBackend("concatenate", first, tensor) }
    let resolved = axis < 0 ? axis + first.shape.rank : axis
    guard (0..<first.shape.rank).contains(resolved) else {
        throw ViTError.invalidArgument(operation: "concatenate", detail: "axis \(axis) out of range for \(first.shape)")
    }
    for tensor in tensors {
        var expected = first.shape.dimensions
        expected[resolved] = tensor.shape.rank == first.shape.rank ? tensor.shape[resolved] : -1
        guard tensor.shape.dimensions == expected else {
            throw ViTError.shapeMismatch(operation: "concatenate", detail: "\(tensor.shape) does not match \(first.shape) outside axis \(resolved)")
        }
    }
    let outer = first.shape.dimensions[..<resolved].reduce(1, *)
    let inner = first.shape.dimensions[(resolved + 1)...].reduce(1, *)
    let total = tensors.reduce(0) { $0 + $1.shape[resolved] }
    var dimensions = first.shape.dimensions
    dimensions[resolved] = total
    let output = try Tensor.empty(Shape(dimensions), on: backend)
    var start = 0
    for tensor in tensors {
        let length = tensor.shape[resolved] * inner
        try backend.copyBlocks(
            from: tensor.storage, offset: 0, stride: length, to: output.storage, offset: start * inner,
            stride: total * inner, length: length, count: outer)
        start += tensor.shape[resolved]
    }
    let sizes = tensors.map { $0.shape[resolved] }
    return output.recording(tensors) { gradient in
        var offset = 0
        return try sizes.map { size in
            defer { offset += size }
            return try gradient.sliced(axis: resolved, offset..<(offset + size))
        }
    }
}

extension Tensor {
    /// The elements whose index along `axis` lies in `range` (a copy).
    public func sliced(axis: Int, _ range: Range<Int>) throws -> Tensor {
        let resolved = axis < 0 ? axis + shape.rank : axis
        guard (0..<shape.rank).contains(resolved), range.lowerBound >= 0, range.upperBound <= shape[resolved] else {
            throw ViTError.invalidArgument(operation: "slice", detail: "range \(range) on axis \(axis) out of bounds for \(shape)")
        }
        let outer = shape.dimensions[..<resolved].reduce(1, *)
        let inner = shape.dimensions[(resolved + 1)...].reduce(1, *)
        var dimensions = shape.dimensions
        dimensions[resolved] = range.count
        let output = try emptyLike(Shape(dimensions))
        try backend.copyBlocks(
            from: storage, offset: range.lowerBound * inner, stride: shape[resolved] * inner, to: output.storage, offset: 0,
            stride: range.count * inner, length: range.count * inner, count: outer)
        let original = shape
        return output.recording([self]) { gradient in
            let expanded = try Tensor.zeros(original, on: gradient.backend)
            try gradient.backend.copyBlocks(
                from: gradient.storage, offset: 0, stride: range.count * inner, to: expanded.storage,
                offset: range.lowerBound * inner, stride: original[resolved] * inner,
                length: range.count * inner, count: outer)
            return [expanded]
        }
    }

    /// Consecutive parts of the tensor along `axis`, of the given sizes (copies). One
    /// backward rule serves all parts: their gradients are written into a single gradient
    /// of the input, where slicing each part would pad each part's gradient with zeros to
    /// the full shape and add them up.
    public func split(axis: Int, sizes: [Int]) throws -> [Tensor] {
        let resolved = axis < 0 ? axis + shape.rank : axis
        guard (0..<shape.rank).contains(resolved), sizes.allSatisfy({ $0 > 0 }), sizes.reduce(0, +) == shape[resolved] else {
            throw ViTError.invalidArgument(operation: "split", detail: "sizes \(sizes) on axis \(axis) do not add up to \(shape)")
        }
        let outer = shape.dimensions[..<resolved].reduce(1, *)
        let inner = shape.dimensions[(resolved + 1)...].reduce(1, *)
        let starts = sizes.indices.map { sizes[..<$0].reduce(0, +) }
        let (original, axisLength) = (shape, shape[resolved])
        let parts = try zip(starts, sizes).map { start, size in
            var dimensions = original.dimensions
            dimensions[resolved] = size
            let part = try emptyLike(Shape(dimensions))
            try backend.copyBlocks(
                from: storage, offset: start * inner, stride: axisLength * inner, to: part.storage, offset: 0,
                stride: size * inner, length: size * inner, count: outer)
            return part
        }
        Tensor.recording(parts, inputs: [self]) { gradients in
            let backend = gradients.compactMap { $0 }[0].backend
            // Parts without a gradient contribute zeros.
            let whole = gradients.contains { $0 == nil } ? try Tensor.zeros(original, on: backend) : try Tensor.empty(original, on: backend)
            for (gradient, (start, size)) in zip(gradients, zip(starts, sizes)) {
                guard let gradient else { continue }
                try backend.copyBlocks(
                    from: gradient.storage, offset: 0, stride: size * inner, to: whole.storage, offset: start * inner,
                    stride: axisLength * inner, length: size * inner, count: outer)
            }
            return [whole]
        }
        return parts
    }

    /// Repeats the tensor `count` times along a new axis inserted at `axis`
    /// (a class token [1, D] expanded to [batch, 1, D], for example).
    public func expanded(axis: Int, count: Int) throws -> Tensor {
        guard (0...shape.rank).contains(axis), count >= 0 else {
            throw ViTError.invalidArgument(operation: "expand", detail: "cannot insert axis \(axis) of size \(count) into \(shape)")
        }
        let outer = shape.dimensions[..<axis].reduce(1, *)
        let inner = shape.dimensions[axis...].reduce(1, *)
        var dimensions = shape.dimensions
        dimensions.insert(count, at: axis)
        let output = try emptyLike(Shape(dimensions))
        try backend.kernels(ReductionKernels.self).broadcast(storage, output: output.storage, outer: outer, axis: count, inner: inner)
        return output.recording([self]) { gradient in [try gradient.sum(axis: axis)] }
    }

    /// Images [batch, channels, height, width] as patches [batch, patches, channels * patch * patch]
    /// in the layout of a convolution weight [out, channels, patch, patch] (see `Backend.patchify`).
    public func patchified(patch: Int) throws -> Tensor {
        guard shape.rank == 4, patch > 0, shape[2] % patch == 0, shape[3] % patch == 0 else {
            throw ViTError.invalidArgument(
                operation: "patchify",
                detail: "images \(shape) must be [batch, channels, height, width] with sides divisible by the patch size \(patch)")
        }
        let (batch, channels, height, width) = (shape[0], shape[1], shape[2], shape[3])
        let output = try emptyLike([batch, (height / patch) * (width / patch), channels * patch * patch])
        try backend.kernels(PatchifyKernels.self).patchify(
            storage, output: output.storage, batch: batch, channels: channels, height: height, width: width, patch: patch)
        return output.recording([self]) { gradient in
            let images = try Tensor.empty([batch, channels, height, width], on: gradient.backend)
            try gradient.backend.kernels(PatchifyKernels.self).unpatchify(
                gradient.storage, output: images.storage, batch: batch, channels: channels, height: height, width: width, patch: patch)
            return [images]
        }
    }
}
