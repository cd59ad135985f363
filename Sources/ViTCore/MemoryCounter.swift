import Foundation

/// Counts the bytes that tensors hold on one device: what is live now and the most that
/// was live at once since the last `resetPeak()`. Reports of peak memory read it.
public final class MemoryCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var liveBytes = 0
    private var peakBytes = 0

    public init() {}

    /// Bytes held by live storages.
    public var live: Int { lock.withLock { liveBytes } }
    /// Highest `live` seen since creation or the last `resetPeak()`.
    public var peak: Int { lock.withLock { peakBytes } }

    /// Records an allocation of `bytes`.
    public func allocated(_ bytes: Int) {
        lock.withLock {
            liveBytes += bytes
            peakBytes = max(peakBytes, liveBytes)
        }
    }

    /// Records that `bytes` were released.
    public func released(_ bytes: Int) {
        lock.withLock { liveBytes -= bytes }
    }

    /// Starts a new peak measurement from the current live bytes.
    public func resetPeak() {
        lock.withLock { peakBytes = liveBytes }
    }
}
