import Foundation
import ViTCore

/// Host memory for one CPU tensor, 64-byte aligned so loops vectorise, returned to the
/// backend's pool when released.
public final class CPUStorage: DeviceStorage {
    public let count: Int
    /// The first element.
    public let pointer: UnsafeMutablePointer<Float>
    /// The pool and counter an owning storage returns its memory to; nil for a view.
    private let owner: (pool: BufferPool<UnsafeMutablePointer<Float>>, memory: MemoryCounter)?
    /// The storage a view aliases, kept alive by it.
    private let parent: CPUStorage?

    /// A view of `count` floats of `parent` from `offset`.
    init(viewOf parent: CPUStorage, offset: Int, count: Int) {
        self.count = count
        self.pointer = parent.pointer + offset
        self.parent = parent
        self.owner = nil
    }

    init(count: Int, pool: BufferPool<UnsafeMutablePointer<Float>>, memory: MemoryCounter) throws {
        self.count = count
        self.owner = (pool, memory)
        self.parent = nil
        if let reused = pool.take(count: count) {
            pointer = reused
        } else {
            var raw: UnsafeMutableRawPointer?
            let bytes = max(count, 1) * MemoryLayout<Float>.size
            // Past the machine's memory, Linux's overcommit would grant the block and the
            // process would die touching it: refuse it here, with the size.
            guard UInt64(bytes) <= ProcessInfo.processInfo.physicalMemory, posix_memalign(&raw, 64, bytes) == 0, let raw else {
                throw ViTError.outOfMemory(device: "cpu", bytes: bytes)
            }
            pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        }
        memory.allocated(count * MemoryLayout<Float>.size)
    }

    deinit {
        guard let owner else { return }
        owner.memory.released(count * MemoryLayout<Float>.size)
        owner.pool.give(pointer, count: count)
    }
}
