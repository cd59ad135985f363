import Foundation
import XCTest

@testable import ViTSerialization

/// Files written by hand in dtypes other than F32, as timm checkpoints may be.
final class DTypeReadTests: TemporaryDirectoryTestCase {
    private func entry(_ name: String, _ dtype: String, _ shape: [Int], _ begin: Int, _ end: Int) -> String {
        #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(begin),\#(end)]}"#
    }

    func testReadsFloat16() throws {
        let bits: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x8000, 0x7C00, 0xFC00, 0x3555, 0x3800, 0x0400, 0x7E00]
        let expected: [Float] = [
            1, -2, 65504, 0x1p-24, 1023 * 0x1p-24, -0.0, .infinity, -.infinity,
            0.333251953125, 0.5, 0x1p-14, .nan,
        ]
        let header = "{" + entry("half", "F16", [3, 4], 0, 24) + "}"
        let target = try writeRaw(safetensorsBytes(header: header, data: littleEndianBytes(bits)), named: "half.safetensors")
        let file = try SafeTensorsFile.read(from: target)
        XCTAssertEqual(file["half"]?.shape, [3, 4])
        XCTAssertBitwiseEqual(file["half"]?.values, expected)
        XCTAssertEqual(try SafeTensorsFile.readHeader(from: target).entries.first?.dtype, .float16)
    }

    func testHalfConversionMatchesSwiftFloat16ForEveryBitPattern() throws {
        #if arch(x86_64) || arch(arm64) || arch(aarch64)
            for bits in UInt16.min...UInt16.max {
                let reference = Float(Float16(bitPattern: bits))
                let converted = floatFromHalfBits(bits)
                if reference.isNaN {
                    XCTAssertTrue(converted.isNaN, "bits \(bits)")
                } else if converted.bitPattern != reference.bitPattern {
                    XCTFail("half bits \(String(bits, radix: 16)): \(converted) != \(reference)")
                    return
                }
            }
        #else
            throw XCTSkip("Float16 is not available on this architecture")
        #endif
    }

    func testReadsBFloat16() throws {
        let bits: [UInt16] = [0x3F80, 0xC040, 0x4049, 0x7F80, 0x0001, 0x8000, 0x4780]
        let expected = bits.map { Float(bitPattern: UInt32($0) << 16) }
        XCTAssertEqual(Array(expected.prefix(3)), [1, -3, 3.140625])
        XCTAssertEqual(expected[6], 65536)
        let header = "{" + entry("brain", "BF16", [7], 0, 14) + "}"
        let target = try writeRaw(safetensorsBytes(header: header, data: littleEndianBytes(bits)), named: "bf16.safetensors")
        XCTAssertBitwiseEqual(try SafeTensorsFile.read(from: target)["brain"]?.values, expected)
    }

    func testReadsFloat64() throws {
        let doubles: [Double] = [1.5, -1e-3, 0.1, 1e300, -1e-300, 123456789.125]
        let header = "{" + entry("double", "F64", [2, 3], 0, 48) + "}"
        let data = littleEndianBytes(doubles.map(\.bitPattern))
        let target = try writeRaw(safetensorsBytes(header: header, data: data), named: "f64.safetensors")
        let values = try XCTUnwrap(try SafeTensorsFile.read(from: target)["double"]?.values)
        XCTAssertBitwiseEqual(values, doubles.map { Float($0) })
        XCTAssertEqual(values[3], .infinity)
        XCTAssertEqual(values[4].bitPattern, (-0.0 as Float).bitPattern)
    }

    func testReadsMixedDTypesAtUnalignedOffsets() throws {
        // One F16 element puts the F32 tensor at data offset 2, and one U8 element puts the
        // F64 tensor at an odd offset.
        let header =
            "{"
            + [
                entry("a_half", "F16", [1], 0, 2),
                entry("b_float", "F32", [2], 2, 10),
                entry("c_byte", "U8", [1], 10, 11),
                entry("d_double", "F64", [1], 11, 19),
                entry("e_long", "I64", [2], 19, 35),
                entry("f_int", "I32", [1], 35, 39),
                entry("g_flag", "BOOL", [2], 39, 41),
                entry("h_signed", "I8", [1], 41, 42),
                entry("i_short", "I16", [1], 42, 44),
                entry("j_ushort", "U16", [1], 44, 46),
                entry("k_uint", "U32", [1], 46, 50),
                entry("l_ulong", "U64", [1], 50, 58),
            ].joined(separator: ",")
            + "}"
        var data: [UInt8] = littleEndianBytes(UInt16(0x4200))  // 3.0 in half precision
        data += float32Bytes([1.25, -7])
        data += [200]
        data += littleEndianBytes((-2.5 as Double).bitPattern)
        data += littleEndianBytes([Int64(-3), Int64(1) << 40])
        data += littleEndianBytes(Int32(-123456))
        data += [0, 1]
        data += [UInt8(bitPattern: -5)]
        data += littleEndianBytes(Int16(-300))
        data += littleEndianBytes(UInt16(65535))
        data += littleEndianBytes(UInt32(4_000_000_000))
        data += littleEndianBytes(UInt64(1) << 63)
        XCTAssertEqual(data.count, 58)
        let target = try writeRaw(safetensorsBytes(header: header, data: data), named: "mixed.safetensors")
        let file = try SafeTensorsFile.read(from: target)
        XCTAssertEqual(file["a_half"]?.values, [3])
        XCTAssertEqual(file["b_float"]?.values, [1.25, -7])
        XCTAssertEqual(file["c_byte"]?.values, [200])
        XCTAssertEqual(file["d_double"]?.values, [-2.5])
        XCTAssertEqual(file["e_long"]?.values, [-3, 0x1p40])
        XCTAssertEqual(file["f_int"]?.values, [-123456])
        XCTAssertEqual(file["g_flag"]?.values, [0, 1])
        XCTAssertEqual(file["h_signed"]?.values, [-5])
        XCTAssertEqual(file["i_short"]?.values, [-300])
        XCTAssertEqual(file["j_ushort"]?.values, [65535])
        XCTAssertEqual(file["k_uint"]?.values, [4_000_000_000])
        XCTAssertEqual(file["l_ulong"]?.values, [0x1p63])

        // Writing it back stores everything as F32.
        let rewritten = url("rewritten.safetensors")
        try file.write(to: rewritten)
        let header2 = try SafeTensorsFile.readHeader(from: rewritten)
        XCTAssertEqual(Set(header2.entries.map(\.dtype)), [.float32])
        XCTAssertEqual(try SafeTensorsFile.read(from: rewritten), file)
    }
}
