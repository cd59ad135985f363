import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A request to stop training after the current step: set by SIGINT or SIGTERM while
/// `catchingSignals` runs (or by `request`), read by the training loop between steps. A
/// second signal ends the process at once, as a second Ctrl-C does elsewhere, and so does a
/// step that has not ended `gracePeriod` seconds after a signal (a checkpoint being written
/// then leaves only a temporary file, which the next run removes).
public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requestedSignal: Int32?
    /// Counts `catchingSignals` calls; the one running, or nil between calls.
    private var generations = 0
    private var catching: Int?
    private let gracePeriod: Double

    public init(gracePeriod: Double = 10) {
        self.gracePeriod = gracePeriod
    }

    /// The signal that asked to stop (SIGINT, SIGTERM), or nil while none has.
    public var signal: Int32? { lock.withLock { requestedSignal } }

    /// Asks the loop to stop as `signal` would.
    public func request(_ signal: Int32) {
        let repeated = lock.withLock {
            defer { requestedSignal = requestedSignal ?? signal }
            return requestedSignal != nil
        }
        if repeated { exit(128 + signal) }
    }

    /// Runs `body` with SIGINT and SIGTERM turned into requests, then restores their
    /// default actions.
    public func catchingSignals<Result>(_ body: () throws -> Result) rethrows -> Result {
        let generation = lock.withLock {
            generations += 1
            catching = generations
            return generations
        }
        let sources = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.request(number)
                DispatchQueue.global().asyncAfter(deadline: .now() + self.gracePeriod) {
                    self.endIfStillCatching(number, generation: generation)
                }
            }
            source.resume()
            return source
        }
        defer {
            lock.withLock { catching = nil }
            for source in sources { source.cancel() }
            for number in [SIGINT, SIGTERM] { Glibc.signal(number, SIG_DFL) }
        }
        return try body()
    }

    /// Ends the process when the call `generation` of `catchingSignals` is still running a
    /// grace period after `signal`.
    private func endIfStillCatching(_ signal: Int32, generation: Int) {
        guard lock.withLock({ catching == generation }) else { return }
        FileHandle.standardError.write(
            Data("\n\(Self.name(of: signal)): the current step did not end within \(gracePeriod) s; exiting now\n".utf8))
        exit(128 + signal)
    }

    /// The name of a signal this handles.
    public static func name(of signal: Int32) -> String {
        signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
    }
}
