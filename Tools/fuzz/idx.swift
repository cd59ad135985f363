import ViTData

/// libFuzzer's entry for the IDX reader (through the gzip reader, plain or compressed): the
/// bytes are written to a scratch file and read. A `DataError` naming the file is the
/// expected answer to a malformed input; an array read must hold the product of its
/// dimensions.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let path = ScratchFile.write(start, count)
    do {
        let array = try IDXReader.read(path: path)
        precondition(array.bytes.count == array.dimensions.reduce(1, *), "\(array.bytes.count) bytes for \(array.dimensions)")
    } catch let error as DataError {
        precondition("\(error)".contains(path), "the error does not name the file: \(error)")
    } catch {
        preconditionFailure("not a DataError: \(error)")
    }
    return 0
}
