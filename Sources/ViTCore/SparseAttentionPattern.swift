/// A sparse attention pattern on the host: for every head and query, the sorted keys the
/// query attends to. Mechanisms build one per (pattern, N, heads, layer) and upload it once
/// as a `SparseAttentionIndex`.
public struct SparseAttentionPattern: Equatable, Sendable {
    /// H.
    public let heads: Int
    /// N (queries = keys).
    public let tokens: Int
    /// `keys[h][i]`: the keys of query i in head h, ascending, without repeats.
    public let keys: [[[Int]]]
    /// The pattern as bands, when it was built from them (the OpenCL backend then runs its
    /// band kernels, which stage contiguous blocks of keys), else nil (index lists only).
    public let bands: SparseAttentionBands?

    /// A pattern from per-head, per-query key lists (any order, repeats allowed; keys outside
    /// 0..<tokens are an error).
    public init(keys: [[[Int]]], tokens: Int) throws {
        guard tokens > 0, !keys.isEmpty, keys.allSatisfy({ $0.count == tokens }) else {
            throw ViTError.invalidArgument(
                operation: "sparseAttentionPattern",
                detail: "need at least one head and \(tokens) query lists per head (tokens > 0)")
        }
        for head in keys {
            for row in head where row.contains(where: { !(0..<tokens).contains($0) }) {
                throw ViTError.invalidArgument(operation: "sparseAttentionPattern", detail: "a key index is outside 0..<\(tokens)")
            }
        }
        self.heads = keys.count
        self.tokens = tokens
        self.keys = keys.map { $0.map { Array(Set($0)).sorted() } }
        self.bands = nil
    }

    /// The pattern of `bands` over `tokens` tokens (the class token and N - 1 patches).
    public init(bands: SparseAttentionBands, tokens: Int) throws {
        guard tokens > 0, !bands.heads.isEmpty else {
            throw ViTError.invalidArgument(operation: "sparseAttentionPattern", detail: "need at least one head and tokens > 0, got \(tokens) tokens")
        }
        let patches = tokens - 1
        self.heads = bands.heads.count
        self.tokens = tokens
        self.keys = bands.heads.map { headBands in
            [Array(0..<tokens)]
                + (0..<patches).map { patch in
                    [0] + headBands.compactMap { bands.keyPatch(of: patch, $0, patches: patches) }.sorted().map { $0 + 1 }
                }
        }
        self.bands = bands
    }

    /// The pattern whose head h keeps (i, j) where `keeps(h, i, j)`: O(H N^2), for tests and
    /// small references.
    public init(heads: Int, tokens: Int, keeps: (Int, Int, Int) -> Bool) throws {
        try self.init(
            keys: (0..<heads).map { head in (0..<tokens).map { query in (0..<tokens).filter { keeps(head, query, $0) } } },
            tokens: tokens)
    }

    /// Kept pairs over all heads.
    public var nonzeroCount: Int { keys.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } } }

    /// Kept pairs of one head over N^2.
    public func density(head: Int) -> Double {
        Double(keys[head].reduce(0) { $0 + $1.count }) / Double(tokens * tokens)
    }

    /// The 0/1 mask [H, N, N] (row = query), for dense references.
    public func denseMask() -> [Float] {
        var mask = [Float](repeating: 0, count: heads * tokens * tokens)
        for head in 0..<heads {
            for query in 0..<tokens {
                for key in keys[head][query] { mask[(head * tokens + query) * tokens + key] = 1 }
            }
        }
        return mask
    }

    /// The row and column lists, laid out as `SparseAttentionIndex` describes.
    public func packedIndices() -> [Int32] {
        let offsetCount = heads * (tokens + 1)
        var rowOffsets = [Int32]()
        var columnIndices = [Int32]()
        rowOffsets.reserveCapacity(offsetCount)
        var columns = [[Int32]](repeating: [], count: heads * tokens)
        for head in 0..<heads {
            for query in 0..<tokens {
                rowOffsets.append(Int32(columnIndices.count))
                for key in keys[head][query] {
                    columnIndices.append(Int32(key))
                    // Queries arrive in ascending order, so each column list is sorted.
                    columns[head * tokens + key].append(Int32(query))
                }
            }
            rowOffsets.append(Int32(columnIndices.count))
        }
        var columnOffsets = [Int32]()
        var rowIndices = [Int32]()
        columnOffsets.reserveCapacity(offsetCount)
        rowIndices.reserveCapacity(columnIndices.count)
        for head in 0..<heads {
            for key in 0..<tokens {
                columnOffsets.append(Int32(rowIndices.count))
                rowIndices += columns[head * tokens + key]
            }
            columnOffsets.append(Int32(rowIndices.count))
        }
        return rowOffsets + columnIndices + columnOffsets + rowIndices
    }

    /// Uploads the row and column lists, then the bands' table if any (`SparseAttentionBands.packed`),
    /// to `backend` (int32 bit patterns in a float storage).
    public func upload(to backend: Backend) throws -> SparseAttentionIndex {
        let packed = packedIndices() + (bands?.packed ?? [])
        guard packed.count < Int(Int32.max) else {
            throw ViTError.invalidArgument(
                operation: "sparseAttentionPattern", detail: "\(nonzeroCount) kept pairs exceed the int32 indices of the kernels")
        }
        let bits = packed.map { Float(bitPattern: UInt32(bitPattern: $0)) }
        let storage = try backend.allocate(count: bits.count)
        try bits.withUnsafeBufferPointer { try backend.write($0, to: storage) }
        return SparseAttentionIndex(
            storage: storage, backend: backend, heads: heads, tokens: tokens, nonzeroCount: nonzeroCount, bands: bands)
    }
}

