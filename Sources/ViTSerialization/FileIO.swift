import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The message of the current `errno`, such as "No such file or directory".
func systemErrorMessage(_ code: Int32 = errno) -> String {
    String(cString: strerror(code)) + " (errno \(code))"
}

/// Bytes that can be read at arbitrary offsets: an open file or an in-memory `Data`.
protocol ByteSource {
    /// Total number of bytes.
    var byteCount: Int { get }
    /// Copies `count` bytes starting at `offset` to `destination`; the range is within `byteCount`.
    func read(offset: Int, count: Int, into destination: UnsafeMutableRawPointer) throws
}

/// A `ByteSource` over bytes in memory.
struct DataByteSource: ByteSource {
    let data: Data

    var byteCount: Int { data.count }

    func read(offset: Int, count: Int, into destination: UnsafeMutableRawPointer) throws {
        guard count > 0 else { return }
        data.withUnsafeBytes { buffer in
            if let base = buffer.baseAddress {
                destination.copyMemory(from: base + offset, byteCount: count)
            }
        }
    }
}

/// A `ByteSource` over a file opened for reading; `close()` when done.
final class FileByteSource: ByteSource {
    let path: String
    let byteCount: Int
    private var descriptor: Int32

    init(path: String) throws {
        self.path = path
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below as not a
        // regular file); reads of a regular file ignore the flag.
        descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw SerializationError.io(file: path, operation: "opening for reading", detail: systemErrorMessage())
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let message = systemErrorMessage()
            _ = systemClose(descriptor)
            throw SerializationError.io(file: path, operation: "stat", detail: message)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            _ = systemClose(descriptor)
            throw SerializationError.io(file: path, operation: "opening for reading", detail: "not a regular file")
        }
        byteCount = Int(status.st_size)
    }

    deinit { close() }

    func close() {
        if descriptor >= 0 {
            _ = systemClose(descriptor)
            descriptor = -1
        }
    }

    func read(offset: Int, count: Int, into destination: UnsafeMutableRawPointer) throws {
        var done = 0
        while done < count {
            let result = pread(descriptor, destination + done, count - done, off_t(offset + done))
            if result < 0 {
                if errno == EINTR { continue }
                throw SerializationError.io(file: path, operation: "reading", detail: systemErrorMessage())
            }
            if result == 0 {
                throw SerializationError.io(
                    file: path, operation: "reading",
                    detail: "file ended at byte \(offset + done), expected \(offset + count) bytes (changed while reading?)")
            }
            done += result
        }
    }
}

/// A temporary file created for writing, with every write checked. Errors name the file
/// it stands in for and say that the temporary file failed.
struct WritableFile {
    /// The path errors name: the file the temporary one will be renamed to.
    let path: String
    /// What error messages call the file written: "the temporary file '.NAME.UUID.tmp'" or "it".
    let subject: String
    private(set) var descriptor: Int32

    /// Writes to an open `descriptor` of `path` (not a temporary file).
    init(descriptor: Int32, path: String) {
        self.path = path
        subject = "it"
        self.descriptor = descriptor
    }

    /// Creates `temporaryPath`, which must not exist yet.
    init(creatingNew temporaryPath: String, reportingAs path: String) throws {
        self.path = path
        subject = "the temporary file '\(URL(fileURLWithPath: temporaryPath).lastPathComponent)'"
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SerializationError.io(
                file: path, operation: "creating \(subject)", detail: systemErrorMessage())
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let result = systemWrite(descriptor, base + done, bytes.count - done)
            if result < 0 {
                if errno == EINTR { continue }
                throw SerializationError.io(
                    file: path, operation: "writing \(subject)", detail: systemErrorMessage())
            }
            done += result
        }
    }

    /// Flushes the file to stable storage; file systems without fsync support are accepted.
    func synchronize() throws {
        while fsync(descriptor) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EINVAL || code == ENOTSUP { return }
            throw SerializationError.io(
                file: path, operation: "fsync of \(subject)", detail: systemErrorMessage(code))
        }
    }

    /// Closes the file, reporting a failed close (which can signal a lost write).
    mutating func close() throws {
        guard descriptor >= 0 else { return }
        let result = systemClose(descriptor)
        descriptor = -1
        if result != 0 && errno != EINTR {
            throw SerializationError.io(
                file: path, operation: "closing \(subject)", detail: systemErrorMessage())
        }
    }

    /// Closes the file ignoring errors; for clean-up after another error.
    mutating func closeQuietly() {
        if descriptor >= 0 {
            _ = systemClose(descriptor)
            descriptor = -1
        }
    }
}

