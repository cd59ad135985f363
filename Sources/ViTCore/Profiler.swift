import Foundation

/// Per-kernel timing. OpenCL launches record their profiling events (resolved lazily, so
/// recording never stalls the queue); CPU kernels record wall-clock time. `report()`
/// prints calls, total milliseconds, mean microseconds and share of the total per kernel;
/// `writeTrace(to:)` writes every recorded kernel as one slice of a Chrome trace (Perfetto
/// and chrome://tracing open it): OpenCL kernels from their events' device timestamps, CPU
/// kernels from host time, each on its own track.
///
/// Enabled by `VIT_PROFILE=1` in the environment or by setting `isEnabled`; slices for the
/// trace are kept only while `isTracing` (`VIT_TRACE=FILE`, or `--trace FILE` of `vit train`
/// and `vit-bench training`).
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
    private var pending: [(name: String, interval: () -> Interval?)] = []
    /// Every recorded kernel, in recording order, for the trace.
    private var slices: [(name: String, track: String, interval: Interval)] = []

    /// When a kernel ran, in seconds of its clock (the host's, or a device's).
    public struct Interval: Sendable {
        public var start: Double
        public var end: Double

        public init(start: Double, end: Double) {
            self.start = start
            self.end = end
        }
    }
    private var enabledFlag: Bool
    private var tracingFlag: Bool

    /// Pending events resolved in one go once this many have accumulated.
    private let pendingLimit = 4096

    /// Where `VIT_TRACE` asks for the trace, if it does.
    public static let traceFileFromEnvironment = ProcessInfo.processInfo.environment["VIT_TRACE"].flatMap { $0.isEmpty ? nil : $0 }

    public init(
        enabled: Bool = ProcessInfo.processInfo.environment["VIT_PROFILE"] == "1" || Profiler.traceFileFromEnvironment != nil,
        tracing: Bool = Profiler.traceFileFromEnvironment != nil
    ) {
        enabledFlag = enabled
        tracingFlag = tracing
    }

    /// Whether kernels are kept for `writeTrace(to:)` (setting it also enables profiling).
    public var isTracing: Bool {
        get { lock.withLock { tracingFlag } }
        set {
            lock.withLock {
                tracingFlag = newValue
                if newValue { enabledFlag = true }
            }
        }
    }

    /// Whether kernels record their time.
    public var isEnabled: Bool {
        get { lock.withLock { enabledFlag } }
        set { lock.withLock { enabledFlag = newValue } }
    }

    /// Records a finished host kernel.
    public func record(_ name: String, interval: Interval) {
        lock.withLock { add(name, track: "cpu", interval) }
    }

    /// Records a kernel whose times are known later (an OpenCL event, on the device's clock);
    /// `interval` waits for the event if needed and returns nil when the driver has no timing.
    public func record(_ name: String, pending interval: @escaping () -> Interval?) {
        let overflow: [(name: String, interval: () -> Interval?)] = lock.withLock {
            pending.append((name, interval))
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
        defer {
            record(name, interval: Interval(start: Double(start) * 1e-9, end: Double(DispatchTime.now().uptimeNanoseconds) * 1e-9))
        }
        return try body()
    }

    /// All entries, largest total first, with pending events resolved.
    public func entries() -> [Entry] {
        resolvePending()
        return lock.withLock { totals.values.sorted { $0.totalSeconds > $1.totalSeconds } }
    }

    /// Writes every kernel recorded so far as a Chrome trace (JSON, microseconds; each
    /// track starts at its first kernel, since the host's and a device's clocks differ).
    public func writeTrace(to url: URL) throws {
        resolvePending()
        let recorded = lock.withLock { slices }
        let origins = Dictionary(recorded.map { ($0.track, $0.interval.start) }, uniquingKeysWith: min)
        let tracks = Array(Set(recorded.map(\.track))).sorted()
        var events: [[String: Any]] = tracks.enumerated().map { index, track in
            ["name": "thread_name", "ph": "M", "pid": 1, "tid": index, "args": ["name": track]]
        }
        for slice in recorded {
            let origin = origins[slice.track] ?? 0
            events.append([
                "name": slice.name, "ph": "X", "pid": 1, "tid": tracks.firstIndex(of: slice.track) ?? 0,
                "ts": (slice.interval.start - origin) * 1e6, "dur": max(0, slice.interval.end - slice.interval.start) * 1e6,
            ])
        }
        let data = try JSONSerialization.data(withJSONObject: ["traceEvents": events, "displayTimeUnit": "ms"])
        try data.write(to: url, options: .atomic)
    }

    /// Forgets everything recorded so far (pending events are resolved first, so that each
    /// event is released).
    public func reset() {
        resolvePending()
        lock.withLock {
            totals.removeAll()
            pending.removeAll()
            slices.removeAll()
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
            text += String(
                format: " %7d %10.3f %11.2f %6.1f%%\n", row.calls, row.totalSeconds * 1e3,
                row.totalSeconds * 1e6 / Double(max(row.calls, 1)), total > 0 ? 100 * row.totalSeconds / total : 0)
        }
        text += String(format: "total %46.3f ms\n", total * 1e3)
        return text
    }

    private func resolvePending() {
        let waiting = lock.withLock { () -> [(name: String, interval: () -> Interval?)] in
            defer { pending.removeAll() }
            return pending
        }
        resolve(waiting)
    }

    private func resolve(_ waiting: [(name: String, interval: () -> Interval?)]) {
        guard !waiting.isEmpty else { return }
        let resolved = waiting.compactMap { item in item.interval().map { (item.name, $0) } }
        lock.withLock {
            for (name, interval) in resolved { add(name, track: "opencl device", interval) }
        }
    }

    private func add(_ name: String, track: String, _ interval: Interval) {
        totals[name, default: Entry(name: name, calls: 0, totalSeconds: 0)].calls += 1
        totals[name]!.totalSeconds += interval.end - interval.start
        if tracingFlag { slices.append((name, track, interval)) }
    }
}
