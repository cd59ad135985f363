import Foundation
import ViTSerialization

/// libFuzzer's entry for the safetensors reader: decodes the bytes in memory. A
/// `SerializationError` naming the file is the expected answer to a malformed input; a
/// decoded file must encode and decode back to the same tensors.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let name = "fuzz.safetensors"
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    let file: SafeTensorsFile
    do {
        file = try SafeTensorsFile.decode(data, source: name)
    } catch let error as SerializationError {
        precondition("\(error)".contains(name), "the error does not name the file: \(error)")
        return 0
    } catch {
        preconditionFailure("not a SerializationError: \(error)")
    }
    for (tensorName, tensor) in file.tensors {
        precondition(tensor.elementCount == tensor.values.count, "'\(tensorName)': \(tensor.values.count) values for shape \(tensor.shape)")
    }
    do {
        let again = try SafeTensorsFile.decode(try file.encoded(), source: "re-encoded")
        precondition(again.metadata == file.metadata && again.tensors.keys == file.tensors.keys, "round trip changed the header")
        for (tensorName, tensor) in file.tensors {
            let other = again.tensors[tensorName]!
            precondition(
                other.shape == tensor.shape && other.values.map(\.bitPattern) == tensor.values.map(\.bitPattern),
                "round trip changed '\(tensorName)'")
        }
    } catch {
        preconditionFailure("a decoded file does not round-trip: \(error)")
    }
    return 0
}
