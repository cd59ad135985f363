import Foundation
import ViTCore

/// Pinned host buffers that batches are assembled in, so the device copies a batch straight
/// from where the workers wrote it (no second host copy into staging memory). Made once, on
/// the thread that owns the device, with `buffers` buffers of `capacity` floats; a batch
/// takes one (`acquire`) and gives it back when it is released, and the buffer is reused
/// only once the upload that read it has completed. When none is free the batch is built in
/// an ordinary array instead, so a consumer that holds many batches costs memory, never a
/// deadlock.
public final class BatchMemoryPool: @unchecked Sendable {
    /// Floats each buffer holds: the largest batch.
    public let capacity: Int
    private let lock = NSLock()
    private var free: [(memory: PinnedHostMemory, upload: DeviceTransfer?)]

    /// `buffers` buffers of `capacity` floats from `allocate` (a backend's `allocatePinnedHost`).
    public init(capacity: Int, buffers: Int, allocate: (Int) throws -> PinnedHostMemory) throws {
        self.capacity = capacity
        free = try (0..<buffers).map { _ in (try allocate(capacity), nil) }
    }

    /// A free buffer whose last upload has completed, or nil.
    func acquire() -> PooledBatchMemory? {
        lock.lock()
        defer { lock.unlock() }
        guard let index = free.firstIndex(where: { (try? $0.upload?.isComplete() ?? true) ?? false }) else { return nil }
        return PooledBatchMemory(memory: free.remove(at: index).memory, pool: self)
    }

    fileprivate func giveBack(_ memory: PinnedHostMemory, upload: DeviceTransfer?) {
        lock.lock()
        free.append((memory, upload))
        lock.unlock()
    }
}

/// One batch's pinned buffer, returned to its pool when the batch is released.
public final class PooledBatchMemory: @unchecked Sendable {
    /// The pinned memory the batch's images are in.
    public let memory: PinnedHostMemory
    private let pool: BatchMemoryPool
    private let lock = NSLock()
    private var upload: DeviceTransfer?

    fileprivate init(memory: PinnedHostMemory, pool: BatchMemoryPool) {
        self.memory = memory
        self.pool = pool
    }

    deinit {
        pool.giveBack(memory, upload: upload)
    }

    /// Starts copying the first `storage.count` floats into `storage`; the buffer goes back to
    /// the pool only after this copy has completed.
    public func startUpload(to storage: DeviceStorage) throws {
        let transfer = try memory.startWrite(to: storage, from: 0)
        lock.lock()
        upload = transfer
        lock.unlock()
    }
}
