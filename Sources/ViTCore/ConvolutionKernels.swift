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
