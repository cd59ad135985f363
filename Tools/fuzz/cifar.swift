import Foundation

@testable import ViTData

/// libFuzzer's entry for the CIFAR reader: the bytes are read in memory as a CIFAR-10 and as
/// a CIFAR-100 file. A `DataError` naming the file is the expected answer to a malformed
/// input; records read must fill the input and have labels in range.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCIFAR(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let name = "fuzz.bin"
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    for variant in CIFAR.Variant.allCases {
        var images: [UInt8] = []
        var labels: [Int32] = []
        do {
            try CIFAR.appendRecords(from: data, path: name, variant: variant, images: &images, labels: &labels)
            precondition(labels.count * variant.recordSize == count, "\(labels.count) records in \(count) bytes")
            precondition(images.count == labels.count * CIFAR.imageBytes, "\(images.count) pixels for \(labels.count) records")
            precondition(labels.allSatisfy { (0..<Int32(variant.classCount)).contains($0) }, "a label is out of range")
        } catch let error as DataError {
            precondition("\(error)".contains(name), "the error does not name the file: \(error)")
        } catch {
            preconditionFailure("not a DataError: \(error)")
        }
    }
    return 0
}
