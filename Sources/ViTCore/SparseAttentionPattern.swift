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

    /// Uploads the row and column lists to `backend` (int32 bit patterns in a float storage).
    public func upload(to backend: Backend) throws -> SparseAttentionIndex {
        let packed = packedIndices()
        guard packed.count < Int(Int32.max) else {
            throw ViTError.invalidArgument(
                operation: "sparseAttentionPattern", detail: "\(nonzeroCount) kept pairs exceed the int32 indices of the kernels")
        }
        let bits = packed.map { Float(bitPattern: UInt32(bitPattern: $0)) }
        let storage = try backend.allocate(count: bits.count)
        try bits.withUnsafeBufferPointer { try backend.write($0, to: storage) }
        return SparseAttentionIndex(storage: storage, backend: backend, heads: heads, tokens: tokens, nonzeroCount: nonzeroCount)
    }
}
