/// The sizes of one 2D convolution over channels-last images [batch, height, width, channels]
/// with a square kernel, a stride and zero padding on every side, as PyTorch's
/// `Conv2d(channels, out, kernelSize, stride, padding)` on the same images in [B, C, H, W].
public struct ConvolutionGeometry: Equatable, Sendable {
    public var batch: Int
    public var height: Int
    public var width: Int
    public var channels: Int
    public var kernelSize: Int
    public var stride: Int
    public var padding: Int

    public init(batch: Int, height: Int, width: Int, channels: Int, kernelSize: Int, stride: Int, padding: Int) {
        (self.batch, self.height, self.width, self.channels) = (batch, height, width, channels)
        (self.kernelSize, self.stride, self.padding) = (kernelSize, stride, padding)
    }

    /// Output rows: (height + 2 padding - kernelSize) / stride + 1, PyTorch's rounding down.
    public var outputHeight: Int { (height + 2 * padding - kernelSize) / stride + 1 }
    public var outputWidth: Int { (width + 2 * padding - kernelSize) / stride + 1 }
    /// Values of one column (one output pixel's receptive field): channels x kernel x kernel,
    /// in the (channel, row, column) order of a convolution weight [out, channels, k, k].
    public var columnSize: Int { channels * kernelSize * kernelSize }
    /// Output pixels of the whole batch, the rows of the column matrix.
    public var outputPixels: Int { batch * outputHeight * outputWidth }
    /// Elements of the input images.
    public var inputCount: Int { batch * height * width * channels }
    /// Elements of the column matrix [outputPixels, columnSize].
    public var columnCount: Int { outputPixels * columnSize }
}

/// Kernels of a 2D convolution computed as im2col plus GEMM (the GEMM is `Backend.gemm`):
/// `im2col` lays every output pixel's receptive field out as one row, so that the
/// convolution is columns [pixels, C k k] times the weight [out, C k k]^T.
///
/// Legend: images are channels-last [batch, height, width, channels]; column row
/// (b, oy, ox) holds, at (c, ky, kx), the pixel (oy stride - padding + ky, ox stride -
/// padding + kx) of channel c of image b, or 0 where that lies in the padding.
public protocol ConvolutionKernels {
    /// The column matrix [outputPixels, columnSize] of `input` [batch, height, width, channels].
    func im2col(_ input: DeviceStorage, output: DeviceStorage, geometry: ConvolutionGeometry) throws
    /// The adjoint of `im2col`: every input pixel's sum of the column entries that copied it
    /// (overlapping receptive fields add), the input gradient from the columns' gradient.
    func col2im(_ columns: DeviceStorage, output: DeviceStorage, geometry: ConvolutionGeometry) throws
}

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
        try backend.kernels(ConvolutionKernels.self).im2col(storage, output: output.storage, geometry: geometry)
        return output.recording([self]) { gradient in
            let images = try Tensor.empty(self.shape, on: gradient.backend)
            try gradient.backend.kernels(ConvolutionKernels.self).col2im(gradient.storage, output: images.storage, geometry: geometry)
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
