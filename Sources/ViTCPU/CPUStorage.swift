import Foundation
import ViTCore

/// Host memory for one CPU tensor, 64-byte aligned so loops vectorise, returned to the
/// backend's pool when released.
public final class CPUStorage: DeviceStorage {
    public let count: Int
    /// The first element.
    public let pointer: UnsafeMutablePointer<Float>
    private let pool: BufferPool<UnsafeMutablePointer<Float>>
    private let memory: MemoryCounter

    init(count: Int, pool: BufferPool<UnsafeMutablePointer<Float>>, memory: MemoryCounter) throws {
        self.count = count
        self.pool = pool
        self.memory = memory
        if let reused = pool.take(count: count) {
            pointer = reused
        } else {
            var raw: UnsafeMutableRawPointer?
            let bytes = max(count, 1) * MemoryLayout<Float>.size
            guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
                throw ViTError.outOfMemory(device: "cpu", bytes: bytes)
            }
            pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        }
        memory.allocated(count * MemoryLayout<Float>.size)
    }

    deinit {
        memory.released(count * MemoryLayout<Float>.size)
        pool.give(pointer, count: count)
    }
}
