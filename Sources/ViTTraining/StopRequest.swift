import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A request to stop training after the current step: set by SIGINT or SIGTERM while
/// `catchingSignals` runs (or by `request`), read by the training loop between steps. A
/// second signal ends the process at once, as a second Ctrl-C does elsewhere.
public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requestedSignal: Int32?

    public init() {}

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
        let sources = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.request(number) }
            source.resume()
            return source
        }
        defer {
            for source in sources { source.cancel() }
            for number in [SIGINT, SIGTERM] { Glibc.signal(number, SIG_DFL) }
        }
        return try body()
    }

    /// The name of a signal this handles.
    public static func name(of signal: Int32) -> String {
        signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
    }
}
