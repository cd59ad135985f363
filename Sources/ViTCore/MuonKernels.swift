/// One matrix of a Muon update: where it lives in the parameter arenas and where its
/// Newton-Schulz slot lies in the work buffer. A slot holds the matrix tall ([long, short]:
/// transposed when it has fewer rows than columns), so matrices of one short side share
/// one batch of Gram products whatever their orientation; a slot longer than the matrix
/// keeps zero rows, which the iteration leaves zero.
public struct MuonMatrix: Equatable, Sendable {
    /// Floats from the start of the parameter, gradient and momentum arenas.
    public var offset: Int
    /// The matrix's shape as the parameter has it.
    public var rows: Int
    public var columns: Int
    /// Floats from the start of the work buffer.
    public var slotOffset: Int
    /// The update's scale, 0.2 sqrt(max(rows, columns)).
    public var updateScale: Float
    /// Whether weight decay applies.
    public var decayed: Bool

    /// A matrix at `offset` in the arenas with its slot at `slotOffset` in the work buffer.
    public init(offset: Int, rows: Int, columns: Int, slotOffset: Int, updateScale: Float, decayed: Bool) {
        (self.offset, self.rows, self.columns, self.slotOffset, self.updateScale, self.decayed) =
            (offset, rows, columns, slotOffset, updateScale, decayed)
    }

    /// Where element (row, column) of the matrix lies in its slot.
    public func slotIndex(row: Int, column: Int) -> Int {
        rows >= columns ? row * columns + column : column * rows + row
    }
}

/// The matrices of a Muon update on one device: a table of `MuonMatrix` entries as int32 in
/// one buffer (bit patterns in a float storage; `updateScale` as its float bits), uploaded
/// once, so that one launch covers every matrix.
///
///     [offset, rows, columns, slotOffset, updateScale bits, decayed] per matrix
public struct MuonMatrixTable {
    /// The entries, in table order.
    public let matrices: [MuonMatrix]
    /// The table, on `backend`.
    public let storage: DeviceStorage
    /// The device that holds `storage`.
    public let backend: Backend
    /// The largest matrix's elements (a launch's extent per matrix).
    public let largestCount: Int

    /// Uploads the entries of `matrices` to `backend`.
    public init(matrices: [MuonMatrix], on backend: Backend) throws {
        let entries = matrices.flatMap { matrix -> [Int32] in
            [
                Int32(matrix.offset), Int32(matrix.rows), Int32(matrix.columns), Int32(matrix.slotOffset),
                Int32(bitPattern: matrix.updateScale.bitPattern), matrix.decayed ? 1 : 0,
            ]
        }
        let storage = try backend.allocate(count: max(entries.count, 1))
        try entries.map { Float(bitPattern: UInt32(bitPattern: $0)) }.withUnsafeBufferPointer { try backend.write($0, to: storage) }
        (self.matrices, self.storage, self.backend) = (matrices, storage, backend)
        largestCount = matrices.map { $0.rows * $0.columns }.max() ?? 0
    }
}

/// The kernels of Muon's update besides its GEMMs (Kernels/muon.cl): a momentum pass that
/// writes every matrix's Nesterov direction into its Newton-Schulz slot, the polynomial of
/// each Newton-Schulz step, and the update that reads the orthogonalised slots back.
public protocol MuonKernels {
    /// For every matrix of `table`: `buffer = momentum buffer + gradient` in place, and
    /// `gradient + momentum buffer` (the Nesterov direction) into its slot of `work`.
    func muonMomentum(gradient: DeviceStorage, buffer: DeviceStorage, work: DeviceStorage, table: MuonMatrixTable, momentum: Float) throws
    /// The matrix polynomial of a Newton-Schulz step for a batch of `matrices` symmetric
    /// `side` x `side` Gram matrices G, `side * side` floats apart:
    /// `polynomial = f (a I + b H + c H H)` with `H = f^2 G`. With `normalize`,
    /// `f = 1 / (sqrt(trace G) + epsilon)`: G is then the Gram matrix of the unscaled X,
    /// whose squared Frobenius norm is its trace, so `X polynomial` is the step of X / (|X| +
    /// epsilon) with no pass to scale X; without, f = 1.
    func newtonSchulzPolynomial(
        gram: DeviceStorage, polynomial: DeviceStorage, matrices: Int, side: Int, coefficients: (a: Float, b: Float, c: Float),
        normalize: Bool, epsilon: Float
    ) throws
    /// For every matrix of `table`: `p = p (1 - learningRate weightDecay) - learningRate
    /// updateScale o` with o its orthogonalised slot in `work` (no decay where not `decayed`).
    func muonUpdate(parameter: DeviceStorage, work: DeviceStorage, table: MuonMatrixTable, learningRate: Float, weightDecay: Float) throws
}
