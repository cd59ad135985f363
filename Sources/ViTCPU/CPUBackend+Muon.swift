import COpenBLAS
import Foundation
import ViTCore

/// Muon's momentum, Newton-Schulz polynomial and update: the reference of Kernels/muon.cl.
extension CPUBackend: MuonKernels {
    public func muonMomentum(gradient: DeviceStorage, buffer: DeviceStorage, work: DeviceStorage, table: MuonMatrixTable, momentum: Float) throws {
        let (g, b, w) = (host(gradient), host(buffer), host(work))
        profiler.measure("muon_momentum") {
            forEachMatrix(of: table) { matrix in
                let (gradients, buffers, slot) = (g + matrix.offset, b + matrix.offset, w + matrix.slotOffset)
                for row in 0..<matrix.rows {
                    for column in 0..<matrix.columns {
                        let i = row * matrix.columns + column
                        let updated = momentum * buffers[i] + gradients[i]
                        buffers[i] = updated
                        slot[matrix.slotIndex(row: row, column: column)] = gradients[i] + momentum * updated
                    }
                }
            }
        }
    }

    public func newtonSchulzPolynomial(
        gram: DeviceStorage, polynomial: DeviceStorage, matrices: Int, side: Int, coefficients: (a: Float, b: Float, c: Float),
        normalize: Bool, epsilon: Float
    ) throws {
        let (g, p) = (host(gram), host(polynomial))
        let (a, b, c) = coefficients
        let size = side * side
        profiler.measure("newton_schulz_polynomial") {
            Parallel.forEachChunk(matrices, grain: max(1, Self.gemmGrain / max(size * side, 1))) { range in
                for matrix in range {
                    let (gramMatrix, output) = (g + matrix * size, p + matrix * size)
                    let trace = (0..<side).reduce(Float(0)) { $0 + gramMatrix[$1 * side + $1] }
                    let f = normalize ? 1 / (trace.squareRoot() + epsilon) : 1
                    let squared = f * f
                    // output = f c (f^2)^2 G G, then f (b f^2 G + a I) is added.
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(side), Int32(side), Int32(side), f * c * squared * squared,
                        gramMatrix, Int32(side), gramMatrix, Int32(side), 0, output, Int32(side))
                    for e in 0..<size { output[e] += f * (b * (squared * gramMatrix[e])) }
                    for i in 0..<side { output[i * side + i] += f * a }
                }
            }
        }
    }

    public func muonUpdate(parameter: DeviceStorage, work: DeviceStorage, table: MuonMatrixTable, learningRate: Float, weightDecay: Float) throws {
        let (p, w) = (host(parameter), host(work))
        profiler.measure("muon_update") {
            forEachMatrix(of: table) { matrix in
                let (values, slot) = (p + matrix.offset, w + matrix.slotOffset)
                let decay = matrix.decayed ? 1 - learningRate * weightDecay : 1
                let step = learningRate * matrix.updateScale
                for row in 0..<matrix.rows {
                    for column in 0..<matrix.columns {
                        let i = row * matrix.columns + column
                        values[i] = values[i] * decay - step * slot[matrix.slotIndex(row: row, column: column)]
                    }
                }
            }
        }
    }

    /// Runs `body` for every matrix of `table`, the matrices split over the cores.
    private func forEachMatrix(of table: MuonMatrixTable, _ body: (MuonMatrix) -> Void) {
        let matrices = table.matrices
        Parallel.forEachChunk(matrices.count, grain: max(1, Self.elementGrain / max(table.largestCount, 1))) { range in
            for index in range { body(matrices[index]) }
        }
    }
}
