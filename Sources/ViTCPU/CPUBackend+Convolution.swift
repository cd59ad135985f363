import ViTCore

/// im2col and its adjoint (see `ConvolutionKernels`). The forward pass fills one column row
/// per output pixel; the adjoint scatters each image's columns back into that image, adding
/// where receptive fields overlap, so the chunks (whole images) never write the same pixel.
/// The OpenCL kernel gathers instead; both add the same terms.
extension CPUBackend: ConvolutionKernels {
    public func im2col(_ input: DeviceStorage, output: DeviceStorage, geometry: ConvolutionGeometry) throws {
        let (x, columns) = (host(input), host(output))
        let g = geometry
        let taps = g.kernelSize * g.kernelSize
        profiler.measure("im2col") {
            Parallel.forEachChunk(g.outputPixels, grain: max(1, Self.elementGrain / max(g.columnSize, 1))) { range in
                for pixel in range {
                    let row = columns + pixel * g.columnSize
                    Self.forEachTap(of: pixel, g) { tap, source in
                        guard let source else {
                            for channel in 0..<g.channels { row[tap + channel * taps] = 0 }
                            return
                        }
                        for channel in 0..<g.channels { row[tap + channel * taps] = x[source + channel] }
                    }
                }
            }
        }
    }

    public func col2im(_ columns: DeviceStorage, output: DeviceStorage, geometry: ConvolutionGeometry) throws {
        let (source, y) = (host(columns), host(output))
        let g = geometry
        let (imagePixels, imageSize, taps) = (g.outputHeight * g.outputWidth, g.height * g.width * g.channels, g.kernelSize * g.kernelSize)
        profiler.measure("col2im") {
            Parallel.forEachChunk(g.batch, grain: max(1, Self.elementGrain / max(imagePixels * g.columnSize, 1))) { range in
                for image in range {
                    (y + image * imageSize).update(repeating: 0, count: imageSize)
                    for pixel in (image * imagePixels)..<((image + 1) * imagePixels) {
                        let row = source + pixel * g.columnSize
                        Self.forEachTap(of: pixel, g) { tap, target in
                            guard let target else { return }
                            for channel in 0..<g.channels { y[target + channel] += row[tap + channel * taps] }
                        }
                    }
                }
            }
        }
    }

    /// Calls `body(tap, inputOffset)` for every tap (row, column) of output pixel `pixel`'s
    /// receptive field: the tap's entry for channel 0 in the column row (channel c's is
    /// `tap + c k k`) and the offset of the pixel's channel 0 in the input (channel c's is
    /// `+ c`), or nil where the tap lies in the padding.
    @inline(__always)
    private static func forEachTap(of pixel: Int, _ g: ConvolutionGeometry, _ body: (Int, Int?) -> Void) {
        let (ox, oy, image) = (pixel % g.outputWidth, (pixel / g.outputWidth) % g.outputHeight, pixel / (g.outputWidth * g.outputHeight))
        let k = g.kernelSize
        for row in 0..<k {
            let y = oy * g.stride - g.padding + row
            for column in 0..<k {
                let x = ox * g.stride - g.padding + column
                let inside = (0..<g.height).contains(y) && (0..<g.width).contains(x)
                body(row * k + column, inside ? ((image * g.height + y) * g.width + x) * g.channels : nil)
            }
        }
    }
}
