import ViTCore

/// The CPU backend's pinned host memory: plain memory, whose transfers are memory copies
/// that complete before they return.
final class CPUHostMemory: PinnedHostMemory {
    let values: UnsafeMutableBufferPointer<Float>
    private let backend: CPUBackend

    init(count: Int, backend: CPUBackend) {
        values = .allocate(capacity: count)
        values.initialize(repeating: 0)
        self.backend = backend
    }

    deinit {
        values.deallocate()
    }

    func startRead(_ storage: DeviceStorage, at offset: Int) throws -> DeviceTransfer {
        precondition(offset >= 0 && offset + storage.count <= values.count, "a read of \(storage.count) floats at \(offset) past \(values.count)")
        (values.baseAddress! + offset).update(from: backend.host(storage), count: storage.count)
        return CompletedTransfer()
    }

    @discardableResult
    func startWrite(to storage: DeviceStorage, from offset: Int) throws -> DeviceTransfer {
        precondition(offset >= 0 && offset + storage.count <= values.count, "a write of \(storage.count) floats from \(offset) past \(values.count)")
        backend.host(storage).update(from: values.baseAddress! + offset, count: storage.count)
        return CompletedTransfer()
    }
}
