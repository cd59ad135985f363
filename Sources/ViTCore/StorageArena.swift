/// Tensors in one allocation (llm.c's layout for parameters, gradients and optimizer state):
/// tensor i is the view `views[i]`, `offsets[i]` floats into `storage`, each offset aligned
/// for the device, so that a kernel over `storage` (or over `span(_:)`) touches every tensor
/// at once. The gaps left by alignment start as zeros.
public struct StorageArena {
    /// The whole allocation.
    public let storage: DeviceStorage
    /// Where each tensor starts, in floats.
    public let offsets: [Int]
    /// Each tensor's elements.
    public let counts: [Int]
    /// One view per tensor.
    public let views: [DeviceStorage]
    private let backend: Backend

    /// Allocates room for tensors of `counts` floats on `backend`, zero-filled.
    public init(counts: [Int], on backend: Backend) throws {
        let alignment = backend.viewAlignment
        var offsets: [Int] = []
        var end = 0
        for count in counts {
            offsets.append(end)
            end += (count + alignment - 1) / alignment * alignment
        }
        let storage = try backend.allocate(count: max(end, 1))
        try backend.fill(storage, count: storage.count, value: 0)
        self.storage = storage
        self.offsets = offsets
        self.counts = counts
        self.views = try zip(offsets, counts).map { try backend.view(of: storage, offset: $0, count: $1) }
        self.backend = backend
    }

    /// Floats from the first tensor of `range` to the end of its last.
    public func length(of range: Range<Int>) -> Int {
        range.isEmpty ? 0 : offsets[range.upperBound - 1] + counts[range.upperBound - 1] - offsets[range.lowerBound]
    }

    /// One view over the tensors in `range` and the gaps between them.
    public func span(_ range: Range<Int>) throws -> DeviceStorage {
        try backend.view(of: storage, offset: range.isEmpty ? 0 : offsets[range.lowerBound], count: length(of: range))
    }
}
