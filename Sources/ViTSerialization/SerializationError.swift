/// One tensor whose shape in a checkpoint differs from the shape the model expects.
public struct ShapeDifference: Equatable, Sendable, CustomStringConvertible {
    /// The tensor's name, such as `blocks.0.attn.qkv.weight`.
    public var name: String
    /// The shape the caller asked for.
    public var expected: [Int]
    /// The shape stored in the file.
    public var actual: [Int]

    public init(name: String, expected: [Int], actual: [Int]) {
        self.name = name
        self.expected = expected
        self.actual = actual
    }

    public var description: String {
        "'\(name)' has shape \(formatShape(actual)) but \(formatShape(expected)) was expected"
    }
}

/// Everything that can go wrong while reading, writing or checking a safetensors file.
///
/// Each case names the file (its path, or the label given to `SafeTensorsFile.decode`) and
/// says what is wrong, so a message alone tells a user which checkpoint is broken and why.
public enum SerializationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file is shorter than the 8-byte header length prefix.
    case fileTooShort(file: String, byteCount: Int)
    /// The header length prefix points past the end of the file (truncated or not safetensors).
    case headerLengthExceedsFile(file: String, headerLength: UInt64, availableBytes: Int)
    /// The header length prefix is above `SafeTensorsFile.maximumHeaderLength`.
    case headerTooLarge(file: String, headerLength: UInt64, limit: Int)
    /// The header is not UTF-8, not JSON, not a JSON object, or its `__metadata__` is not a
    /// string-to-string object.
    case invalidHeader(file: String, detail: String)
    /// A tensor entry in the header lacks one of `dtype`, `shape` or `data_offsets`.
    case missingField(file: String, tensor: String, field: String)
    /// A tensor entry's field has the wrong JSON type or an impossible value.
    case invalidField(file: String, tensor: String, field: String, detail: String)
    /// A tensor's dtype is not one this reader can convert to `Float`.
    case unsupportedDType(file: String, tensor: String, dtype: String)
    /// A tensor's `data_offsets` are out of bounds, do not match its shape and dtype, or
    /// leave a gap or an overlap with the tensor stored before it.
    case invalidOffsets(file: String, tensor: String, detail: String)
    /// The tensors do not cover the data buffer exactly: bytes after the last tensor.
    case dataBufferSizeMismatch(file: String, usedBytes: Int, availableBytes: Int)
    /// A tensor cannot be written: its values do not fill its shape, a dimension is negative,
    /// its size overflows, or its name is reserved.
    case invalidTensor(file: String, tensor: String, detail: String)
    /// A system call failed (open, read, write, fsync, rename, ...).
    case io(file: String, operation: String, detail: String)
    /// The tensors in a checkpoint are not the ones a model expects (see `requireShapes`).
    case tensorSetMismatch(file: String, missing: [String], unexpected: [String], differing: [ShapeDifference])

    /// The file (or label) the error is about.
    public var file: String {
        switch self {
        case .fileTooShort(let file, _), .headerLengthExceedsFile(let file, _, _),
            .headerTooLarge(let file, _, _), .invalidHeader(let file, _),
            .missingField(let file, _, _), .invalidField(let file, _, _, _),
            .unsupportedDType(let file, _, _), .invalidOffsets(let file, _, _),
            .dataBufferSizeMismatch(let file, _, _), .invalidTensor(let file, _, _),
            .io(let file, _, _), .tensorSetMismatch(let file, _, _, _):
            return file
        }
    }

    public var description: String {
        switch self {
        case .fileTooShort(let file, let byteCount):
            return "'\(file)' is not a safetensors file: it has \(byteCount) byte\(byteCount == 1 ? "" : "s"), "
                + "fewer than the 8-byte header length prefix (truncated or empty file?)"
        case .headerLengthExceedsFile(let file, let headerLength, let availableBytes):
            return "'\(file)' is truncated or not a safetensors file: its header length prefix says "
                + "\(headerLength) bytes but only \(availableBytes) bytes follow the prefix"
        case .headerTooLarge(let file, let headerLength, let limit):
            return "'\(file)': safetensors header of \(headerLength) bytes is larger than the limit of \(limit) bytes"
        case .invalidHeader(let file, let detail):
            return "'\(file)': invalid safetensors header: \(detail)"
        case .missingField(let file, let tensor, let field):
            return "'\(file)': tensor '\(tensor)' has no '\(field)' field in the safetensors header"
        case .invalidField(let file, let tensor, let field, let detail):
            return "'\(file)': tensor '\(tensor)' has an invalid '\(field)': \(detail)"
        case .unsupportedDType(let file, let tensor, let dtype):
            return "'\(file)': tensor '\(tensor)' has dtype '\(dtype)', which cannot be read (supported: "
                + SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ") + ")"
        case .invalidOffsets(let file, let tensor, let detail):
            return "'\(file)': tensor '\(tensor)' has invalid data_offsets: \(detail)"
        case .dataBufferSizeMismatch(let file, let usedBytes, let availableBytes):
            return "'\(file)': the tensors cover \(usedBytes) of the \(availableBytes) bytes in the data buffer; "
                + "the \(availableBytes - usedBytes) bytes after them belong to no tensor"
        case .invalidTensor(let file, let tensor, let detail):
            return "'\(file)': cannot write tensor '\(tensor)': \(detail)"
        case .io(let file, let operation, let detail):
            return "'\(file)': \(operation) failed: \(detail)"
        case .tensorSetMismatch(let file, let missing, let unexpected, let differing):
            var parts: [String] = []
            if !differing.isEmpty {
                parts.append("shape differs for " + abbreviated(differing.map(\.description)))
            }
            if !missing.isEmpty {
                parts.append("missing tensor\(missing.count == 1 ? "" : "s") " + abbreviated(missing.map { "'\($0)'" }))
            }
            if !unexpected.isEmpty {
                parts.append(
                    "unexpected tensor\(unexpected.count == 1 ? "" : "s") "
                        + abbreviated(unexpected.map { "'\($0)'" }))
            }
            return "'\(file)' does not match the expected tensors: " + parts.joined(separator: "; ")
        }
    }
}

/// `[2, 3]` for a shape, `[]` for a scalar.
func formatShape(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}

/// The first few items joined by commas, then how many more there are.
private func abbreviated(_ items: [String], limit: Int = 10) -> String {
    if items.count <= limit { return items.joined(separator: ", ") }
    return items.prefix(limit).joined(separator: ", ") + " and \(items.count - limit) more"
}
