import Foundation
import ViTCore
import ViTNN

/// libFuzzer's entry for the configuration decoder: decodes the bytes as a configuration
/// file's JSON, validates what decodes, and checks that it encodes and decodes back to
/// itself. Errors must be `ViTError`s, and a decoding error must name the file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfiguration(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let name = "fuzz-config.json"
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    let configuration: ViTConfiguration
    do {
        configuration = try ViTConfiguration.decode(data, source: name)
    } catch let error as ViTError {
        precondition("\(error)".contains(name), "the error does not name the file: \(error)")
        return 0
    } catch {
        preconditionFailure("not a ViTError: \(error)")
    }
    do {
        try configuration.validate()
    } catch is ViTError {
    } catch {
        preconditionFailure("validate() threw a non-ViTError: \(error)")
    }
    do {
        let again = try ViTConfiguration.decode(try configuration.jsonData(), source: "re-encoded")
        precondition(again == configuration, "round trip changed the configuration: \(configuration) became \(again)")
    } catch {
        preconditionFailure("a decoded configuration does not round-trip: \(error)")
    }
    return 0
}
