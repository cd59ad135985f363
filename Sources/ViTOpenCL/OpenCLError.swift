import ViTCore

/// What the OpenCL backend reports when the driver, the kernel compiler or CLBlast fails,
/// wrapped by `ViTError.backend` for callers.
public enum OpenCLError: BackendFailure, Equatable {
    /// An OpenCL call failed; `code` is the CL error name such as `CL_OUT_OF_RESOURCES`.
    case call(String, code: String)
    /// An OpenCL program failed to build; `log` is the compiler's build log.
    case kernelBuild(family: String, device: String, log: String)
    /// A kernel source file could not be found.
    case kernelSourceMissing(family: String, searched: [String])
    /// CLBlast reported an error.
    case clBlast(routine: String, status: Int)
    /// The file of `vit tune`'s choices could not be read, decoded or written.
    case tuningFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .call(let call, let code):
            return "OpenCL call \(call) failed with \(code)"
        case .kernelBuild(let family, let device, let log):
            return "OpenCL kernel family '\(family)' failed to build on \(device):\n\(log)"
        case .kernelSourceMissing(let family, let searched):
            return "OpenCL kernel source '\(family).cl' not found (looked in: "
                + searched.joined(separator: ", ") + "); check VIT_KERNELS_DIR or reinstall the package"
        case .clBlast(let routine, let status):
            return "CLBlast \(routine) failed with status \(status)"
        case .tuningFile(let path, let reason):
            return "kernel tuning file \(path): \(reason); delete it or run `vit tune` again"
        }
    }
}

extension ViTError {
    /// An OpenCL call failed (`OpenCLError.call`, wrapped).
    static func openCL(call: String, code: String) -> ViTError { .backend(OpenCLError.call(call, code: code)) }
    /// A kernel family did not build (`OpenCLError.kernelBuild`, wrapped).
    static func kernelBuild(family: String, device: String, log: String) -> ViTError {
        .backend(OpenCLError.kernelBuild(family: family, device: device, log: log))
    }
    /// A kernel source is missing (`OpenCLError.kernelSourceMissing`, wrapped).
    static func kernelSourceMissing(family: String, searched: [String]) -> ViTError {
        .backend(OpenCLError.kernelSourceMissing(family: family, searched: searched))
    }
    /// CLBlast failed (`OpenCLError.clBlast`, wrapped).
    static func clBlast(routine: String, status: Int) -> ViTError { .backend(OpenCLError.clBlast(routine: routine, status: status)) }
}
