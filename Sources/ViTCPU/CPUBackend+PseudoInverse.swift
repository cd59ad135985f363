import Foundation
import ViTCore

/// The starting point of the iterative pseudo-inverse (see `PseudoInverseKernels`).
extension CPUBackend: PseudoInverseKernels {
    public func pseudoInverseStartForward(_ matrices: DeviceStorage, output: DeviceStorage, scales: DeviceStorage, batch: Int, size: Int) throws {
        let (k, z, scale) = (host(matrices), host(output), host(scales))
        profiler.measure("pinv_start_forward") {
            Parallel.forEachChunk(batch, grain: max(1, Self.elementGrain / max(size * size, 1))) { range in
                for matrix in range {
                    let source = k + matrix * size * size
                    var largestColumn: Float = 0
                    var largestRow: Float = 0
                    for j in 0..<size {
                        var column: Float = 0
                        var row: Float = 0
                        for i in 0..<size {
                            column += abs(source[i * size + j])
                            row += abs(source[j * size + i])
                        }
                        largestColumn = max(largestColumn, column)
                        largestRow = max(largestRow, row)
                    }
                    let factor = 1 / (largestColumn * largestRow)
                    scale[matrix] = factor
                    let target = z + matrix * size * size
                    for i in 0..<size {
                        for j in 0..<size { target[j * size + i] = factor * source[i * size + j] }
                    }
                }
            }
        }
    }

    public func pseudoInverseStartBackward(outputGradient: DeviceStorage, scales: DeviceStorage, inputGradient: DeviceStorage, batch: Int, size: Int)
        throws
    {
        let (dz, scale, dk) = (host(outputGradient), host(scales), host(inputGradient))
        profiler.measure("pinv_start_backward") {
            Parallel.forEachChunk(batch, grain: max(1, Self.elementGrain / max(size * size, 1))) { range in
                for matrix in range {
                    let (source, target) = (dz + matrix * size * size, dk + matrix * size * size)
                    for i in 0..<size {
                        for j in 0..<size { target[i * size + j] = scale[matrix] * source[j * size + i] }
                    }
                }
            }
        }
    }
}
