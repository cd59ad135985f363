import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension SafeTensorsFile {
    /// Writes this file to `url` atomically, as `F32` tensors in name order.
    ///
    /// The bytes go through `AtomicFile`, so readers see either the old file or the complete
    /// new one, never a partial checkpoint; on any error `url` is left as it was. Tensors are validated first (values fill the shape, no
    /// negative dimension, no reserved name).
    public func write(to url: URL) throws {
        let plan = try makePlan(file: url.path)
        try AtomicFile.write(to: url) { output in
            try plan.lengthPrefix.withUnsafeBytes { try output.write($0) }
            try plan.header.withUnsafeBytes { try output.write($0) }
            for (_, tensor) in plan.tensors {
                try withLittleEndianBytes(of: tensor.values) { try output.write($0) }
            }
        }
    }

    /// The complete file as bytes, exactly as `write(to:)` stores them.
    public func encoded() throws -> Data {
        let plan = try makePlan(file: "<memory>")
        var data = Data(capacity: 8 + plan.header.count + plan.dataLength)
        data.append(contentsOf: plan.lengthPrefix)
        data.append(contentsOf: plan.header)
        for (_, tensor) in plan.tensors {
            withLittleEndianBytes(of: tensor.values) { data.append(contentsOf: $0) }
        }
        return data
    }

    /// The serialized header and the tensors in the order their data follows it.
    private struct Plan {
        var lengthPrefix: [UInt8]
        var header: [UInt8]
        var tensors: [(name: String, tensor: NamedTensor)]
        var dataLength: Int
    }

    /// Validates the tensors and builds the header JSON the way the reference implementation
    /// does: `__metadata__` first (omitted when empty), then each tensor's `dtype`, `shape` and
    /// `data_offsets`, compact, padded with spaces to a multiple of 8 bytes.
    private func makePlan(file: String) throws -> Plan {
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += jsonString(Self.metadataKey) + ":{"
            json += metadata.keys.sorted(by: utf8Precedes).map { key in
                jsonString(key) + ":" + jsonString(metadata[key] ?? "")
            }.joined(separator: ",")
            json += "}"
            first = false
        }
        var ordered: [(name: String, tensor: NamedTensor)] = []
        ordered.reserveCapacity(tensors.count)
        var offset = 0
        for name in sortedNames {
            guard let tensor = tensors[name] else { continue }
            guard name != Self.metadataKey else {
                throw SerializationError.invalidTensor(
                    file: file, tensor: name, detail: "the name '\(Self.metadataKey)' is reserved for metadata")
            }
            if let negative = tensor.shape.first(where: { $0 < 0 }) {
                throw SerializationError.invalidTensor(
                    file: file, tensor: name,
                    detail: "dimension \(negative) in shape \(formatShape(tensor.shape)) is negative")
            }
            guard let count = tensor.elementCount else {
                throw SerializationError.invalidTensor(
                    file: file, tensor: name, detail: "the element count of shape \(formatShape(tensor.shape)) overflows")
            }
            guard count == tensor.values.count else {
                throw SerializationError.invalidTensor(
                    file: file, tensor: name,
                    detail: "shape \(formatShape(tensor.shape)) has \(count) element\(count == 1 ? "" : "s") but "
                        + "\(tensor.values.count) value\(tensor.values.count == 1 ? " was" : "s were") given")
            }
            // `values` exists in memory, so its byte size and the running offset cannot overflow.
            let end = offset + count * MemoryLayout<Float>.size
            if !first { json += "," }
            first = false
            json +=
                jsonString(name) + ":{\"dtype\":\"F32\",\"shape\":[" + tensor.shape.map(String.init).joined(separator: ",")
                + "],\"data_offsets\":[\(offset),\(end)]}"
            ordered.append((name, tensor))
            offset = end
        }
        json += "}"
        var header = Array(json.utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        let length = UInt64(header.count)
        let prefix = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) }
        return Plan(lengthPrefix: prefix, header: header, tensors: ordered, dataLength: offset)
    }
}

/// Calls `body` with the values as little-endian `F32` bytes: the array's own storage on a
/// little-endian machine, converted chunks otherwise.
func withLittleEndianBytes(of values: [Float], _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
    #if _endian(little)
        try values.withUnsafeBytes(body)
    #else
        let chunkLength = 1 << 16
        var chunk = [UInt32](repeating: 0, count: chunkLength)
        var start = 0
        while start < values.count {
            let count = min(chunkLength, values.count - start)
            for index in 0..<count {
                chunk[index] = values[start + index].bitPattern.littleEndian
            }
            try chunk.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0.prefix(count * 4))) }
            start += count
        }
    #endif
}

/// `text` as a JSON string literal, escaped as serde_json escapes it.
func jsonString(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case "\u{08}": result += "\\b"
        case "\u{0C}": result += "\\f"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
    }
    return result + "\""
}
