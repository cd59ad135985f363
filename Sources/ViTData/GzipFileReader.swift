import CZlib
import Foundation

/// Sequential reads from a file through zlib's gz* interface. A gzip-compressed file is
/// decompressed on the fly and a plain file is read as it is ("transparent" mode), so one
/// reader serves both `.gz` and uncompressed files. Errors name the file.
final class GzipFileReader {
    /// The path the reader was opened with, used in every error message.
    let path: String
    private let file: gzFile

    /// Opens `path` for reading; throws `DataError.unreadableFile` when it cannot be opened.
    init(path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError.unreadableFile(path: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw DataError.unreadableFile(path: path, reason: "is a folder, not a file")
        }
        guard let opened = gzopen(path, "rb") else {
            let reason = String(cString: strerror(errno))
            throw DataError.unreadableFile(path: path, reason: reason)
        }
        file = opened
        gzbuffer(file, 1 << 17)
    }

    deinit {
        gzclose_r(file)
    }

    /// Whether the file is being read as plain bytes rather than decompressed.
    var isPlain: Bool {
        gzdirect(file) != 0
    }

    /// Reads up to `count` bytes into `destination` and returns how many were read; fewer
    /// than `count` means the end of the data. Throws `DataError.corruptFile` when the gzip
    /// stream is broken or ends early, `DataError.unreadableFile` on an I/O error.
    func read(into destination: UnsafeMutableRawPointer, count: Int) throws -> Int {
        var total = 0
        while total < count {
            let chunk = UInt32(min(count - total, 1 << 30))
            let got = gzread(file, destination + total, chunk)
            if got < 0 {
                throw streamError()
            }
            if got == 0 {
                // zlib reports a gzip stream cut short as Z_BUF_ERROR after returning what it had.
                try checkStreamState()
                break
            }
            total += Int(got)
        }
        return total
    }

    /// Reads exactly `count` bytes and appends them to `bytes`; returns the number actually
    /// appended, which is smaller than `count` only when the data ends first.
    func read(count: Int, appendingTo bytes: inout [UInt8]) throws -> Int {
        let chunkSize = 1 << 20
        var chunk = [UInt8](repeating: 0, count: min(chunkSize, max(count, 1)))
        var total = 0
        while total < count {
            let wanted = min(chunk.count, count - total)
            let got = try chunk.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: wanted) }
            bytes.append(contentsOf: chunk[0..<got])
            total += got
            if got < wanted {
                break
            }
        }
        return total
    }

    private func checkStreamState() throws {
        var code: Int32 = Z_OK
        let message = gzerror(file, &code)
        if code == Z_OK || code == Z_STREAM_END {
            return
        }
        if code == Z_BUF_ERROR {
            throw DataError.corruptFile(path: path, reason: "the gzip stream ends early (file truncated)")
        }
        let text = message.map { String(cString: $0) } ?? "zlib error \(code)"
        throw DataError.corruptFile(path: path, reason: "gzip stream error: \(text)")
    }

    private func streamError() -> DataError {
        var code: Int32 = Z_OK
        let message = gzerror(file, &code)
        let text = message.map { String(cString: $0) } ?? "zlib error \(code)"
        if code == Z_ERRNO {
            return DataError.unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        if code == Z_BUF_ERROR {
            return DataError.corruptFile(path: path, reason: "the gzip stream ends early (file truncated)")
        }
        return DataError.corruptFile(path: path, reason: "gzip stream error: \(text)")
    }
}
