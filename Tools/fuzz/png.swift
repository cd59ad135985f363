/// libFuzzer's entry for the PNG decoder (libpng) and what the image-folder pipeline does
/// with a decoded PNG.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    fuzzImage(start, count, name: "fuzz.png")
    return 0
}
