import Foundation
import ViTCore

/// The element-wise parts of linear attention (see `LinearAttentionKernels`); its products
/// are GEMMs through OpenBLAS, composed in `Backend.linearAttentionForward`.
extension CPUBackend: LinearAttentionKernels {
    public func linearAttentionAppendOnes(_ value: DeviceStorage, output: DeviceStorage, rows: Int, headSize: Int) throws {
        let (v, augmented) = (host(value), host(output))
        profiler.measure("linear_attention_append_ones") {
            Parallel.forEachChunk(rows, grain: max(1, Self.elementGrain / max(headSize + 1, 1))) { range in
                for row in range {
                    let target = augmented + row * (headSize + 1)
                    target.update(from: v + row * headSize, count: headSize)
                    target[headSize] = 1
                }
            }
        }
    }

    public func linearAttentionNormalizeForward(
        numerator: DeviceStorage, output: DeviceStorage, denominator: DeviceStorage, rows: Int, headSize: Int, epsilon: Float
    ) throws {
        let (numerators, out, denominators) = (host(numerator), host(output), host(denominator))
        profiler.measure("linear_attention_forward") {
            Parallel.forEachChunk(rows, grain: max(1, Self.elementGrain / max(headSize + 1, 1))) { range in
                for row in range {
                    let source = numerators + row * (headSize + 1)
                    let total = source[headSize] + epsilon
                    for d in 0..<headSize { out[row * headSize + d] = source[d] / total }
                    denominators[row] = total
                }
            }
        }
    }

    public func linearAttentionNormalizeBackward(
        outputGradient: DeviceStorage, output: DeviceStorage, denominator: DeviceStorage, numeratorGradient: DeviceStorage,
        rows: Int, headSize: Int
    ) throws {
        let (dout, out, denominators, dnumerator) = (host(outputGradient), host(output), host(denominator), host(numeratorGradient))
        profiler.measure("linear_attention_backward") {
            Parallel.forEachChunk(rows, grain: max(1, Self.elementGrain / max(headSize + 1, 1))) { range in
                for row in range {
                    let offset = row * headSize
                    let target = dnumerator + row * (headSize + 1)
                    var dot: Float = 0
                    for d in 0..<headSize {
                        target[d] = dout[offset + d] / denominators[row]
                        dot += dout[offset + d] * out[offset + d]
                    }
                    target[headSize] = -dot / denominators[row]
                }
            }
        }
    }
}
