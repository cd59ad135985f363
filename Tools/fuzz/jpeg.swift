/// libFuzzer's entry for the JPEG decoder (libjpeg-turbo through TurboJPEG) and what the
/// image-folder pipeline does with a decoded JPEG.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    fuzzImage(start, count, name: "fuzz.jpg")
    return 0
}
