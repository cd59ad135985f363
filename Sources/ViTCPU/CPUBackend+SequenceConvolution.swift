import ViTCore

/// Depthwise convolution along the token axis (see `SequenceConvolutionKernels`). The rows of
/// one (image, head) are contiguous, so tap t pairs one contiguous block of output rows with
/// one contiguous block of input rows, shifted by t - taps / 2: each tap is one long
/// vectorised loop (forward) or dot product (weight gradient).
extension CPUBackend: SequenceConvolutionKernels {
    public func sequenceConvolutionForward(
        _ input: DeviceStorage, weight: DeviceStorage, output: DeviceStorage, batch: Int, channels: Int,
        tokens: Int, width: Int, taps: Int, reversed: Bool
    ) throws {
        let (x, w, y) = (host(input), host(weight), host(output))
        let matrix = tokens * width
        profiler.measure("sequence_convolution_forward") {
            Parallel.forEachChunk(batch * channels, grain: max(1, Self.elementGrain / max(matrix * taps, 1))) { range in
                for item in range {
                    let (source, target) = (x + item * matrix, y + item * matrix)
                    target.update(repeating: 0, count: matrix)
                    for tap in 0..<taps {
                        let coefficient = w[(item % channels) * taps + (reversed ? taps - 1 - tap : tap)]
                        let (rows, shift) = Self.overlap(tokens: tokens, shift: tap - taps / 2)
                        guard !rows.isEmpty else { continue }
                        let (into, from) = (target + rows.lowerBound * width, source + (rows.lowerBound + shift) * width)
                        for index in 0..<(rows.count * width) { into[index] += coefficient * from[index] }
                    }
                }
            }
        }
    }

    public func sequenceConvolutionWeightGradient(
        outputGradient: DeviceStorage, input: DeviceStorage, weightGradient: DeviceStorage, batch: Int,
        channels: Int, tokens: Int, width: Int, taps: Int
    ) throws {
        let (dy, x, dw) = (host(outputGradient), host(input), host(weightGradient))
        let matrix = tokens * width
        profiler.measure("sequence_convolution_weight_gradient") {
            Parallel.forEachChunk(channels * taps, grain: max(1, Self.elementGrain / max(batch * matrix, 1))) { range in
                for entry in range {
                    let (channel, tap) = (entry / taps, entry % taps)
                    let (rows, shift) = Self.overlap(tokens: tokens, shift: tap - taps / 2)
                    var total: Float = 0
                    for image in 0..<batch where !rows.isEmpty {
                        let offset = (image * channels + channel) * matrix
                        total += VectorMath.dot(
                            dy + offset + rows.lowerBound * width, x + offset + (rows.lowerBound + shift) * width,
                            count: rows.count * width)
                    }
                    dw[entry] = total
                }
            }
        }
    }

    /// The output rows n whose input row n + shift lies inside 0 ..< tokens.
    private static func overlap(tokens: Int, shift: Int) -> (rows: Range<Int>, shift: Int) {
        (max(0, -shift)..<max(max(0, -shift), min(tokens, tokens - shift)), shift)
    }
}
