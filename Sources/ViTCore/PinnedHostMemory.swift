/// Host memory that a device copies to and from directly, without a second host copy:
/// page-locked where the driver offers it (on OpenCL, a buffer allocated with
/// `CL_MEM_ALLOC_HOST_PTR` and kept mapped, which GPU drivers pin for DMA), plain memory on
/// the CPU backend. Data-parallel training stages gradient buckets through it.
public protocol PinnedHostMemory: AnyObject {
    /// The memory, for the host to read and write between transfers.
    var values: UnsafeMutableBufferPointer<Float> { get }
    /// Starts copying all of `storage` into `values` from `offset` without waiting; the
    /// values are there once the returned transfer is complete.
    func startRead(_ storage: DeviceStorage, at offset: Int) throws -> DeviceTransfer
    /// Enqueues a copy of `storage.count` values from `offset` into `storage` without waiting:
    /// commands enqueued later see them. The host must leave those values as they are until
    /// the returned transfer (or one enqueued after it) has completed.
    @discardableResult
    func startWrite(to storage: DeviceStorage, from offset: Int) throws -> DeviceTransfer
}

/// A copy between a device and pinned host memory that runs while the host goes on.
public protocol DeviceTransfer: AnyObject {
    /// Whether the copy has completed, asked without waiting.
    func isComplete() throws -> Bool
}

/// A transfer that completed before it was returned: the CPU backend's, whose copies are
/// plain memory copies.
public final class CompletedTransfer: DeviceTransfer {
    public init() {}
    public func isComplete() throws -> Bool { true }
}
