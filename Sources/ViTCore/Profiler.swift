import Foundation

/// Per-kernel timing. OpenCL launches record their profiling events (resolved lazily, so
/// recording never stalls the queue); CPU kernels record wall-clock time. `report()`
/// prints calls, total milliseconds, mean microseconds and share of the total per kernel.
///
/// Enabled by `VIT_PROFILE=1` in the environment or by setting `isEnabled`.
public final class Profiler: @unchecked Sendable {
    /// The process-wide profiler that backends record into.
    public static let shared = Profiler()

    /// One kernel's accumulated figures.
    public struct Entry: Sendable {
        public var name: String
        public var calls: Int
        public var totalSeconds: Double
    }

    private let lock = NSLock()
    private var totals: [String: Entry] = [:]
    private var pending: [(name: String, seconds: () -> Double?)] = []
    private var enabledFlag: Bool

    /// Pending events resolved in one go once this many have accumulated.
    private let pendingLimit = 4096

    public init(enabled: Bool = ProcessInfo.processInfo.environment["VIT_PROFILE"] == "1") {
        enabledFlag = enabled
    }

    /// Whether kernels record their time.
    public var isEnabled: Bool {
        get { lock.withLock { enabledFlag } }
        set { lock.withLock { enabledFlag = newValue } }
    }

    /// Records a finished kernel's duration.
    public func record(_ name: String, seconds: Double) {
        lock.withLock { add(name, seconds) }
    }

    /// Records a kernel whose duration is known later (an OpenCL event); `seconds` waits for
    /// the event if needed and returns nil when the driver has no timing for it.
    public func record(_ name: String, pending seconds: @escaping () -> Double?) {
        let overflow: [(name: String, seconds: () -> Double?)] = lock.withLock {
            pending.append((name, seconds))
            guard pending.count >= pendingLimit else { return [] }
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        resolve(overflow)
    }

    /// Times `body` as kernel `name` when enabled.
    @inline(__always)
    public func measure<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { record(name, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9) }
        return try body()
    }

    /// All entries, largest total first, with pending events resolved.
    public func entries() -> [Entry] {
        let waiting = lock.withLock { () -> [(name: String, seconds: () -> Double?)] in
            defer { pending.removeAll() }
            return pending
        }
        resolve(waiting)
        return lock.withLock { totals.values.sorted { $0.totalSeconds > $1.totalSeconds } }
    }

    /// Forgets everything recorded so far.
    public func reset() {
        lock.withLock {
            totals.removeAll()
            pending.removeAll()
        }
    }

    /// The per-kernel table as text.
    public func report() -> String {
        let rows = entries()
        let total = rows.reduce(0) { $0 + $1.totalSeconds }
        var text = "kernel                                  calls   total ms     mean us   share\n"
        for row in rows {
            let name = row.name.count > 38 ? String(row.name.prefix(38)) : row.name
            text += name.padding(toLength: 38, withPad: " ", startingAt: 0)
            text += String(format: " %7d %10.3f %11.2f %6.1f%%\n", row.calls, row.totalSeconds * 1e3,
                           row.totalSeconds * 1e6 / Double(max(row.calls, 1)), total > 0 ? 100 * row.totalSeconds / total : 0)
        }
        text += String(format: "total %46.3f ms\n", total * 1e3)
        return text
    }

    private func resolve(_ waiting: [(name: String, seconds: () -> Double?)]) {
        guard !waiting.isEmpty else { return }
        let resolved = waiting.compactMap { item in item.seconds().map { (item.name, $0) } }
        lock.withLock {
            for (name, seconds) in resolved { add(name, seconds) }
        }
    }

    private func add(_ name: String, _ seconds: Double) {
        totals[name, default: Entry(name: name, calls: 0, totalSeconds: 0)].calls += 1
        totals[name]!.totalSeconds += seconds
    }
}
