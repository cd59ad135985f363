import Foundation

/// Small file-system helpers shared by the loaders.
enum DataFiles {
    /// `folder/name`, without doubling a trailing slash.
    static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    /// Whether `path` exists and is a regular file (or a link to one).
    static func isFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    /// Whether `path` exists and is a folder.
    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// The whole content of a plain file; throws `DataError.unreadableFile` naming it and
    /// the system's reason (permission denied, is a directory, I/O error, ...).
    static func readAll(_ path: String) throws -> [UInt8] {
        func failure(_ action: String) -> DataError {
            .unreadableFile(path: path, reason: "\(action) failed: \(String(cString: strerror(errno)))")
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("opening the file") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw failure("reading its size") }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw DataError.unreadableFile(path: path, reason: "it is not a regular file")
        }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        var offset = 0
        try bytes.withUnsafeMutableBytes { buffer in
            while offset < buffer.count {
                let count = read(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if count < 0 && errno == EINTR { continue }
                guard count >= 0 else { throw failure("reading") }
                // The file shrank while it was read: keep what is there.
                if count == 0 { break }
                offset += count
            }
        }
        return offset == bytes.count ? bytes : Array(bytes.prefix(offset))
    }
}
