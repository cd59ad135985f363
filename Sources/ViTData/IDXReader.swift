/// An unsigned-byte array read from an IDX file: its dimensions (outermost first) and its
/// elements in row-major order.
public struct IDXArray: Equatable, Sendable {
    /// The sizes of the dimensions, outermost first: `[count, rows, columns]` for images,
    /// `[count]` for labels.
    public let dimensions: [Int]
    /// The elements in row-major order; `bytes.count` is the product of `dimensions`.
    public let bytes: [UInt8]

    /// Creates an array from dimensions and elements (they are not checked against each other).
    public init(dimensions: [Int], bytes: [UInt8]) {
        self.dimensions = dimensions
        self.bytes = bytes
    }
}

/// Reads IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or plain.
///
/// An IDX file is a 4-byte magic number `0x0000TTDD` (TT = element type, DD = number of
/// dimensions), then DD big-endian 32-bit dimension sizes, then the elements. Only unsigned
/// bytes (TT = 0x08) are supported: `0x00000803` is an image file `[n, rows, columns]`,
/// `0x00000801` a label file `[n]`. The payload must hold exactly the product of the
/// dimensions; anything else is reported as `DataError.corruptFile` naming the file.
public enum IDXReader {
    /// The IDX element type code of unsigned bytes.
    public static let unsignedByteType: UInt8 = 0x08
    /// The largest payload accepted, as a guard against a corrupt header (4 GiB).
    public static let maximumPayloadBytes = 1 << 32

    /// Reads an IDX file of unsigned bytes. When `expectedDimensionCount` is given, a file
    /// with a different number of dimensions is an error.
    public static func read(path: String, expectedDimensionCount: Int? = nil) throws -> IDXArray {
        let reader = try GzipFileReader(path: path)

        var magic = [UInt8](repeating: 0, count: 4)
        let magicRead = try magic.withUnsafeMutableBytes { try reader.read(into: $0.baseAddress!, count: 4) }
        guard magicRead == 4 else {
            throw DataError.corruptFile(path: path, reason: "only \(magicRead) bytes long, too short for an IDX header")
        }
        let magicNumber = magic.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let magicText = hex(magicNumber)
        guard magic[0] == 0, magic[1] == 0 else {
            throw DataError.corruptFile(
                path: path, reason: "bad magic number \(magicText); an IDX file starts with two zero bytes")
        }
        guard magic[2] == unsignedByteType else {
            throw DataError.corruptFile(
                path: path,
                reason: "magic number \(magicText) has element type 0x\(String(magic[2], radix: 16)); "
                    + "only unsigned bytes (0x08) are supported")
        }
        let dimensionCount = Int(magic[3])
        if let expected = expectedDimensionCount, dimensionCount != expected {
            throw DataError.corruptFile(
                path: path,
                reason: "bad magic number \(magicText): \(dimensionCount) dimensions, expected \(expected) "
                    + "(magic \(hex(0x800 | UInt32(expected))))")
        }
        guard dimensionCount >= 1 else {
            throw DataError.corruptFile(path: path, reason: "magic number \(magicText) declares no dimensions")
        }

        var header = [UInt8](repeating: 0, count: 4 * dimensionCount)
        let headerRead = try header.withUnsafeMutableBytes {
            try reader.read(into: $0.baseAddress!, count: 4 * dimensionCount)
        }
        guard headerRead == header.count else {
            throw DataError.corruptFile(
                path: path, reason: "header truncated: \(dimensionCount) dimension sizes declared, file ends first")
        }
        var dimensions: [Int] = []
        var payloadBytes = 1
        for index in 0..<dimensionCount {
            let size = header[(4 * index)..<(4 * index + 4)].reduce(0) { $0 << 8 | Int($1) }
            dimensions.append(size)
            let (product, overflow) = payloadBytes.multipliedReportingOverflow(by: size)
            guard !overflow, product <= maximumPayloadBytes else {
                throw DataError.corruptFile(
                    path: path, reason: "dimensions \(shapeText(dimensions)) are too large (corrupt header?)")
            }
            payloadBytes = product
        }

        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(payloadBytes, 1 << 26))
        let payloadRead = try reader.read(count: payloadBytes, appendingTo: &bytes)
        guard payloadRead == payloadBytes else {
            throw DataError.corruptFile(
                path: path,
                reason: "truncated: the header declares \(shapeText(dimensions)) = \(payloadBytes) bytes of data "
                    + "but the file holds only \(payloadRead)")
        }
        var extra: UInt8 = 0
        let extraRead = try reader.read(into: &extra, count: 1)
        guard extraRead == 0 else {
            throw DataError.corruptFile(
                path: path,
                reason: "trailing data: the header declares \(shapeText(dimensions)) = \(payloadBytes) bytes "
                    + "but the file holds more")
        }
        return IDXArray(dimensions: dimensions, bytes: bytes)
    }

    /// Reads an IDX image file (magic `0x00000803`): dimensions `[count, rows, columns]`.
    public static func readImages(path: String) throws -> IDXArray {
        try read(path: path, expectedDimensionCount: 3)
    }

    /// Reads an IDX label file (magic `0x00000801`): dimensions `[count]`.
    public static func readLabels(path: String) throws -> IDXArray {
        try read(path: path, expectedDimensionCount: 1)
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    private static func shapeText(_ dimensions: [Int]) -> String {
        dimensions.map(String.init).joined(separator: "x")
    }
}
