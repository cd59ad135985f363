import ViTCore

/// Muon's momentum, Newton-Schulz polynomial and update (Kernels/muon.cl), each one launch
/// over every matrix.
extension OpenCLBackend {
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
