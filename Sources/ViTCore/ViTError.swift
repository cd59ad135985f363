/// Errors a caller can cause: bad shapes, tensors on different devices, unknown devices,
/// and failures reported by a device's driver. Each carries a message that says what
/// went wrong and, where there is one, what to do about it.
public enum ViTError: Error, CustomStringConvertible, Equatable {
    /// Two shapes that an operation needs to agree do not.
    case shapeMismatch(operation: String, detail: String)
    /// A shape or argument is invalid on its own (negative size, wrong rank, ...).
    case invalidArgument(operation: String, detail: String)
    /// The inputs of one operation live on different devices.
    case deviceMismatch(operation: String, first: String, second: String)
    /// A device specification (`--device`, `VIT_DEVICE`) names no available device.
    case unknownDevice(specification: String, detail: String)
    /// An OpenCL call failed; `code` is the CL error name such as `CL_OUT_OF_RESOURCES`.
    case openCL(call: String, code: String)
    /// An OpenCL program failed to build; `log` is the compiler's build log.
    case kernelBuild(family: String, device: String, log: String)
    /// A kernel source file could not be found.
    case kernelSourceMissing(family: String, searched: [String])
    /// CLBlast reported an error.
    case clBlast(routine: String, status: Int)
    /// A device could not provide the memory asked for.
    case outOfMemory(device: String, bytes: Int)
    /// An autograd call that cannot be honoured (backward of a non-scalar, ...).
    case gradient(detail: String)

    public var description: String {
        switch self {
        case .shapeMismatch(let operation, let detail):
            return "\(operation): shape mismatch: \(detail)"
        case .invalidArgument(let operation, let detail):
            return "\(operation): invalid argument: \(detail)"
        case .deviceMismatch(let operation, let first, let second):
            return "\(operation): inputs are on different devices (\(first) and \(second)); "
                + "move them to one device with `to(_:)` first"
        case .unknownDevice(let specification, let detail):
            return "unknown device '\(specification)': \(detail)"
        case .openCL(let call, let code):
            return "OpenCL call \(call) failed with \(code)"
        case .kernelBuild(let family, let device, let log):
            return "OpenCL kernel family '\(family)' failed to build on \(device):\n\(log)"
        case .kernelSourceMissing(let family, let searched):
            return "OpenCL kernel source '\(family).cl' not found (looked in: "
                + searched.joined(separator: ", ") + "); check VIT_KERNELS_DIR or reinstall the package"
        case .clBlast(let routine, let status):
            return "CLBlast \(routine) failed with status \(status)"
        case .outOfMemory(let device, let bytes):
            return "out of memory on \(device) allocating \(bytes) bytes; try a smaller batch size"
        case .gradient(let detail):
            return "autograd: \(detail)"
        }
    }
}
