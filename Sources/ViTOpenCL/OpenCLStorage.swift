import COpenCL
import ViTCore

/// A device buffer of one OpenCL tensor, returned to the backend's pool when released.
public final class OpenCLStorage: DeviceStorage {
    public let count: Int
    /// The OpenCL memory object.
    public let buffer: cl_mem
    private let pool: BufferPool<cl_mem>
    private let memory: MemoryCounter

    init(count: Int, buffer: cl_mem, pool: BufferPool<cl_mem>, memory: MemoryCounter) {
        self.count = count
        self.buffer = buffer
        self.pool = pool
        self.memory = memory
        memory.allocated(count * MemoryLayout<Float>.size)
    }

    deinit {
        memory.released(count * MemoryLayout<Float>.size)
        pool.give(buffer, count: count)
    }
}
