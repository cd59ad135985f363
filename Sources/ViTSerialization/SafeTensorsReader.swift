import Foundation

extension SafeTensorsFile {
    /// Reads and validates the safetensors file at `url`, converting every tensor to `Float`.
    ///
    /// The header is checked the way the reference implementation checks it: the length
    /// prefix fits the file, the header is a UTF-8 JSON object, every tensor has a known
    /// dtype, a shape and `data_offsets` that match each other, and the tensors fill the data
    /// buffer exactly, without gaps or overlaps. Any problem throws a `SerializationError`
    /// that names the file.
    public static func read(from url: URL) throws -> SafeTensorsFile {
        let source = try FileByteSource(path: url.path)
        defer { source.close() }
        return try load(from: source, file: url.path)
    }

    /// Reads and validates only the header of the safetensors file at `url` (its data is
    /// checked for size, not read).
    public static func readHeader(from url: URL) throws -> SafeTensorsHeader {
        let source = try FileByteSource(path: url.path)
        defer { source.close() }
        return try parseHeader(of: source, file: url.path)
    }

    /// Decodes safetensors bytes held in memory; `source` is the name error messages use.
    public static func decode(_ data: Data, source: String = "<memory>") throws -> SafeTensorsFile {
        try load(from: DataByteSource(data: data), file: source)
    }

    static func load(from source: ByteSource, file: String) throws -> SafeTensorsFile {
        let header = try parseHeader(of: source, file: file)
        var tensors = [String: NamedTensor](minimumCapacity: header.entries.count)
        var types = [String: SafeTensorsDType](minimumCapacity: header.entries.count)
        for entry in header.entries {
            let values = try readValues(of: entry, from: source, dataStart: header.dataStart)
            tensors[entry.name] = NamedTensor(shape: entry.shape, values: values)
            types[entry.name] = entry.dtype
        }
        var loaded = SafeTensorsFile(metadata: header.metadata, tensors: tensors)
        loaded.storedTypes = types
        return loaded
    }

