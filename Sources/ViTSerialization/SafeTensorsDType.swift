/// The element types this package can read from a safetensors file, by their header names.
///
/// Every type is converted to `Float` on reading; only `F32` is ever written. Types of the
/// format that are missing here (`F8_E4M3`, `C64`, sub-byte types, ...) are reported as
/// `SerializationError.unsupportedDType`.
public enum SafeTensorsDType: String, CaseIterable, Sendable {
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case float64 = "F64"
    case int64 = "I64"
    case int32 = "I32"
    case int16 = "I16"
    case int8 = "I8"
    case uint64 = "U64"
    case uint32 = "U32"
    case uint16 = "U16"
    case uint8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float64, .int64, .uint64: return 8
        case .float32, .int32, .uint32: return 4
        case .float16, .bfloat16, .int16, .uint16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// Converts `count` little-endian elements of this type at `source` to `Float`s in
    /// `destination`. `source` needs no particular alignment.
    func convert(_ source: UnsafeRawBufferPointer, count: Int, into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(source.count >= count * byteSize && destination.count >= count, "conversion buffers too small")
        switch self {
        case .float32:
            for index in 0..<count {
                let bits = UInt32(littleEndian: source.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
                destination[index] = Float(bitPattern: bits)
            }
        case .float16:
            for index in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                destination[index] = floatFromHalfBits(bits)
            }
        case .bfloat16:
            for index in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                destination[index] = Float(bitPattern: UInt32(bits) << 16)
            }
        case .float64:
            for index in 0..<count {
                let bits = UInt64(littleEndian: source.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))
                destination[index] = Float(Double(bitPattern: bits))
            }
        case .int64:
            for index in 0..<count {
                destination[index] = Float(Int64(littleEndian: source.loadUnaligned(fromByteOffset: index * 8, as: Int64.self)))
            }
        case .int32:
            for index in 0..<count {
                destination[index] = Float(Int32(littleEndian: source.loadUnaligned(fromByteOffset: index * 4, as: Int32.self)))
            }
        case .int16:
            for index in 0..<count {
                destination[index] = Float(Int16(littleEndian: source.loadUnaligned(fromByteOffset: index * 2, as: Int16.self)))
            }
        case .int8:
            for index in 0..<count {
                destination[index] = Float(source.load(fromByteOffset: index, as: Int8.self))
            }
        case .uint64:
            for index in 0..<count {
                destination[index] = Float(UInt64(littleEndian: source.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)))
            }
        case .uint32:
            for index in 0..<count {
                destination[index] = Float(UInt32(littleEndian: source.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
            }
        case .uint16:
            for index in 0..<count {
                destination[index] = Float(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)))
            }
        case .uint8:
            for index in 0..<count {
                destination[index] = Float(source[index])
            }
        case .bool:
            for index in 0..<count {
                destination[index] = source[index] == 0 ? 0 : 1
            }
        }
    }
}

/// The `Float` value of IEEE 754 half-precision bits, exact for every input (normals,
/// subnormals, signed zeros, infinities; NaNs stay NaN with their payload shifted in).
func floatFromHalfBits(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x03FF)
    if exponent == 0x1F {
        // Infinity or NaN.
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    if exponent == 0 {
        if mantissa == 0 { return Float(bitPattern: sign) }
        // Subnormal: mantissa * 2^-24, exactly representable as a Float.
        let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign == 0 ? magnitude : -magnitude
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}
