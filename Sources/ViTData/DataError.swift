/// Everything that can go wrong while loading or batching a data set. Each case carries
/// the file or folder involved and a message that says what is wrong and, where there is
/// one, what to do about it.
public enum DataError: Error, CustomStringConvertible, Equatable {
    /// A data set's folder or some of its files are missing. `hint` says how to get them.
    case datasetNotFound(dataset: String, searched: [String], missingFiles: [String], hint: String)
    /// A file exists but could not be opened or read (permissions, I/O error, ...).
    case unreadableFile(path: String, reason: String)
    /// A file was read but its content is wrong: bad magic number, truncated payload,
    /// length not a multiple of the record size, label out of range, broken gzip stream.
    case corruptFile(path: String, reason: String)
    /// Arrays handed to `Dataset` (or a transform of one) do not agree with each other.
    case invalidDataset(name: String, reason: String)
    /// An argument is out of its valid range (batch size 0, target size smaller than the image, ...).
    case invalidArgument(operation: String, reason: String)

    public var description: String {
        switch self {
        case .datasetNotFound(let dataset, let searched, let missingFiles, let hint):
            let folders = searched.joined(separator: ", ")
            let files = missingFiles.joined(separator: ", ")
            return "\(dataset) not found: looked in \(folders) for \(files); \(hint)"
        case .unreadableFile(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .corruptFile(let path, let reason):
            return "\(path) is corrupt: \(reason)"
        case .invalidDataset(let name, let reason):
            return "invalid data set '\(name)': \(reason)"
        case .invalidArgument(let operation, let reason):
            return "\(operation): invalid argument: \(reason)"
        }
    }
}
