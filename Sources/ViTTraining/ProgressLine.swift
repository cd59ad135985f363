import Foundation

/// The per-epoch progress line: rewritten in place on a terminal, printed as plain lines
/// (at most every `plainInterval` seconds and at the end of an epoch) otherwise.
public final class ProgressLine {
    private let isTerminal = isatty(STDOUT_FILENO) == 1
    private var lastPlainPrint = 0.0
    private let plainInterval: Double

    public init(plainInterval: Double = 30) {
        self.plainInterval = plainInterval
    }

    /// Shows `text`; `final` ends the line.
    public func update(_ text: String, elapsed: Double, final: Bool = false) {
        if isTerminal {
            print("\r\u{1B}[2K" + text, terminator: final ? "\n" : "")
            fflush(stdout)
        } else if final || elapsed - lastPlainPrint >= plainInterval {
            lastPlainPrint = final ? 0 : elapsed
            print(text)
            fflush(stdout)
        }
    }

    /// `m:ss` or `h:mm:ss`.
    public static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let (hours, minutes, rest) = (total / 3600, (total / 60) % 60, total % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, rest) : String(format: "%d:%02d", minutes, rest)
    }
}
