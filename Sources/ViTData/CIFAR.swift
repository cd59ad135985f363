import Foundation

/// Loads CIFAR-10 and CIFAR-100 from their binary distributions (32x32 RGB images,
/// 50000 for training and 10000 for testing).
///
/// CIFAR-10 (`cifar-10-binary.tar.gz`): `data_batch_1.bin` ... `data_batch_5.bin` and
/// `test_batch.bin`, records of 1 label byte + 3072 pixel bytes (CHW: 1024 red, 1024 green,
/// 1024 blue). CIFAR-100 (`cifar-100-binary.tar.gz`): `train.bin` and `test.bin`, records of
/// a coarse label byte, a fine label byte and 3072 pixel bytes; the fine labels (100
/// classes) are used. The files may sit in the given folder itself or in the archive's
/// subfolder inside it (`cifar-10-batches-bin`, `cifar-100-binary`).
public enum CIFAR {
    /// The two CIFAR variants.
    public enum Variant: String, CaseIterable, Sendable {
        /// 10 classes, one label byte per record.
        case cifar10 = "cifar10"
        /// 100 fine classes (20 coarse), two label bytes per record.
        case cifar100 = "cifar100"

        /// Number of classes (fine classes for CIFAR-100).
        public var classCount: Int { self == .cifar10 ? 10 : 100 }
        /// Label bytes at the start of each record.
        public var labelBytes: Int { self == .cifar10 ? 1 : 2 }
        /// Bytes per record: label bytes + 3072 pixel bytes.
        public var recordSize: Int { labelBytes + CIFAR.imageBytes }
        /// The subfolder the official archive unpacks into.
        public var archiveFolder: String { self == .cifar10 ? "cifar-10-batches-bin" : "cifar-100-binary" }
        /// The official archive's address.
        public var downloadAddress: String {
            self == .cifar10
                ? "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
                : "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"
        }
        /// The display name, "CIFAR-10" or "CIFAR-100".
        public var displayName: String { self == .cifar10 ? "CIFAR-10" : "CIFAR-100" }

        /// The file names of a split, in the order their records are concatenated.
        public func fileNames(for split: DatasetSplit) -> [String] {
            switch (self, split) {
            case (.cifar10, .train): return (1...5).map { "data_batch_\($0).bin" }
            case (.cifar10, .test): return ["test_batch.bin"]
            case (.cifar100, .train): return ["train.bin"]
            case (.cifar100, .test): return ["test.bin"]
            }
        }
    }

    /// Image side length in pixels.
    public static let imageSide = 32
    /// Pixel bytes per record: 3 x 32 x 32.
    public static let imageBytes = 3 * 32 * 32
    /// The CIFAR-10 class names, indexed by label.
    public static let cifar10ClassNames = [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ]

    /// The folder that holds a split's files: `directory` itself or its archive subfolder.
    /// Throws `DataError.datasetNotFound` listing the expected files and the folders searched.
    public static func resolveDirectory(variant: Variant, split: DatasetSplit, directory: String) throws -> String {
        let candidates = [directory, DataFiles.join(directory, variant.archiveFolder)]
        let expected = variant.fileNames(for: split)
        for candidate in candidates where expected.allSatisfy({ DataFiles.isFile(DataFiles.join(candidate, $0)) }) {
            return candidate
        }
        // Report the files missing from the most complete candidate.
        let missingPerCandidate = candidates.map { candidate in
            expected.filter { !DataFiles.isFile(DataFiles.join(candidate, $0)) }
        }
        let missing = missingPerCandidate.min { $0.count < $1.count } ?? expected
        throw DataError.datasetNotFound(
            dataset: "\(variant.displayName) \(split.rawValue) split (binary version)", searched: candidates,
            missingFiles: missing,
            hint: "download and unpack \(variant.downloadAddress) and pass its folder with --data-dir")
    }

    /// Loads one split of `variant` from `directory` (or its archive subfolder). File lengths
    /// that are not a whole number of records and labels out of range are reported as
    /// `DataError.corruptFile` naming the file.
    public static func load(variant: Variant, split: DatasetSplit, directory: String) throws -> Dataset {
        let folder = try resolveDirectory(variant: variant, split: split, directory: directory)
        let paths = variant.fileNames(for: split).map { DataFiles.join(folder, $0) }
        var images: [UInt8] = []
        var labels: [Int32] = []
        for path in paths {
            try appendRecords(of: path, variant: variant, images: &images, labels: &labels)
        }
        let names = variant == .cifar10 ? cifar10ClassNames : cifar100ClassNames(folder: folder)
        return try Dataset(
            name: "\(variant.rawValue)/\(split.rawValue)", images: images, labels: labels, channels: 3,
            height: imageSide, width: imageSide, classCount: variant.classCount, classNames: names)
    }

    /// Reads the records of one binary file and appends pixels and (fine) labels.
    static func appendRecords(of path: String, variant: Variant, images: inout [UInt8], labels: inout [Int32]) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.unreadableFile(path: path, reason: "could not open or read the file")
        }
        try appendRecords(from: data, path: path, variant: variant, images: &images, labels: &labels)
    }

    /// Appends the pixels and (fine) labels of the records in `data`, the content of the
    /// file at `path` (the name error messages use).
    static func appendRecords(from data: Data, path: String, variant: Variant, images: inout [UInt8], labels: inout [Int32]) throws {
        let recordSize = variant.recordSize
        guard !data.isEmpty, data.count % recordSize == 0 else {
            throw DataError.corruptFile(
                path: path,
                reason: "length \(data.count) bytes is not a positive multiple of the \(variant.displayName) "
                    + "record size \(recordSize) (\(variant.labelBytes) label byte(s) + \(imageBytes) pixels)")
        }
        let recordCount = data.count / recordSize
        let labelOffset = variant.labelBytes - 1  // the fine label is the last label byte
        let firstImage = images.count
        images.reserveCapacity(firstImage + recordCount * imageBytes)
        labels.reserveCapacity(labels.count + recordCount)
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            for record in 0..<recordCount {
                let start = record * recordSize
                let label = bytes[start + labelOffset]
                guard Int(label) < variant.classCount else {
                    throw DataError.corruptFile(
                        path: path,
                        reason: "label \(label) of record \(record) is outside 0..<\(variant.classCount)")
                }
                labels.append(Int32(label))
                images.append(contentsOf: bytes[(start + variant.labelBytes)..<(start + recordSize)])
            }
        }
    }

    /// CIFAR-100's fine class names from `fine_label_names.txt` when it is present and
    /// complete, otherwise "class 0" ... "class 99".
    static func cifar100ClassNames(folder: String) -> [String] {
        let path = DataFiles.join(folder, "fine_label_names.txt")
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let names = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
            if names.count == 100 {
                return names
            }
        }
        return (0..<100).map { "class \($0)" }
    }
}
