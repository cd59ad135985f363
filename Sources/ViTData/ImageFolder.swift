import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One split of an image folder: the image files, their classes and what was left out.
public struct ImageFolderSplit: Sendable {
    /// A name for logs, for example "imagefolder/val".
    public let name: String
    /// The split's folder, for example DIR/val.
    public let folder: String
    /// Every image file, in torchvision's order (by folder path, then file name, by code point).
    public let files: [String]
    /// The class index of each file.
    public let labels: [Int32]
    /// The class folder names of the training split, sorted: class i is `classNames[i]`.
    public let classNames: [String]
    /// Files without an image extension, which are not samples.
    public let ignoredFiles: Int

    /// A split of `files` (their classes `labels`, indices into `classNames`), for images
    /// that come from elsewhere than a scan, such as `vit predict`'s arguments.
    public init(name: String, folder: String, files: [String], labels: [Int32], classNames: [String], ignoredFiles: Int = 0) {
        precondition(files.count == labels.count, "ImageFolderSplit: one label per file")
        self.name = name
        self.folder = folder
        self.files = files
        self.labels = labels
        self.classNames = classNames
        self.ignoredFiles = ignoredFiles
    }

    /// Number of images.
    public var count: Int { files.count }

    /// The split keeping the images at `indices` (each in 0..<count), in that order.
    public func subset(_ indices: [Int]) -> ImageFolderSplit {
        ImageFolderSplit(
            name: name, folder: folder, files: indices.map { files[$0] }, labels: indices.map { labels[$0] }, classNames: classNames,
            ignoredFiles: ignoredFiles)
    }
}

/// Image folders as torchvision's `ImageFolder` reads them: DIR/train/CLASS/... and
/// DIR/val/CLASS/... (or validation/, test/), one folder per class, class i the i-th class
/// folder name in sorted order; files ending in .jpg, .jpeg or .png (any case) anywhere
/// below a class folder, symbolic links followed, are its samples.
public enum ImageFolder {
    /// The file name extensions of samples, compared without case.
    public static let extensions: Set<String> = ["jpg", "jpeg", "png"]
    /// The folder names tried, in order, for the evaluation split.
    public static let evaluationFolders = ["val", "validation", "test"]

    /// The folder of `split` under `root`: train/, or the first of val/, validation/, test/ there is.
    public static func splitFolder(root: String, split: DatasetSplit) throws -> String {
        let candidates = split == .train ? ["train"] : evaluationFolders
        for candidate in candidates {
            let path = (root as NSString).appendingPathComponent(candidate)
            if case .folder = try entryKind(path) { return path }
        }
        throw DataError.datasetNotFound(
            dataset: "imagefolder", searched: [root], missingFiles: candidates.map { $0 + "/" },
            hint: "an image folder holds train/ and val/ (or validation/ or test/), each with one folder of images per class")
    }

    /// The sorted class folder names of `root`'s training split.
    public static func classNames(root: String) throws -> [String] {
        let folder = try splitFolder(root: root, split: .train)
        let names = try entries(of: folder).filter { try entryKind($0.path) == .folder }.map(\.name).sorted(by: codePointOrder)
        guard !names.isEmpty else {
            throw DataError.invalidDataset(name: folder, reason: "it has no class folders (expected \(folder)/CLASS/IMAGE.jpg)")
        }
        return names
    }

