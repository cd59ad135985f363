import Foundation

/// Locates the OpenCL C sources of the kernel families (`Kernels/<family>.cl`).
///
/// The sources ship as package resources. Setting `VIT_KERNELS_DIR` to a folder of
/// `.cl` files makes the OpenCL backend read them from there instead, so a kernel can
/// be edited and re-run without rebuilding the Swift package.
public enum KernelSources {
    /// The environment variable that overrides the packaged kernel folder.
    public static let overrideVariable = "VIT_KERNELS_DIR"

    /// The OpenCL C source of `family`, or nil when no such file exists.
    public static func source(family: String) -> String? {
        for folder in searchFolders() {
            let url = folder.appendingPathComponent(family + ".cl")
            if let text = try? String(contentsOf: url, encoding: .utf8) {
                return text
            }
        }
        return nil
    }

    /// Where sources are looked for, in order.
    public static func searchFolders() -> [URL] {
        if let override = ProcessInfo.processInfo.environment[overrideVariable], !override.isEmpty {
            return [URL(fileURLWithPath: override)]
        }
        return [Bundle.module.resourceURL ?? Bundle.module.bundleURL]
    }
}
