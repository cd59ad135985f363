import Foundation

/// The shape and values of one tensor in a safetensors file. Its name is its key in
/// `SafeTensorsFile.tensors`.
///
/// Values are row-major (the last dimension varies fastest), as PyTorch stores them. A
/// scalar has shape `[]` and one value; a tensor with a zero dimension has no values.
public struct NamedTensor: Equatable, Sendable {
    /// Sizes from the outermost to the innermost dimension.
    public var shape: [Int]
    /// The elements in row-major order; `values.count` must equal the product of `shape`.
    public var values: [Float]

    /// A tensor from its shape and values; the two are checked against each other when the
    /// tensor is written.
    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }

    /// A tensor of shape `[]` holding one value.
    public init(scalar: Float) {
        self.init(shape: [], values: [scalar])
    }

    /// The product of `shape`, or nil if a dimension is negative or the product overflows `Int`.
    public var elementCount: Int? {
        shapeElementCount(shape)
    }
}

/// The contents of a safetensors file: free-form string metadata and named tensors.
///
/// Read one with `read(from:)`, write one with `write(to:)`. Tensors are written in the byte
/// order of their names (as the Python `safetensors` library does), always as `F32`, so
/// writing the same contents twice gives identical files.
public struct SafeTensorsFile: Equatable, Sendable {
    /// The header key that holds the metadata; no tensor may have this name.
    public static let metadataKey = "__metadata__"
    /// The largest header this reader accepts, the same limit as the reference implementation.
    public static let maximumHeaderLength = 100_000_000

    /// The `__metadata__` object of the header (PyTorch writes `["format": "pt"]`). Written
    /// only when not empty.
    public var metadata: [String: String]
    /// The tensors by name.
    public var tensors: [String: NamedTensor]
    /// For a file that was read, the element type each tensor was stored in before it was
    /// converted to `Float` (empty for a file built in memory). Not part of the file's value:
    /// two files with the same metadata and tensors are equal.
    public internal(set) var storedTypes: [String: SafeTensorsDType] = [:]

    public init(metadata: [String: String] = [:], tensors: [String: NamedTensor] = [:]) {
        self.metadata = metadata
        self.tensors = tensors
    }

    public static func == (left: SafeTensorsFile, right: SafeTensorsFile) -> Bool {
        left.metadata == right.metadata && left.tensors == right.tensors
    }

    /// The tensor called `name`, or nil; assigning nil removes it.
    public subscript(name: String) -> NamedTensor? {
        get { tensors[name] }
        set { tensors[name] = newValue }
    }

    /// The tensor names in the order they are written: ascending by their UTF-8 bytes.
    public var sortedNames: [String] {
        tensors.keys.sorted(by: utf8Precedes)
    }

    /// The shape of every tensor, by name.
    public var shapes: [String: [Int]] {
        tensors.mapValues(\.shape)
    }

    /// Checks that this file holds exactly the tensors in `expected` with exactly those
    /// shapes, and throws `SerializationError.tensorSetMismatch` listing every missing
    /// tensor, every unexpected one and, for each shape that differs, the tensor's name and
    /// both shapes.
    ///
    /// - Parameters:
    ///   - expected: names and shapes the caller needs; if a name repeats, its first shape counts.
    ///   - file: the path or label the error message names, such as the checkpoint's path.
    ///   - allowUnexpected: when true, tensors that `expected` does not list are ignored.
    public func requireShapes(
        _ expected: [(name: String, shape: [Int])], file: String = "checkpoint",
        allowUnexpected: Bool = false
    ) throws {
        try checkShapes(actual: shapes, expected: expected, file: file, allowUnexpected: allowUnexpected)
    }

    /// `requireShapes` with the expected shapes by name.
    public func requireShapes(
        _ expected: [String: [Int]], file: String = "checkpoint",
        allowUnexpected: Bool = false
    ) throws {
        let ordered = expected.keys.sorted(by: utf8Precedes).map { (name: $0, shape: expected[$0] ?? []) }
        try requireShapes(ordered, file: file, allowUnexpected: allowUnexpected)
    }
}

/// The header of a safetensors file, read without its tensor data: enough to list a
/// checkpoint's tensors or check their shapes cheaply.
public struct SafeTensorsHeader: Equatable, Sendable {
    /// The `__metadata__` object, empty if the header has none.
    public var metadata: [String: String]
    /// The tensor entries in the order of their data in the file.
    public var entries: [SafeTensorsEntry]
    /// The header length from the 8-byte prefix, padding included.
    public var headerLength: Int
    /// Where the data buffer starts in the file: `8 + headerLength`.
    public var dataStart: Int { 8 + headerLength }

    public init(metadata: [String: String], entries: [SafeTensorsEntry], headerLength: Int) {
        self.metadata = metadata
        self.entries = entries
        self.headerLength = headerLength
    }

    /// The shape of every tensor, by name.
    public var shapes: [String: [Int]] {
        Dictionary(entries.map { ($0.name, $0.shape) }, uniquingKeysWith: { first, _ in first })
    }

    /// The same check as `SafeTensorsFile.requireShapes`, without loading any tensor data.
    public func requireShapes(
        _ expected: [(name: String, shape: [Int])], file: String = "checkpoint",
        allowUnexpected: Bool = false
    ) throws {
        try checkShapes(actual: shapes, expected: expected, file: file, allowUnexpected: allowUnexpected)
    }
}

/// One tensor's entry in a safetensors header, validated against the file.
public struct SafeTensorsEntry: Equatable, Sendable {
    /// The tensor's name.
    public var name: String
    /// The stored element type; reading converts it to `Float`.
    public var dtype: SafeTensorsDType
    /// Sizes from the outermost to the innermost dimension.
    public var shape: [Int]
    /// Byte range of the tensor's data, relative to the start of the data buffer.
    public var dataOffsets: Range<Int>

    public init(name: String, dtype: SafeTensorsDType, shape: [Int], dataOffsets: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataOffsets = dataOffsets
    }

    /// Number of elements (the product of `shape`; validation guarantees it does not overflow).
    public var elementCount: Int { dataOffsets.count / dtype.byteSize }
}

// MARK: - Helpers shared by reading and writing

/// The product of `shape`, or nil if a dimension is negative or the product overflows.
func shapeElementCount(_ shape: [Int]) -> Int? {
    var product = 1
    for dimension in shape {
        guard dimension >= 0 else { return nil }
        let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
        guard !overflow else { return nil }
        product = next
    }
    return product
}

/// Orders strings by their UTF-8 bytes, as Rust's and Python's string comparisons do.
func utf8Precedes(_ left: String, _ right: String) -> Bool {
    left.utf8.lexicographicallyPrecedes(right.utf8)
}

private func checkShapes(
    actual: [String: [Int]], expected: [(name: String, shape: [Int])], file: String,
    allowUnexpected: Bool
) throws {
    var missing: [String] = []
    var differing: [ShapeDifference] = []
    var seen = Set<String>()
    for (name, shape) in expected where seen.insert(name).inserted {
        guard let found = actual[name] else {
            missing.append(name)
            continue
        }
        if found != shape {
            differing.append(ShapeDifference(name: name, expected: shape, actual: found))
        }
    }
    let unexpected = allowUnexpected ? [] : actual.keys.filter { !seen.contains($0) }.sorted(by: utf8Precedes)
    if !missing.isEmpty || !unexpected.isEmpty || !differing.isEmpty {
        throw SerializationError.tensorSetMismatch(
            file: file, missing: missing, unexpected: unexpected, differing: differing)
    }
}
