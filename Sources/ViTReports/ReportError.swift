/// Errors in reading runs back or drawing their plots, each one sentence naming the path or
/// the program and the cause.
public enum ReportError: Error, CustomStringConvertible, Equatable {
    /// A run folder or one of its files is missing or unreadable.
    case unreadableRun(String)
    /// A study folder holds a run of a different recipe than the one asked for.
    case otherRecipe(String)
    /// The plotting program is not installed.
    case plotterMissing(String)
    /// The plotting program failed.
    case plotterFailed(String)

    public var description: String {
        switch self {
        case .unreadableRun(let detail), .otherRecipe(let detail), .plotterMissing(let detail), .plotterFailed(let detail): return detail
        }
    }
}
