import COpenCL
import ViTCore

/// A device buffer of one OpenCL tensor, returned to the backend's pool when released.
public final class OpenCLStorage: DeviceStorage {
    public let count: Int
    /// The OpenCL memory object.
    public let buffer: cl_mem
    /// The pool and counter an owning storage returns its buffer to; nil for a view.
    private let owner: (pool: BufferPool<cl_mem>, memory: MemoryCounter)?
    /// The storage a view (a sub-buffer) aliases, kept alive by it.
    private let parent: OpenCLStorage?

    init(count: Int, buffer: cl_mem, pool: BufferPool<cl_mem>, memory: MemoryCounter) {
        self.count = count
        self.buffer = buffer
        self.owner = (pool, memory)
        self.parent = nil
        memory.allocated(count * MemoryLayout<Float>.size)
    }

    /// A view: `subBuffer` is a sub-buffer of `parent`'s buffer, released with the view.
    init(count: Int, subBuffer: cl_mem, of parent: OpenCLStorage) {
        self.count = count
        self.buffer = subBuffer
        self.owner = nil
        self.parent = parent
    }

    deinit {
        guard let owner else {
            clReleaseMemObject(buffer)
            return
        }
        owner.memory.released(count * MemoryLayout<Float>.size)
        owner.pool.give(buffer, count: count)
    }
}
