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
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
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
    /// The temporary file's name, for error messages.
    let temporaryName: String
    private(set) var descriptor: Int32

    /// Creates `temporaryPath`, which must not exist yet.
    init(creatingNew temporaryPath: String, reportingAs path: String) throws {
        self.path = path
        temporaryName = URL(fileURLWithPath: temporaryPath).lastPathComponent
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SerializationError.io(
                file: path, operation: "creating the temporary file '\(temporaryName)'", detail: systemErrorMessage())
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
                    file: path, operation: "writing the temporary file '\(temporaryName)'", detail: systemErrorMessage())
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
                file: path, operation: "fsync of the temporary file '\(temporaryName)'", detail: systemErrorMessage(code))
        }
    }

    /// Closes the file, reporting a failed close (which can signal a lost write).
    mutating func close() throws {
        guard descriptor >= 0 else { return }
        let result = systemClose(descriptor)
        descriptor = -1
        if result != 0 && errno != EINTR {
            throw SerializationError.io(
                file: path, operation: "closing the temporary file '\(temporaryName)'", detail: systemErrorMessage())
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
