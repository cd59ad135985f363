import ViTCore

/// A group of configuration fields stored flat in the configuration's JSON (`fib_wmin`
/// beside `patch_size`), so that grouping the settings in types changes no file. A section
/// lists each field once, in `fields`; decoding, encoding and the list of known keys all
/// derive from that list. Fields a JSON object leaves out keep the values of `init()`.
public protocol ConfigurationSection: Codable, Equatable, Sendable {
    /// The section with every field at its default.
    init()
    /// Every field of the section, each with its JSON key.
    static var fields: [ConfigurationField<Self>] { get }
    /// Throws an error naming the field, its value and what is allowed for a value out of
    /// range. `configuration` is the whole configuration, for checks against other fields;
    /// nested sections check themselves (`validateSection`).
    func validate(in configuration: ViTConfiguration) throws
}

extension ConfigurationSection {
    public init(from decoder: Decoder) throws {
        self.init()
        for field in Self.fields { try field.decode(&self, decoder) }
    }

    public func encode(to encoder: Encoder) throws {
        for field in Self.fields { try field.encode(self, encoder) }
    }

    /// Every JSON key of the section, nested sections' included.
    public static var keys: [String] { fields.flatMap(\.keys) }

    /// `validate(in:)` of this section, then of every nested section.
    func validateSection(in configuration: ViTConfiguration) throws {
        try validate(in: configuration)
        for field in Self.fields { try field.validate(self, configuration) }
    }
}

/// A kind that a configuration names by a string (`attention_type`, `weight_init`, ...).
public protocol ConfigurationChoice: RawRepresentable, CaseIterable, Sendable where RawValue == String {}

extension ConfigurationChoice {
    /// The names there are, comma-separated, in declaration order.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// The case called `name`, or an error that names `field`, `name` and the names there are.
    public init(name: String, field: String) throws {
        guard let value = Self(rawValue: name) else {
            throw ViTError.invalidArgument(operation: "config", detail: "unknown \(field) '\(name)'; choose one of \(Self.names)")
        }
        self = value
    }
}

/// One field of a `ConfigurationSection`: its JSON keys and how it is read and written.
public struct ConfigurationField<Section> {
    /// The JSON keys the field covers: its own, or every key of a nested section.
    let keys: [String]
    let decode: (inout Section, Decoder) throws -> Void
    let encode: (Section, Encoder) throws -> Void
    /// A nested section's checks; nothing for a plain field.
    var validate: (Section, ViTConfiguration) throws -> Void = { _, _ in }

    /// A value under `key`; a missing key (or null) keeps the default.
    public static func value<Value: Codable>(_ key: String, _ path: WritableKeyPath<Section, Value>) -> Self {
        field(key, get: { $0[keyPath: path] }, set: { $0[keyPath: path] = $1 })
    }

    /// An optional value under `key`: a missing key (or null) keeps the default, and nil is
    /// left out when encoding.
    public static func optional<Value: Codable>(_ key: String, _ path: WritableKeyPath<Section, Value?>) -> Self {
        field(key, get: { $0[keyPath: path] }, set: { $0[keyPath: path] = $1 })
    }

    /// A field read with `get` (nil: left out) and decoded into `set`.
    private static func field<Value: Codable>(
        _ key: String, get: @escaping (Section) -> Value?, set: @escaping (inout Section, Value) -> Void
    ) -> Self {
        Self(
            keys: [key],
            decode: { section, decoder in
                if let value = try read(Value.self, key, from: decoder) { set(&section, value) }
            },
            encode: { section, encoder in
                try write(get(section), key, to: encoder)
            })
    }

    /// A `ConfigurationChoice` stored as its name under `key`. An unknown name is an error
    /// that names the field (and `flag`, the command-line option, when given), the name and
    /// the names there are.
    public static func choice<Value: ConfigurationChoice>(_ key: String, _ path: WritableKeyPath<Section, Value>, flag: String? = nil) -> Self {
        let field = flag.map { "\(key) (\($0))" } ?? key
        return Self(
            keys: [key],
            decode: { section, decoder in
                if let name = try read(String.self, key, from: decoder) { section[keyPath: path] = try Value(name: name, field: field) }
            },
            encode: { section, encoder in
                try write(section[keyPath: path].rawValue, key, to: encoder)
            })
    }

    /// Every field of a nested section, stored flat beside this section's own.
    public static func section<Nested: ConfigurationSection>(_ path: WritableKeyPath<Section, Nested>) -> Self {
        Self(
            keys: Nested.keys,
            decode: { section, decoder in
                section[keyPath: path] = try Nested(from: decoder)
            },
            encode: { section, encoder in
                try section[keyPath: path].encode(to: encoder)
            },
            validate: { section, configuration in
                try section[keyPath: path].validateSection(in: configuration)
            })
    }

    /// The value under `key`, or nil when the key is missing or null.
    private static func read<Value: Decodable>(_ type: Value.Type, _ key: String, from decoder: Decoder) throws -> Value? {
        try decoder.container(keyedBy: FieldKey.self).decodeIfPresent(type, forKey: FieldKey(key))
    }

    /// Writes `value` under `key`; nil writes nothing.
    private static func write<Value: Encodable>(_ value: Value?, _ key: String, to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: FieldKey.self)
        try container.encodeIfPresent(value, forKey: FieldKey(key))
    }
}

/// A JSON key of a configuration field.
struct FieldKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }

    init(_ stringValue: String) {
        self.stringValue = stringValue
    }

    init?(stringValue: String) {
        self.init(stringValue)
    }

    init?(intValue: Int) {
        nil
    }
}