/// A sparse pattern of the shape Fibottention, dilated and axial attention share: the class
/// token (token 0) attends to every token and every token to it, and patch p (token p + 1)
/// attends, per head, to the patches p + offset of a few bands. On a grid `gridWidth` patches
/// wide a band also moves `columnShift` columns, and drops the keys whose column would leave
/// the grid (so it does not wrap into the next row); with `gridWidth` 0 the patches are one
/// line and only its ends clip. A group of consecutive queries then reads, per band, a
/// contiguous block of keys.
public struct SparseAttentionBands: Equatable, Sendable {
    /// One band: key patch = query patch + `offset`, key column = query column + `columnShift`.
    public struct Band: Hashable, Sendable {
        public let offset: Int
        public let columnShift: Int

        public init(offset: Int, columnShift: Int = 0) {
            (self.offset, self.columnShift) = (offset, columnShift)
        }
    }

    /// The width of the patch grid whose rows bound the bands, or 0 for none.
    public let gridWidth: Int
    /// `heads[h]`: head h's bands, without repeats.
    public let heads: [[Band]]

    /// Bands per head. On a grid a band is a move of whole rows and `columnShift` columns, so
    /// its offset must equal the shift modulo `gridWidth` (else it is an error); then no two
    /// bands keep the same pair. Repeats are dropped, as are the bands of a grid whose shift
    /// reaches past its width (they keep no key); without a grid the shift is ignored.
    public init(gridWidth: Int, heads: [[Band]]) throws {
        guard gridWidth >= 0 else {
            throw ViTError.invalidArgument(operation: "sparseAttentionBands", detail: "gridWidth \(gridWidth) must be 0 (no grid) or positive")
        }
        for band in heads.joined() where gridWidth > 0 && (band.offset - band.columnShift) % gridWidth != 0 {
            throw ViTError.invalidArgument(
                operation: "sparseAttentionBands",
                detail: "band offset \(band.offset) is not whole rows of \(gridWidth) patches plus its column shift \(band.columnShift)")
        }
        self.gridWidth = gridWidth
        self.heads = heads.map { bands in
            var seen = Set<Band>()
            return bands.map { gridWidth == 0 ? Band(offset: $0.offset) : $0 }
                .filter { (gridWidth == 0 || abs($0.columnShift) < gridWidth) && seen.insert($0).inserted }
        }
    }

    /// The key patch of query patch `patch` in `band`, or nil where the band leaves the
    /// patches or, on a grid, the query's row.
    public func keyPatch(of patch: Int, _ band: Band, patches: Int) -> Int? {
        let key = patch + band.offset
        guard (0..<patches).contains(key) else { return nil }
        guard gridWidth > 0 else { return key }
        return (0..<gridWidth).contains(patch % gridWidth + band.columnShift) ? key : nil
    }

    /// Entries of `packed`, without building it.
    public var packedCount: Int { heads.count + 1 + 2 * heads.reduce(0) { $0 + $1.count } }

    /// The table the band kernels read: H + 1 offsets into the bands (counted in bands), then
    /// each band's offset and column shift.
    public var packed: [Int32] {
        var starts: [Int32] = [0]
        for bands in heads { starts.append(starts[starts.count - 1] + Int32(bands.count)) }
        return starts + heads.joined().flatMap { [Int32($0.offset), Int32($0.columnShift)] }
    }
}
