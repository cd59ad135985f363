import Foundation

/// A caching allocator: released buffers are kept by element count and handed out again
/// for the next request of the same size. Training allocates the same sizes every step,
/// so after the first step no allocation reaches the system (which, on the CPU, also
/// spares the page faults of fresh memory; on OpenCL, the driver's allocation cost).
public final class BufferPool<Handle>: @unchecked Sendable {
    private let lock = NSLock()
    private var available: [Int: [Handle]] = [:]
    private var cachedElements = 0

    public init() {}

    /// A cached buffer of exactly `count` elements, if one is free.
    public func take(count: Int) -> Handle? {
        lock.withLock {
            guard var list = available[count], let handle = list.popLast() else { return nil }
            available[count] = list
            cachedElements -= count
            return handle
        }
    }

    /// Keeps `handle` (of `count` elements) for reuse.
    public func give(_ handle: Handle, count: Int) {
        lock.withLock {
            available[count, default: []].append(handle)
            cachedElements += count
        }
    }

    /// Bytes held in the cache, not in use by any tensor.
    public var cachedBytes: Int { lock.withLock { cachedElements * MemoryLayout<Float>.size } }

    /// Removes every cached buffer, passing each to `release`.
    public func drain(_ release: (Handle) -> Void) {
        let handles: [Handle] = lock.withLock {
            let all = available.values.flatMap { $0 }
            available.removeAll()
            cachedElements = 0
            return all
        }
        handles.forEach(release)
    }
}