    /// Lists `split` of the image folder at `root`. Throws when a class folder has no image,
    /// an evaluation class is not a training class, a folder cannot be read, a name is not
    /// UTF-8, or symbolic links form a loop.
    public static func scan(root: String, split: DatasetSplit) throws -> ImageFolderSplit {
        let classes = try classNames(root: root)
        let folder = try splitFolder(root: root, split: split)
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int32($0)) })
        var files: [String] = []
        var labels: [Int32] = []
        var ignored = 0
        let classFolders = try entries(of: folder).filter { try entryKind($0.path) == .folder }.sorted { codePointOrder($0.name, $1.name) }
        guard !classFolders.isEmpty else {
            throw DataError.invalidDataset(name: folder, reason: "it has no class folders (expected \(folder)/CLASS/IMAGE.jpg)")
        }
        for classFolder in classFolders {
            guard let label = index[classFolder.name] else {
                throw DataError.invalidDataset(
                    name: folder,
                    reason: "its class folder '\(classFolder.name)' is not a class of the training split (\(classes.count) classes)")
            }
            let (images, others) = try imageFiles(under: classFolder.path)
            guard !images.isEmpty else {
                throw DataError.invalidDataset(
                    name: classFolder.path, reason: "the class folder holds no .jpg, .jpeg or .png file (\(others) other files)")
            }
            files += images
            labels += [Int32](repeating: label, count: images.count)
            ignored += others
        }
        let splitName = (folder as NSString).lastPathComponent
        return ImageFolderSplit(
            name: "imagefolder/\(splitName)", folder: folder, files: files, labels: labels, classNames: classes, ignoredFiles: ignored)
    }

    /// Python's string order (by Unicode code point), which torchvision's `sorted` uses.
    static func codePointOrder(_ left: String, _ right: String) -> Bool {
        left.unicodeScalars.lexicographicallyPrecedes(right.unicodeScalars) { $0.value < $1.value }
    }

    /// The image files below `folder` in `os.walk` order (sorted by folder path, then by file
    /// name), and how many other files there are.
    private static func imageFiles(under folder: String) throws -> (images: [String], others: Int) {
        var folders: [(relative: String, files: [String])] = []
        var others = 0
        // (device, inode) of the folders on the current path, to stop at a symbolic-link loop.
        var open: [(UInt64, UInt64)] = []
        func walk(_ path: String, relative: String) throws {
            let identity = try folderIdentity(path)
            if open.contains(where: { $0 == identity }) {
                throw DataError.invalidDataset(name: path, reason: "symbolic links form a loop: this folder contains itself")
            }
            open.append(identity)
            defer { open.removeLast() }
            var images: [String] = []
            for entry in try entries(of: path) {
                switch try entryKind(entry.path) {
                case .folder:
                    try walk(entry.path, relative: relative.isEmpty ? entry.name : relative + "/" + entry.name)
                case .file:
                    let suffix = (entry.name as NSString).pathExtension.lowercased()
                    if extensions.contains(suffix) { images.append(entry.name) } else { others += 1 }
                case .other:
                    others += 1
                }
            }
            folders.append((relative, images.sorted(by: codePointOrder)))
        }
        try walk(folder, relative: "")
        let ordered = folders.sorted { codePointOrder($0.relative, $1.relative) }
        let images = ordered.flatMap { entry in
            entry.files.map { (folder as NSString).appendingPathComponent(entry.relative.isEmpty ? $0 : entry.relative + "/" + $0) }
        }
        return (images, others)
    }

    private enum EntryKind: Equatable {
        case folder
        case file
        case other
    }

    /// What `path` is once symbolic links are followed; a dangling link counts as other.
    private static func entryKind(_ path: String) throws -> EntryKind {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT { return .other }
            if errno == ELOOP { throw DataError.invalidDataset(name: path, reason: "symbolic links form a loop") }
            throw DataError.unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        switch status.st_mode & S_IFMT {
        case S_IFDIR: return .folder
        case S_IFREG: return .file
        default: return .other
        }
    }

    private static func folderIdentity(_ path: String) throws -> (UInt64, UInt64) {
        var status = stat()
        guard stat(path, &status) == 0 else { throw DataError.unreadableFile(path: path, reason: String(cString: strerror(errno))) }
        return (UInt64(status.st_dev), UInt64(status.st_ino))
    }

    /// The entries of `folder` but . and .., whose names must be UTF-8.
    static func entries(of folder: String) throws -> [(name: String, path: String)] {
        guard let directory = opendir(folder) else {
            throw DataError.unreadableFile(path: folder, reason: "the folder cannot be listed: \(String(cString: strerror(errno)))")
        }
        defer { closedir(directory) }
        var result: [(String, String)] = []
        while let entry = readdir(directory) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
            guard let name = String(validating: bytes, as: UTF8.self) else {
                let escaped = bytes.map { $0 < 0x80 ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
                throw DataError.invalidDataset(
                    name: folder, reason: "the name '\(escaped)' in it is not valid UTF-8; rename it (class names go into checkpoints as text)")
            }
            result.append((name, (folder as NSString).appendingPathComponent(name)))
        }
        return result
    }
}
