extension Dataset {
    /// The images scaled to `height x width` by bilinear interpolation with pixel centres
    /// aligned (PyTorch's `interpolate(mode="bilinear", align_corners=False)`, PIL's bilinear
    /// when enlarging), rounded to the nearest pixel value. Fashion-MNIST's 28x28 become
    /// 32x32 this way with every patch of a 32 px model covering the garment, where padding
    /// leaves the outer ring of patches half empty.
    ///
    /// Returns `self` unchanged when the size already matches; throws
    /// `DataError.invalidArgument` for a size that is not positive.
    public func resized(toHeight targetHeight: Int, width targetWidth: Int) throws -> Dataset {
        guard targetHeight > 0, targetWidth > 0 else {
            throw DataError.invalidArgument(operation: "Dataset.resized", reason: "target \(targetHeight)x\(targetWidth) is not a positive size")
        }
        if targetHeight == height, targetWidth == width {
            return self
        }
        let rows = Self.interpolationTaps(source: height, target: targetHeight)
        let columns = Self.interpolationTaps(source: width, target: targetWidth)
        let sourcePlane = height * width
        let targetPlane = targetHeight * targetWidth
        var pixels = [UInt8](repeating: 0, count: count * channels * targetPlane)
        for plane in 0..<(count * channels) {
            let source = plane * sourcePlane
            for (row, vertical) in rows.enumerated() {
                let upper = source + vertical.lower * width
                let lower = source + vertical.upper * width
                for (column, horizontal) in columns.enumerated() {
                    func blend(_ start: Int) -> Float {
                        Float(images[start + horizontal.lower]) * (1 - horizontal.weight) + Float(images[start + horizontal.upper])
                            * horizontal.weight
                    }
                    let value = blend(upper) * (1 - vertical.weight) + blend(lower) * vertical.weight
                    pixels[plane * targetPlane + row * targetWidth + column] = UInt8(min(255, value.rounded()))
                }
            }
        }
        return try Dataset(
            name: name, images: pixels, labels: labels, channels: channels, height: targetHeight,
            width: targetWidth, classCount: classCount, classNames: classNames)
    }

    /// For each target index, the two source indices it lies between and the weight of the
    /// upper one: the target pixel's centre mapped back, clamped to the source's edges.
    private static func interpolationTaps(source: Int, target: Int) -> [(lower: Int, upper: Int, weight: Float)] {
        let scale = Float(source) / Float(target)
        return (0..<target).map { index in
            let position = max(0, (Float(index) + 0.5) * scale - 0.5)
            let lower = min(Int(position), source - 1)
            return (lower, min(lower + 1, source - 1), position - Float(lower))
        }
    }
}