/// Files replaced whole: the bytes go to a new hidden temporary file in the same folder
/// (`.NAME.UUID.tmp`), which is flushed with `fsync` and renamed over the target, so readers
/// see the old file or the complete new one. On any error the temporary file is removed; a
/// process killed mid-write leaves one behind, which `removeStaleTemporaryFiles` clears.
public enum AtomicFile {
    /// Writes `data` to `url` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { output in try data.withUnsafeBytes { try output.write($0) } }
    }

    /// Writes what `body` puts into the temporary file to `url` atomically.
    static func write(to url: URL, body: (WritableFile) throws -> Void) throws {
        let path = url.path
        let temporaryPath = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp").path
        var output = try WritableFile(creatingNew: temporaryPath, reportingAs: path)
        do {
            try body(output)
            try output.synchronize()
            try output.close()
            guard rename(temporaryPath, path) == 0 else {
                throw SerializationError.io(file: path, operation: "renaming the temporary file over it", detail: systemErrorMessage())
            }
        } catch {
            output.closeQuietly()
            _ = unlink(temporaryPath)
            throw error
        }
        synchronizeDirectory(url.deletingLastPathComponent().path)
    }

    /// Whether `name` is a temporary file name that `write` makes.
    public static func isTemporaryName(_ name: String) -> Bool {
        guard name.hasPrefix("."), name.hasSuffix(".tmp") else { return false }
        let parts = name.dropFirst().dropLast(".tmp".count).split(separator: ".", omittingEmptySubsequences: false)
        return parts.count >= 2 && UUID(uuidString: String(parts.last!)) != nil
    }

    /// Removes the temporary files a killed writer left in `folder`; returns their names.
    @discardableResult
    public static func removeStaleTemporaryFiles(in folder: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter(isTemporaryName).filter { unlink(folder.appendingPathComponent($0).path) == 0 }
    }
}

/// The file operations of a training run, each failing with one sentence that names the
/// path and the cause ("cannot create the folder /x/y: Permission denied"), not Foundation's
/// error domains.
public enum FileSystem {
    /// Creates `folder` and its missing parents.
    public static func createFolder(_ folder: URL) throws {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw SerializationError.io(file: folder.path, operation: "creating the folder", detail: cause(of: error))
        }
    }

    /// Checks that a file can be written at `url`, creating its folder, before a long
    /// computation that ends in writing it: the file is created and removed again (so an older
    /// file of that name is gone too).
    public static func checkWritable(_ url: URL) throws {
        try createFolder(url.deletingLastPathComponent())
        let descriptor = open(url.path, O_WRONLY | O_CREAT, 0o644)
        guard descriptor >= 0 else {
            throw SerializationError.io(file: url.path, operation: "creating the file", detail: String(cString: strerror(errno)))
        }
        close(descriptor)
        unlink(url.path)
    }

    /// The contents of a UTF-8 text file.
    public static func readText(_ url: URL) throws -> String {
        let source = try FileByteSource(path: url.path)
        defer { source.close() }
        var bytes = [UInt8](repeating: 0, count: source.byteCount)
        try bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { try source.read(offset: 0, count: source.byteCount, into: base) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `data` to an existing file.
    public static func append(_ data: Data, to url: URL) throws {
        let descriptor = open(url.path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw SerializationError.io(file: url.path, operation: "opening for appending", detail: systemErrorMessage())
        }
        var output = WritableFile(descriptor: descriptor, path: url.path)
        defer { output.closeQuietly() }
        try data.withUnsafeBytes { try output.write($0) }
        try output.close()
    }

    /// The POSIX cause inside a Foundation error ("Permission denied (errno 13)"), else its description.
    static func cause(of error: Error) -> String {
        let error = error as NSError
        if error.domain == NSPOSIXErrorDomain { return systemErrorMessage(Int32(error.code)) }
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? Error { return cause(of: underlying) }
        return error.localizedDescription
    }
}

/// Flushes a directory's entries (a rename in it) to stable storage, as well as the system allows.
func synchronizeDirectory(_ path: String) {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    _ = fsync(descriptor)
    _ = systemClose(descriptor)
}

// `close` and `write` are shadowed by methods above; these name the C functions.
private func systemClose(_ descriptor: Int32) -> Int32 {
    close(descriptor)
}

private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}
