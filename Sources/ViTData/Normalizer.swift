/// Turns raw pixel bytes into normalised floats, `(pixel / 255 - mean[c]) / std[c]`, through
/// a 256-entry table per channel (one load per pixel, no arithmetic).
public struct Normalizer: Sendable {
    /// The statistics the table was built from.
    public let statistics: ChannelStatistics
    /// `channels * 256` entries: `table[c * 256 + p]` is the normalised value of byte `p` in channel `c`.
    public let table: [Float]

    /// A normaliser for `statistics`. A channel whose deviation is zero (a constant
    /// channel) is only centred, not scaled.
    public init(statistics: ChannelStatistics) {
        self.statistics = statistics
        var table = [Float](repeating: 0, count: statistics.channels * 256)
        for channel in 0..<statistics.channels {
            let mean = Double(statistics.mean[channel])
            let deviation = Double(statistics.standardDeviation[channel])
            let scale = deviation > 0 ? 1 / deviation : 1
            for value in 0..<256 {
                table[channel * 256 + value] = Float((Double(value) / 255 - mean) * scale)
            }
        }
        self.table = table
    }

    /// Number of channels.
    public var channels: Int { statistics.channels }

    /// The normalised value of byte `pixel` in `channel`.
    public func value(of pixel: UInt8, channel: Int) -> Float {
        table[channel * 256 + Int(pixel)]
    }

    /// The normalised value of a zero pixel in `channel`: what zero padding becomes.
    public func zeroValue(channel: Int) -> Float {
        table[channel * 256]
    }

    /// Every image of `dataset` normalised, NCHW, without augmentation.
    public func normalize(_ dataset: Dataset) -> [Float] {
        precondition(dataset.channels == channels, "Normalizer: \(channels) channels, data set has \(dataset.channels)")
        let plane = dataset.height * dataset.width
        return [Float](unsafeUninitializedCapacity: dataset.images.count) { buffer, initialized in
            table.withUnsafeBufferPointer { lookup in
                dataset.images.withUnsafeBufferPointer { pixels in
                    guard let source = pixels.baseAddress, let destination = buffer.baseAddress else { return }
                    for planeIndex in 0..<(dataset.count * channels) {
                        let channelTable = lookup.baseAddress! + (planeIndex % channels) * 256
                        let from = source + planeIndex * plane
                        let to = destination + planeIndex * plane
                        for offset in 0..<plane {
                            to[offset] = channelTable[Int(from[offset])]
                        }
                    }
                }
            }
            initialized = dataset.images.count
        }
    }
}
