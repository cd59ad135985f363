/// Per-channel mean and standard deviation of pixel values scaled to [0, 1] (pixel / 255),
/// the numbers torchvision's `Normalize(mean, std)` takes.
public struct ChannelStatistics: Equatable, Sendable {
    /// Mean of pixel / 255, one per channel.
    public let mean: [Float]
    /// Population standard deviation of pixel / 255, one per channel.
    public let standardDeviation: [Float]

    /// Statistics given directly (for example published values); the arrays must have one
    /// entry per channel.
    public init(mean: [Float], standardDeviation: [Float]) {
        precondition(mean.count == standardDeviation.count, "ChannelStatistics: one mean and one deviation per channel")
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    /// Number of channels.
    public var channels: Int { mean.count }

    /// Computes the statistics over every pixel of `dataset`, normally the training set.
    /// Exact: it counts how often each byte value occurs per channel and sums in Double.
    public init(computedOver dataset: Dataset) {
        let channels = dataset.channels
        let plane = dataset.height * dataset.width
        var histogram = [UInt64](repeating: 0, count: channels * 256)
        histogram.withUnsafeMutableBufferPointer { counts in
            dataset.images.withUnsafeBufferPointer { pixels in
                guard let base = pixels.baseAddress else { return }
                let table = counts.baseAddress!
                for image in 0..<dataset.count {
                    for channel in 0..<channels {
                        let source = base + (image * channels + channel) * plane
                        let channelTable = table + channel * 256
                        for offset in 0..<plane {
                            channelTable[Int(source[offset])] &+= 1
                        }
                    }
                }
            }
        }
        var means: [Float] = []
        var deviations: [Float] = []
        for channel in 0..<channels {
            var total = 0.0
            var sum = 0.0
            var sumOfSquares = 0.0
            for value in 0..<256 {
                let count = Double(histogram[channel * 256 + value])
                let scaled = Double(value) / 255
                total += count
                sum += count * scaled
                sumOfSquares += count * scaled * scaled
            }
            let mean = total > 0 ? sum / total : 0
            let variance = total > 0 ? max(0, sumOfSquares / total - mean * mean) : 0
            means.append(Float(mean))
            deviations.append(Float(variance.squareRoot()))
        }
        self.init(mean: means, standardDeviation: deviations)
    }
}
