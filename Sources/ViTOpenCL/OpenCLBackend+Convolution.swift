import ViTCore

/// im2col and its adjoint (Kernels/im2col.cl); the local sizes come from the kernels'
/// limits on the device (`launch`'s default), as for the other element-wise kernels.
extension OpenCLBackend {
    public func im2col(_ input: DeviceStorage, output: DeviceStorage, geometry: ConvolutionGeometry) throws {
        try launch(
            "im2col", "im2col", global: [geometry.columnCount],
            [.buffer(input), .buffer(output)] + Self.arguments(geometry, count: geometry.columnCount))
    }

    public func col2im(_ columns: DeviceStorage, output: DeviceStorage, geometry: ConvolutionGeometry) throws {
        try launch(
            "im2col", "col2im", global: [geometry.inputCount],
            [.buffer(columns), .buffer(output)] + Self.arguments(geometry, count: geometry.inputCount))
    }

    /// The kernels' shared size arguments after their two buffers.
    private static func arguments(_ g: ConvolutionGeometry, count: Int) -> [KernelArgument] {
        [count, g.height, g.width, g.channels, g.kernelSize, g.stride, g.padding, g.outputHeight, g.outputWidth].map { .int($0) }
    }
}
