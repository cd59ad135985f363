import Foundation

/// The per-epoch progress line: rewritten in place on a terminal (at most every
/// `terminalInterval` seconds), printed as plain lines (at most every `plainInterval` seconds)
/// otherwise, and always at the end of an epoch. The figures it shows are read from the
/// device, so callers ask `isDue` before reading them.
public final class ProgressLine {
    private let isTerminal = isatty(STDOUT_FILENO) == 1
    private var lastPrint = 0.0
    /// Whether a terminal line is shown without its newline yet.
    private var lineOpen = false
    private let terminalInterval: Double
    private let plainInterval: Double
    /// Whether anything is printed (not by the ranks other than 0 of a data-parallel run).
    private let isShown: Bool

    public init(terminalInterval: Double = 2, plainInterval: Double = 30, shown: Bool = true) {
        self.terminalInterval = terminalInterval
        self.plainInterval = plainInterval
        isShown = shown
    }

    /// Whether a line shown `elapsed` seconds into the epoch would be printed.
    public func isDue(elapsed: Double) -> Bool {
        isShown && elapsed - lastPrint >= (isTerminal ? terminalInterval : plainInterval)
    }

    /// Shows `text` when it is due or `final` (which ends the line and starts the next epoch's clock).
    public func update(_ text: String, elapsed: Double, final: Bool = false) {
        guard isShown, final || isDue(elapsed: elapsed) else { return }
        lastPrint = final ? 0 : elapsed
        if isTerminal {
            print("\r\u{1B}[2K" + text, terminator: final ? "\n" : "")
            lineOpen = !final
        } else {
            print(text)
        }
        fflush(stdout)
    }

    /// Ends a line left open on a terminal, before a message that is not progress.
    public func finish() {
        guard lineOpen else { return }
        print("")
        lineOpen = false
    }

    /// `m:ss` or `h:mm:ss`.
    public static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let (hours, minutes, rest) = (total / 3600, (total / 60) % 60, total % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, rest) : String(format: "%d:%02d", minutes, rest)
    }
}
