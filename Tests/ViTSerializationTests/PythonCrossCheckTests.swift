import Foundation
import XCTest

@testable import ViTSerialization

/// Checks the format against an independent reader and writer: a short Python script using
/// only `json`, `struct` and `numpy`, following the safetensors specification. Skipped when
/// `python3` with numpy is not available.
final class PythonCrossCheckTests: TemporaryDirectoryTestCase {
    /// Parses a file the way the reference does and prints a JSON summary of it.
    private static let readerScript = #"""
        import json, struct, sys
        import numpy as np
        path = sys.argv[1]
        raw = open(path, "rb").read()
        (n,) = struct.unpack("<Q", raw[:8])
        assert n % 8 == 0, "header length %d is not a multiple of 8" % n
        text = raw[8:8 + n].decode("utf-8")
        assert text.startswith("{")
        assert len(text) - len(text.rstrip(" ")) < 8, "more than 7 padding spaces"
        header = json.loads(text)
        metadata = header.pop("__metadata__", {})
        buffer = raw[8 + n:]
        names = list(header.keys())
        assert names == sorted(names, key=lambda s: s.encode("utf-8")), names
        end = 0
        out = {"metadata": metadata, "tensors": {}}
        for name in names:
            info = header[name]
            assert list(info.keys()) == ["dtype", "shape", "data_offsets"], info
            assert info["dtype"] == "F32"
            begin, stop = info["data_offsets"]
            assert begin == end, (name, begin, end)
            array = np.frombuffer(buffer[begin:stop], dtype="<f4").reshape(info["shape"])
            out["tensors"][name] = {"shape": list(array.shape), "values": [float(v) for v in array.reshape(-1)]}
            end = stop
        assert end == len(buffer), (end, len(buffer))
        print(json.dumps(out))
        """#

    /// Writes a file with F16, BF16, F64 and F32 tensors the way the reference library lays
    /// them out, plus a JSON file of their values as float32.
    private static let writerScript = #"""
        import json, struct, sys
        import numpy as np
        path, expected_path = sys.argv[1], sys.argv[2]
        rng = np.random.default_rng(7)
        f32 = rng.standard_normal((3, 4)).astype(np.float32)
        tensors = {
            "blocks.0.norm1.weight": f32.astype(np.float16),
            "blocks.0.norm1.bias": f32[0].astype(np.float64),
            "head.weight": f32,
            "pos_embed": (f32.view(np.uint32) >> 16).astype(np.uint16),  # bfloat16 bits
            "scalar": np.array(3.5, dtype=np.float64),
        }
        dtypes = {"blocks.0.norm1.weight": "F16", "blocks.0.norm1.bias": "F64", "head.weight": "F32",
                  "pos_embed": "BF16", "scalar": "F64"}
        header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
        for name in sorted(tensors):
            data = tensors[name].astype(tensors[name].dtype.newbyteorder("<")).tobytes()
            header[name] = {"dtype": dtypes[name], "shape": list(tensors[name].shape),
                            "data_offsets": [offset, offset + len(data)]}
            chunks.append(data)
            offset += len(data)
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
        def as_f32(name):
            if dtypes[name] == "BF16":
                return (tensors[name].astype(np.uint32) << 16).view(np.float32)
            return tensors[name].astype(np.float32)
        expected = {name: {"shape": list(tensors[name].shape), "values": [float(v) for v in as_f32(name).reshape(-1)]}
                    for name in tensors}
        json.dump(expected, open(expected_path, "w"))
        """#

    private struct Summary: Decodable {
        struct Tensor: Decodable {
            var shape: [Int]
            var values: [Double]
        }

        var metadata: [String: String]
        var tensors: [String: Tensor]
    }

    /// The path of a `python3` that can import numpy, or a skip.
    private func pythonWithNumpy() throws -> String {
        let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard
            let python = searchPath.split(separator: ":")
                .map({ "\($0)/python3" })
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            throw XCTSkip("python3 is not on PATH; skipping the cross-check against an independent reader")
        }
        let (status, _, error) = try run(python, ["-c", "import numpy"])
        guard status == 0 else {
            throw XCTSkip("python3 cannot import numpy (\(error.prefix(200))); skipping the cross-check")
        }
        return python
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = url("stdout-\(UUID().uuidString).txt")
        let errors = url("stderr-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        let outputHandle = try FileHandle(forWritingTo: output)
        let errorHandle = try FileHandle(forWritingTo: errors)
        process.standardOutput = outputHandle
        process.standardError = errorHandle
        try process.run()
        process.waitUntilExit()
        try outputHandle.close()
        try errorHandle.close()
        let stdout = try String(contentsOf: output, encoding: .utf8)
        let stderr = try String(contentsOf: errors, encoding: .utf8)
        try FileManager.default.removeItem(at: output)
        try FileManager.default.removeItem(at: errors)
        return (process.terminationStatus, stdout, stderr)
    }

    func testPythonReadsWhatWeWrite() throws {
        let python = try pythonWithNumpy()
        let file = SafeTensorsFile(
            metadata: ["format": "pt", "args": #"{"lr": 0.001, "name": "vit-\"tiny\""}"#],
            tensors: [
                "patch_embed.proj.weight": NamedTensor(shape: [2, 3, 2, 2], values: (0..<24).map { Float($0) / 3 - 4 }),
                "norm.bias": NamedTensor(shape: [5], values: [0.1, -0.2, 1e-30, 3e30, -0.0]),
                "logit_scale": NamedTensor(scalar: 4.6052),
                "empty": NamedTensor(shape: [0, 3], values: []),
                "é.unicode": NamedTensor(shape: [1], values: [1]),
            ])
        let target = url("for-python.safetensors")
        try file.write(to: target)
        let script = url("read.py")
        try Self.readerScript.write(to: script, atomically: true, encoding: .utf8)
        let (status, stdout, stderr) = try run(python, [script.path, target.path])
        XCTAssertEqual(status, 0, "python reader failed: \(stderr)")
        guard status == 0 else { return }
        let summary = try JSONDecoder().decode(Summary.self, from: Data(stdout.utf8))
        XCTAssertEqual(summary.metadata, file.metadata)
        XCTAssertEqual(Set(summary.tensors.keys), Set(file.tensors.keys))
        for (name, tensor) in file.tensors {
            XCTAssertEqual(summary.tensors[name]?.shape, tensor.shape, name)
            XCTAssertBitwiseEqual(summary.tensors[name]?.values.map { Float($0) }, tensor.values, name)
        }
    }

    func testWeReadWhatPythonWrites() throws {
        let python = try pythonWithNumpy()
        let target = url("from-python.safetensors")
        let expectedURL = url("expected.json")
        let script = url("write.py")
        try Self.writerScript.write(to: script, atomically: true, encoding: .utf8)
        let (status, _, stderr) = try run(python, [script.path, target.path, expectedURL.path])
        XCTAssertEqual(status, 0, "python writer failed: \(stderr)")
        guard status == 0 else { return }
        let expected = try JSONDecoder().decode([String: Summary.Tensor].self, from: Data(contentsOf: expectedURL))
        let file = try SafeTensorsFile.read(from: target)
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(Set(file.tensors.keys), Set(expected.keys))
        for (name, tensor) in expected {
            XCTAssertEqual(file[name]?.shape, tensor.shape, name)
            XCTAssertBitwiseEqual(file[name]?.values, tensor.values.map { Float($0) }, name)
        }
        let dtypes = Dictionary(uniqueKeysWithValues: try SafeTensorsFile.readHeader(from: target).entries.map { ($0.name, $0.dtype) })
        XCTAssertEqual(dtypes["blocks.0.norm1.weight"], .float16)
        XCTAssertEqual(dtypes["pos_embed"], .bfloat16)
        XCTAssertEqual(dtypes["blocks.0.norm1.bias"], .float64)
        XCTAssertEqual(dtypes["head.weight"], .float32)
        // Writing it back and reading again changes nothing but the dtypes.
        let rewritten = url("rewritten.safetensors")
        try file.write(to: rewritten)
        XCTAssertEqual(try SafeTensorsFile.read(from: rewritten), file)
    }
}
