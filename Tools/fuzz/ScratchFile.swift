import Foundation

/// One file, in /dev/shm when it can, that each input of a file-based reader is written
/// to before it is read; removed when the process exits.
enum ScratchFile {
    /// The file's path, unique to the process.
    static let path: String = {
        let folder = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
        let path = folder + "vit-fuzz-\(ProcessInfo.processInfo.processIdentifier)"
        atexit { unlink(ScratchFile.path) }
        return path
    }()

    /// Replaces the file's content with `count` bytes at `start` and returns the file's path.
    static func write(_ start: UnsafePointer<UInt8>?, _ count: Int) -> String {
        let data = start.map { Data(bytes: $0, count: count) } ?? Data()
        do {
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            fatalError("cannot write the scratch file \(path): \(error)")
        }
        return path
    }
}