    /// The elements of one validated entry, converted to `Float`.
    private static func readValues(of entry: SafeTensorsEntry, from source: ByteSource, dataStart: Int) throws -> [Float] {
        let count = entry.elementCount
        guard count > 0 else { return [] }
        let start = dataStart + entry.dataOffsets.lowerBound
        let byteCount = entry.dataOffsets.count
        #if _endian(little)
            if entry.dtype == .float32 {
                // Bulk copy straight into the array's storage.
                return try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    if let base = buffer.baseAddress {
                        try source.read(offset: start, count: byteCount, into: base)
                        initialized = count
                    }
                }
            }
        #endif
        let raw = try [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, initialized in
            if let base = buffer.baseAddress {
                try source.read(offset: start, count: byteCount, into: base)
                initialized = byteCount
            }
        }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            raw.withUnsafeBytes { bytes in
                entry.dtype.convert(bytes, count: count, into: buffer)
            }
            initialized = count
        }
    }

    // MARK: - Header

    static func parseHeader(of source: ByteSource, file: String) throws -> SafeTensorsHeader {
        let size = source.byteCount
        guard size >= 8 else {
            throw SerializationError.fileTooShort(file: file, byteCount: size)
        }
        let prefix = try readBytes(of: source, offset: 0, count: 8)
        var headerLength64: UInt64 = 0
        for (index, byte) in prefix.enumerated() {
            headerLength64 |= UInt64(byte) << (8 * UInt64(index))
        }
        let available = size - 8
        guard headerLength64 <= UInt64(available) else {
            throw SerializationError.headerLengthExceedsFile(
                file: file, headerLength: headerLength64, availableBytes: available)
        }
        guard headerLength64 <= UInt64(maximumHeaderLength) else {
            throw SerializationError.headerTooLarge(file: file, headerLength: headerLength64, limit: maximumHeaderLength)
        }
        let headerLength = Int(headerLength64)
        let headerBytes = try readBytes(of: source, offset: 8, count: headerLength)
        let raw = try decodeHeaderJSON(headerBytes, file: file)
        let entries = try validateEntries(raw.entries, dataLength: available - headerLength, file: file)
        return SafeTensorsHeader(metadata: raw.metadata, entries: entries, headerLength: headerLength)
    }

    private static func readBytes(of source: ByteSource, offset: Int, count: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let base = buffer.baseAddress, count > 0 {
                try source.read(offset: offset, count: count, into: base)
            }
            initialized = count
        }
    }

    private static func decodeHeaderJSON(_ bytes: [UInt8], file: String) throws -> (metadata: [String: String], entries: [String: RawEntry]) {
        guard !bytes.isEmpty else {
            throw SerializationError.invalidHeader(file: file, detail: "the header is empty")
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw SerializationError.invalidHeader(file: file, detail: "the header is not valid UTF-8")
        }
        guard bytes.first == UInt8(ascii: "{") else {
            let kind = bytes.first == UInt8(ascii: "[") ? "a JSON array" : "text that does not start with '{'"
            throw SerializationError.invalidHeader(file: file, detail: "the header is \(kind), not a JSON object")
        }
        let raw: RawHeader
        do {
            raw = try JSONDecoder().decode(RawHeader.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw SerializationError.invalidHeader(
                file: file, detail: "the header is not valid JSON (\(syntaxErrorDetail(bytes) ?? describe(error)))")
        } catch {
            throw SerializationError.invalidHeader(file: file, detail: "the header is not valid JSON (\(error))")
        }
        switch raw.metadata {
        case .missing:
            return ([:], raw.entries)
        case .value(let metadata):
            return (metadata, raw.entries)
        case .invalid:
            throw SerializationError.invalidHeader(
                file: file, detail: "'\(metadataKey)' must be an object whose values are all strings")
        }
    }

    /// Where the JSON syntax error is ("Invalid value around character 22."), which
    /// `JSONDecoder` does not say but `JSONSerialization` does.
    private static func syntaxErrorDetail(_ bytes: [UInt8]) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: Data(bytes))
            return nil
        } catch {
            return (error as NSError).userInfo["NSDebugDescription"] as? String
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let context), .keyNotFound(_, let context),
            .typeMismatch(_, let context), .valueNotFound(_, let context):
            if let underlying = context.underlyingError {
                return "\(context.debugDescription) \(underlying)"
            }
            return context.debugDescription
        @unknown default:
            return "\(error)"
        }
    }

    /// Checks every entry on its own, then checks that together they fill the data buffer
    /// of `dataLength` bytes exactly. Returns the entries in data order.
    private static func validateEntries(_ raw: [String: RawEntry], dataLength: Int, file: String) throws -> [SafeTensorsEntry] {
        var entries: [SafeTensorsEntry] = []
        entries.reserveCapacity(raw.count)
        for name in raw.keys.sorted(by: utf8Precedes) {
            guard let rawEntry = raw[name] else { continue }
            entries.append(try validateEntry(rawEntry, name: name, dataLength: dataLength, file: file))
        }
        entries.sort { left, right in
            if left.dataOffsets.lowerBound != right.dataOffsets.lowerBound {
                return left.dataOffsets.lowerBound < right.dataOffsets.lowerBound
            }
            if left.dataOffsets.upperBound != right.dataOffsets.upperBound {
                return left.dataOffsets.upperBound < right.dataOffsets.upperBound
            }
            return utf8Precedes(left.name, right.name)
        }
        var end = 0
        var previous: String?
        for entry in entries {
            let begin = entry.dataOffsets.lowerBound
            if begin != end {
                let detail: String
                if let previous {
                    detail =
                        begin < end
                        ? "[\(begin), \(entry.dataOffsets.upperBound)] overlaps tensor '\(previous)', which ends at byte \(end)"
                        : "[\(begin), \(entry.dataOffsets.upperBound)] leaves a gap after tensor '\(previous)', which ends at byte \(end)"
                } else {
                    detail = "[\(begin), \(entry.dataOffsets.upperBound)] leaves a gap: the first tensor must start at byte 0"
                }
                throw SerializationError.invalidOffsets(
                    file: file, tensor: entry.name,
                    detail: detail + " (tensors must be packed contiguously)")
            }
            end = entry.dataOffsets.upperBound
            previous = entry.name
        }
        guard end == dataLength else {
            throw SerializationError.dataBufferSizeMismatch(file: file, usedBytes: end, availableBytes: dataLength)
        }
        return entries
    }

    private static func validateEntry(_ raw: RawEntry, name: String, dataLength: Int, file: String) throws -> SafeTensorsEntry {
        guard raw.isObject else {
            throw SerializationError.invalidHeader(
                file: file, detail: "the entry for tensor '\(name)' is not a JSON object")
        }
        let dtype: SafeTensorsDType
        switch raw.dtype {
        case .missing:
            throw SerializationError.missingField(file: file, tensor: name, field: "dtype")
        case .invalid:
            throw SerializationError.invalidField(file: file, tensor: name, field: "dtype", detail: "it must be a string")
        case .value(let text):
            guard let known = SafeTensorsDType(rawValue: text) else {
                throw SerializationError.unsupportedDType(file: file, tensor: name, dtype: text)
            }
            dtype = known
        }
        let shape: [Int]
        switch raw.shape {
        case .missing:
            throw SerializationError.missingField(file: file, tensor: name, field: "shape")
        case .invalid:
            throw SerializationError.invalidField(
                file: file, tensor: name, field: "shape", detail: "it must be an array of non-negative integers")
        case .value(let dimensions):
            if let negative = dimensions.first(where: { $0 < 0 }) {
                throw SerializationError.invalidField(
                    file: file, tensor: name, field: "shape",
                    detail: "dimension \(negative) in \(formatShape(dimensions)) is negative")
            }
            shape = dimensions
        }
        let offsets: [Int]
        switch raw.dataOffsets {
        case .missing:
            throw SerializationError.missingField(file: file, tensor: name, field: "data_offsets")
        case .invalid:
            throw SerializationError.invalidField(
                file: file, tensor: name, field: "data_offsets",
                detail: "it must be an array of two non-negative integers [begin, end]")
        case .value(let numbers):
            guard numbers.count == 2, numbers[0] >= 0, numbers[1] >= 0 else {
                throw SerializationError.invalidField(
                    file: file, tensor: name, field: "data_offsets",
                    detail: "\(numbers) is not two non-negative integers [begin, end]")
            }
            offsets = numbers
        }
        let begin = offsets[0]
        let end = offsets[1]
        guard begin <= end else {
            throw SerializationError.invalidOffsets(
                file: file, tensor: name, detail: "[\(begin), \(end)] begins after it ends")
        }
        guard end <= dataLength else {
            throw SerializationError.invalidOffsets(
                file: file, tensor: name,
                detail: "[\(begin), \(end)] ends past the \(dataLength)-byte data buffer (truncated file?)")
        }
        let needed: Int?
        if let count = shapeElementCount(shape) {
            let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            needed = overflow ? nil : bytes
        } else {
            needed = nil
        }
        guard let needed, needed == end - begin else {
            let neededText = needed.map { "\($0) bytes" } ?? "more bytes than can be addressed"
            throw SerializationError.invalidOffsets(
                file: file, tensor: name,
                detail: "[\(begin), \(end)] holds \(end - begin) bytes but shape \(formatShape(shape)) "
                    + "of \(dtype.rawValue) needs \(neededText)")
        }
        return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }
}

