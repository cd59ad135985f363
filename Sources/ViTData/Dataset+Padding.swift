extension Dataset {
    /// The same images centred on a larger `height x width` canvas of zero pixels, for
    /// example Fashion-MNIST's 28x28 on 32x32 to match a 32px model. The border gets
    /// `(height - self.height) / 2` rows on top and the rest at the bottom, likewise left
    /// and right. Zero is the raw pixel value, so after normalisation the border holds the
    /// normalised value of pixel 0, exactly as a zero-padded random crop does.
    ///
    /// Returns `self` unchanged when the size already matches; throws
    /// `DataError.invalidArgument` when the target is smaller than the images.
    public func padded(toHeight targetHeight: Int, width targetWidth: Int) throws -> Dataset {
        guard targetHeight >= height, targetWidth >= width else {
            throw DataError.invalidArgument(
                operation: "Dataset.padded",
                reason: "target \(targetHeight)x\(targetWidth) is smaller than the \(height)x\(width) images")
        }
        if targetHeight == height, targetWidth == width {
            return self
        }
        let top = (targetHeight - height) / 2
        let left = (targetWidth - width) / 2
        let sourcePlane = height * width
        let targetPlane = targetHeight * targetWidth
        let planes = count * channels
        var pixels = [UInt8](repeating: 0, count: planes * targetPlane)
        pixels.withUnsafeMutableBufferPointer { destination in
            images.withUnsafeBufferPointer { source in
                let target = destination.baseAddress!
                let origin = source.baseAddress!
                for plane in 0..<planes {
                    for row in 0..<height {
                        (target + plane * targetPlane + (top + row) * targetWidth + left).update(
                            from: origin + plane * sourcePlane + row * width, count: width)
                    }
                }
            }
        }
        return try Dataset(
            name: name, images: pixels, labels: labels, channels: channels, height: targetHeight,
            width: targetWidth, classCount: classCount, classNames: classNames)
    }
}
