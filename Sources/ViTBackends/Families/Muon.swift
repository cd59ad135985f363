import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The muon family: Kernels/muon.cl, its checks and its benchmark rows.
    enum Muon: KernelFamilyDeclaration {
        static let name = "muon"

        /// Muon's kernels (Kernels/muon.cl): the momentum pass and the update over tables of
        /// tall, wide, square and 1 x 1 matrices at uneven offsets (and the seed ViT's 16 block
        /// matrices), and the Newton-Schulz polynomial at odd sides and the seed ViT's batch
        /// (16 Gram matrices of side 48), with and without normalisation.
        ///
        /// Tolerances: the momentum pass and the update evaluate the same formula on both
        /// backends (a contracted multiply-add at most differs): 1e-6 relative. The polynomial
        /// sums `side` products whose terms are at most 1 in size (the normalised Gram matrix
        /// has entries at most 1, the unnormalised check's are in [-1, 1)) in another order and
        /// scales them by c = 2: errors up to about 2 side u, so 2e-7 side absolute.
        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            var checks: [KernelCheck] = []
            let seedViT = Array(repeating: [(144, 48), (48, 48), (192, 48), (48, 192)], count: 4).flatMap { $0 }
            for shapes in scope.sizes([[(3, 5), (5, 3), (1, 1), (7, 7)]], large: [seedViT]) {
                let size = shapes.count > 4 ? "seed ViT" : shapes.map { "\($0.0)x\($0.1)" }.joined(separator: ",")
                // Matrices 3 floats apart in the arenas; slots one after the other, padded to 2 floats more than each needs.
                var (offset, slotOffset) = (5, 0)
                let matrices = shapes.enumerated().map { index, shape in
                    defer { (offset, slotOffset) = (offset + shape.0 * shape.1 + 3, slotOffset + shape.0 * shape.1 + 2) }
                    return MuonMatrix(
                        offset: offset, rows: shape.0, columns: shape.1, slotOffset: slotOffset,
                        updateScale: 0.2 * Float(max(shape.0, shape.1)).squareRoot(), decayed: index % 2 == 0)
                }
                let (arenaLength, workLength) = (offset, slotOffset)
                checks.append(
                    KernelCheck(kernel: "muon_momentum", size: size, absoluteTolerance: 1e-6, relativeTolerance: 1e-6) { backend in
                        let table = try MuonMatrixTable(matrices: matrices, on: backend)
                        let gradient = try upload(values(arenaLength, seed: 61), to: backend)
                        let buffer = try upload(values(arenaLength, seed: 62), to: backend)
                        let work = try upload(values(workLength, seed: 63), to: backend)
                        try backend.kernels(MuonKernels.self).muonMomentum(
                            gradient: gradient, buffer: buffer, work: work, table: table, momentum: 0.95)
                        return [try download(buffer, arenaLength, from: backend), try download(work, workLength, from: backend)]
                    })
                checks.append(
                    KernelCheck(kernel: "muon_update", size: size, absoluteTolerance: 1e-6, relativeTolerance: 1e-6) { backend in
                        let table = try MuonMatrixTable(matrices: matrices, on: backend)
                        let parameter = try upload(values(arenaLength, seed: 64), to: backend)
                        let work = try upload(values(workLength, seed: 65), to: backend)
                        try backend.kernels(MuonKernels.self).muonUpdate(
                            parameter: parameter, work: work, table: table, learningRate: 0.01, weightDecay: 0.1)
                        return [try download(parameter, arenaLength, from: backend)]
                    })
            }
            for (matrices, side) in scope.sizes([(1, 1), (3, 5), (2, 33)], large: [(16, 48)]) {
                for normalize in [true, false] {
                    checks.append(
                        KernelCheck(
                            kernel: "newton_schulz_polynomial", size: "\(matrices)x\(side)x\(side)\(normalize ? " normalised" : "")",
                            absoluteTolerance: 2e-7 * Float(side), relativeTolerance: 1e-5
                        ) { backend in
                            // A Gram matrix's trace is positive: the normalised checks add `side` to the diagonal.
                            var gram = values(matrices * side * side, seed: 66)
                            if normalize { for index in 0..<(matrices * side) { gram[index * side + index % side] += Float(side) } }
                            let input = try upload(gram, to: backend)
                            let polynomial = try backend.allocate(count: matrices * side * side)
                            try backend.kernels(MuonKernels.self).newtonSchulzPolynomial(
                                gram: input, polynomial: polynomial, matrices: matrices, side: side, coefficients: (3.4445, -4.7750, 2.0315),
                                normalize: normalize, epsilon: 1e-7)
                            return [try download(polynomial, matrices * side * side, from: backend)]
                        })
                }
            }
            return checks
        }
    }
}

/// Muon's momentum, Newton-Schulz polynomial and update (Kernels/muon.cl), each one launch
/// over every matrix.
extension OpenCLBackend: MuonKernels {
    public func muonMomentum(gradient: DeviceStorage, buffer: DeviceStorage, work: DeviceStorage, table: MuonMatrixTable, momentum: Float) throws {
        try launch(
            "muon", "muon_momentum", global: [table.largestCount, table.matrices.count],
            [.buffer(gradient), .buffer(buffer), .buffer(work), .buffer(table.storage), .int(table.matrices.count), .float(momentum)])
    }

    public func newtonSchulzPolynomial(
        gram: DeviceStorage, polynomial: DeviceStorage, matrices: Int, side: Int, coefficients: (a: Float, b: Float, c: Float),
        normalize: Bool, epsilon: Float
    ) throws {
        try launch(
            "muon", "newton_schulz_polynomial", global: [side * side, matrices],
            [
                .buffer(gram), .buffer(polynomial), .int(matrices), .int(side), .float(coefficients.a), .float(coefficients.b),
                .float(coefficients.c), .int(normalize ? 1 : 0), .float(epsilon),
            ])
    }

    public func muonUpdate(parameter: DeviceStorage, work: DeviceStorage, table: MuonMatrixTable, learningRate: Float, weightDecay: Float) throws {
        try launch(
            "muon", "muon_update", global: [table.largestCount, table.matrices.count],
            [
                .buffer(parameter), .buffer(work), .buffer(table.storage), .int(table.matrices.count), .float(learningRate),
                .float(weightDecay),
            ])
    }
}