// MARK: - Lenient JSON decoding of the header

/// A field of a header entry: absent, present with the wrong JSON type, or present.
private enum RawField<Value> {
    case missing
    case invalid
    case value(Value)
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }

    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// The header object, with type problems recorded instead of thrown so that validation
/// can report them by tensor and field name.
private struct RawHeader: Decodable {
    var metadata: RawField<[String: String]> = .missing
    var entries: [String: RawEntry] = [:]

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        for key in container.allKeys {
            if key.stringValue == SafeTensorsFile.metadataKey {
                if (try? container.decodeNil(forKey: key)) == true {
                    metadata = .missing
                } else if let value = try? container.decode([String: String].self, forKey: key) {
                    metadata = .value(value)
                } else {
                    metadata = .invalid
                }
            } else {
                entries[key.stringValue] = try container.decode(RawEntry.self, forKey: key)
            }
        }
    }
}

private struct RawEntry: Decodable {
    var isObject = true
    var dtype: RawField<String> = .missing
    var shape: RawField<[Int]> = .missing
    var dataOffsets: RawField<[Int]> = .missing

    init(from decoder: Decoder) throws {
        guard let container = try? decoder.container(keyedBy: AnyKey.self) else {
            isObject = false
            return
        }
        func field<Value: Decodable>(_ name: String, as type: Value.Type) -> RawField<Value> {
            let key = AnyKey(name)
            guard container.contains(key) else { return .missing }
            if let value = try? container.decode(type, forKey: key) { return .value(value) }
            return .invalid
        }
        dtype = field("dtype", as: String.self)
        shape = field("shape", as: [Int].self)
        dataOffsets = field("data_offsets", as: [Int].self)
    }
}
