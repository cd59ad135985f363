/// A backend's own error (ViTOpenCL's `OpenCLError`: a failed driver call, a kernel that
/// did not build, a CLBlast status), which `ViTError.backend` wraps so that callers catch
/// one error type while each layer keeps its own cases.
public protocol BackendFailure: Error, CustomStringConvertible, Sendable {}

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
    /// A backend's driver or library failed (see `BackendFailure`).
    case backend(any BackendFailure)
    /// A device could not provide the memory asked for.
    case outOfMemory(device: String, bytes: Int)
    /// A device without an implementation of a kernel family (see `Backend.kernels(_:)`).
    case unsupported(family: String, device: String)
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
        case .backend(let failure):
            return failure.description
        case .outOfMemory(let device, let bytes):
            return "out of memory on \(device) allocating \(bytes) bytes; try a smaller batch size"
        case .unsupported(let family, let device):
            return "\(family) are unsupported on \(device); run on a device that has them (the CPU backend has every kernel family)"
        case .gradient(let detail):
            return "autograd: \(detail)"
        }
    }
}

extension ViTError {
    /// Errors are equal when they say the same (a wrapped backend failure has no other identity).
    public static func == (left: ViTError, right: ViTError) -> Bool {
        left.description == right.description
    }
}
