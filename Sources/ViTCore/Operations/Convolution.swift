extension Tensor {
    /// The receptive fields of channels-last images [batch, height, width, channels] as rows
    /// [batch, outHeight, outWidth, channels * kernelSize * kernelSize] (see
    /// `ConvolutionKernels`). Differentiable; the input gradient is `col2im`.
    public func im2col(kernelSize: Int, stride: Int, padding: Int) throws -> Tensor {
        guard shape.rank == 4 else {
            throw ViTError.invalidArgument(operation: "im2col", detail: "needs images [batch, height, width, channels], got \(shape)")
        }
        let geometry = ConvolutionGeometry(
            batch: shape[0], height: shape[1], width: shape[2], channels: shape[3], kernelSize: kernelSize, stride: stride, padding: padding)
        guard kernelSize > 0, stride > 0, padding >= 0, padding < kernelSize, geometry.outputHeight > 0, geometry.outputWidth > 0 else {
            throw ViTError.invalidArgument(
                operation: "im2col",
                detail: "kernel \(kernelSize), stride \(stride) and padding \(padding) give no output for images \(shape); "
                    + "kernel and stride must be positive and padding in 0 ..< kernel")
        }
        let output = try emptyLike([geometry.batch, geometry.outputHeight, geometry.outputWidth, geometry.columnSize])
        try backend.im2col(storage, output: output.storage, geometry: geometry)
        return output.recording([self]) { gradient in
            let images = try Tensor.empty(self.shape, on: gradient.backend)
            try gradient.backend.col2im(gradient.storage, output: images.storage, geometry: geometry)
            return [images]
        }
    }
}

/// A 2D convolution of channels-last images [batch, height, width, channels] with PyTorch's
/// weight [out, channels, k, k] and optional bias [out]: im2col, then one GEMM with the
/// weight viewed as [out, channels k k]; the output [batch, outHeight, outWidth, out] stays
/// channels-last. Differentiable in all three.
public func convolution2D(_ input: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) throws -> Tensor {
    guard input.shape.rank == 4, weight.shape.rank == 4, weight.shape[1] == input.shape[3], weight.shape[2] == weight.shape[3] else {
        throw ViTError.shapeMismatch(
            operation: "convolution2D",
            detail: "needs images [batch, height, width, channels] and a weight [out, channels, k, k], got \(input.shape) and \(weight.shape)")
    }
    let (outputs, kernelSize) = (weight.shape[0], weight.shape[2])
    let matrix = try weight.reshaped([outputs, weight.elementCount / outputs])
    // A 1 x 1 kernel at stride 1 without padding reads each pixel once: its columns are the input.
    let pointwise = kernelSize == 1 && stride == 1 && padding == 0
    let columns = pointwise ? input : try input.im2col(kernelSize: kernelSize, stride: stride, padding: padding)
    return try linear(columns, weight: matrix, bias: bias)
}
