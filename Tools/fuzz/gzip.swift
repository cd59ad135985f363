@testable import ViTData

/// libFuzzer's entry for the gzip reader: the bytes are written to a scratch file and read
/// to the end twice, in 7-byte reads and in 64 KiB reads. Both must give the same bytes or
/// the same `DataError` naming the file, and a file read as plain bytes must give the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGzip(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let path = ScratchFile.write(start, count)
    let small = readAll(path, chunk: 7)
    let bulk = readAll(path, chunk: 1 << 16)
    switch (small, bulk) {
    case (.success(let smallRead), .success(let bulkRead)):
        precondition(smallRead.bytes == bulkRead.bytes, "7-byte and 64 KiB reads differ")
        if bulkRead.isPlain {
            precondition(bulkRead.bytes == Array(UnsafeBufferPointer(start: start, count: count)), "plain bytes changed")
        }
    case (.failure(let smallError), .failure(let bulkError)):
        precondition(smallError == bulkError, "different errors: \(smallError) and \(bulkError)")
        precondition("\(bulkError)".contains(path), "the error does not name the file: \(bulkError)")
    default:
        preconditionFailure("one way of reading failed and the other did not: \(small) and \(bulk)")
    }
    return 0
}

/// Every byte of the file, in reads of `chunk` bytes, and whether it was read as plain bytes.
private func readAll(_ path: String, chunk: Int) -> Result<(bytes: [UInt8], isPlain: Bool), DataError> {
    do {
        let reader = try GzipFileReader(path: path)
        var bytes: [UInt8] = []
        while try reader.read(count: chunk, appendingTo: &bytes) == chunk {}
        return .success((bytes, reader.isPlain))
    } catch let error as DataError {
        return .failure(error)
    } catch {
        preconditionFailure("not a DataError: \(error)")
    }
}
