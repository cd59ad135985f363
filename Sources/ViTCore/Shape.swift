/// The dimensions of a dense, row-major tensor.
public struct Shape: Hashable, CustomStringConvertible, ExpressibleByArrayLiteral, Sendable {
    /// Sizes from the outermost to the innermost dimension.
    public let dimensions: [Int]

    /// A shape from its sizes; use `validated(_:)` for sizes that come from users.
    public init(_ dimensions: [Int]) {
        self.dimensions = dimensions
    }

    public init(arrayLiteral elements: Int...) {
        self.init(elements)
    }

    /// A shape whose sizes are checked to be non-negative.
    public static func validated(_ dimensions: [Int], operation: String = "Shape") throws -> Shape {
        if let bad = dimensions.first(where: { $0 < 0 }) {
            throw ViTError.invalidArgument(operation: operation, detail: "dimension \(bad) in \(dimensions) is negative")
        }
        return Shape(dimensions)
    }

    /// Number of dimensions.
    public var rank: Int { dimensions.count }

    /// Number of elements.
    public var elementCount: Int { dimensions.reduce(1, *) }

    /// Size of dimension `axis`; negative axes count from the end.
    public subscript(axis: Int) -> Int {
        dimensions[axis < 0 ? axis + rank : axis]
    }

    /// The last dimension, or 1 for a scalar.
    public var last: Int { dimensions.last ?? 1 }

    /// Product of all dimensions but the last: the row count of the matrix view.
    public var rowCount: Int { rank == 0 ? 1 : dimensions.dropLast().reduce(1, *) }

    public var description: String { "[" + dimensions.map(String.init).joined(separator: ", ") + "]" }
}
