import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The signal the handler below caught (0: none since `catchingSignals` began). Only the
/// handler writes it while a signal can arrive: a plain store, which is async-signal-safe.
private var caughtSignal: sig_atomic_t = 0

/// SIGINT and SIGTERM while training: the first is recorded, a second ends the process at
/// once (as a second Ctrl-C does elsewhere).
private func handleStopSignal(_ number: Int32) {
    if caughtSignal != 0 { _exit(128 + number) }
    caughtSignal = number
}

/// A request to stop training after the current step: set by SIGINT or SIGTERM while
/// `catchingSignals` runs (or by `request`), read by the training loop between steps. A
/// second signal ends the process at once, and so does a step that has not ended
/// `gracePeriod` seconds after a signal (a checkpoint being written then leaves only a
/// temporary file, which the next run removes).
public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requestedSignal: Int32?
    private let gracePeriod: Double

    public init(gracePeriod: Double = 10) {
        self.gracePeriod = gracePeriod
    }

    /// The signal that asked to stop (SIGINT, SIGTERM), or nil while none has.
    public var signal: Int32? {
        lock.withLock { requestedSignal }
    }

    /// Asks the loop to stop as `signal` would.
    public func request(_ signal: Int32) {
        lock.withLock { requestedSignal = requestedSignal ?? signal }
    }

    /// Runs `body` with SIGINT and SIGTERM caught as requests, then restores the actions
    /// they had. A timer moves a caught signal into the request and ends the process when
    /// the grace period passes first.
    public func catchingSignals<Result>(_ body: () throws -> Result) rethrows -> Result {
        let numbers = [SIGINT, SIGTERM]
        caughtSignal = 0
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handleStopSignal
        sigemptyset(&action.sa_mask)
        let previous = numbers.map { number -> sigaction in
            var old = sigaction()
            sigaction(number, &action, &old)
            return old
        }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        var caughtAt: DispatchTime?
        timer.setEventHandler { [self] in
            let number = caughtSignal
            guard number != 0 else { return }
            request(number)
            let now = DispatchTime.now()
            let start = caughtAt ?? now
            caughtAt = start
            if Double(now.uptimeNanoseconds - start.uptimeNanoseconds) * 1e-9 >= gracePeriod {
                FileHandle.standardError.write(
                    Data("\n\(Self.name(of: number)): the current step did not end within \(gracePeriod) s; exiting now\n".utf8))
                exit(128 + number)
            }
        }
        timer.schedule(deadline: .now(), repeating: .milliseconds(50))
        timer.resume()
        defer {
            timer.cancel()
            for (number, var old) in zip(numbers, previous) { sigaction(number, &old, nil) }
            if caughtSignal != 0 { request(caughtSignal) }
        }
        return try body()
    }

    /// The name of a signal this handles.
    public static func name(of signal: Int32) -> String {
        signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
    }
}
