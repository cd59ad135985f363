import Foundation
import ViTCPU
import ViTCore
import ViTOpenCL

/// Finds the devices of this machine, picks the default one and opens backends.
///
/// The default is the first GPU or accelerator OpenCL device, else the CPU backend: an
/// OpenCL driver for the CPU (PoCL) is used only when asked for, because the CPU
/// backend is faster on the same cores.
public final class DeviceRegistry {
    /// The registry of this process.
    public static let shared = DeviceRegistry()

    /// The environment variable read when no `--device` is given.
    public static let environmentVariable = "VIT_DEVICE"
    /// The environment variable that caps the CPU backend's threads (set before the first
    /// backend or device listing).
    public static let cpuThreadLimitVariable = CPUBackend.threadLimitVariable

    /// Every OpenCL device found, in `opencl:N` order.
    public let openCLDevices: [OpenCLDeviceEntry]
    private var backends: [Device: Backend] = [:]
    private let lock = NSLock()

    public init() {
        openCLDevices = OpenCLDiscovery.devices()
    }

    /// The CPU backend followed by every OpenCL device.
    public var devices: [DeviceInfo] {
        [CPUBackend.describe()] + openCLDevices.map(\.info)
    }

    /// The first GPU or accelerator OpenCL device, else the CPU.
    public var defaultDevice: Device {
        preferredOpenCLDevice(acceleratorsOnly: true) ?? .cpu
    }

    /// The default device of the process with index `localRank` among the processes of a
    /// data-parallel run on this machine: GPU or accelerator `localRank` modulo their number,
    /// else the CPU backend.
    public func defaultDevice(localRank: Int) -> Device {
        let accelerators = openCLDevices.filter { $0.info.kind == .gpu || $0.info.kind == .accelerator }
        return accelerators.isEmpty ? .cpu : accelerators[localRank % accelerators.count].info.device
    }

    private func preferredOpenCLDevice(acceleratorsOnly: Bool) -> Device? {
        let accelerator = openCLDevices.first { $0.info.kind == .gpu || $0.info.kind == .accelerator }
        return (accelerator ?? (acceleratorsOnly ? nil : openCLDevices.first))?.info.device
    }

    /// Parses `cpu`, `opencl` (the first GPU or accelerator, else the first OpenCL device),
    /// `opencl:N` or `auto` (the default device).
    public func device(for specification: String) throws -> Device {
        let text = specification.trimmingCharacters(in: .whitespaces).lowercased()
        switch text {
        case "cpu":
            return .cpu
        case "auto":
            return defaultDevice
        case "opencl":
            guard let device = preferredOpenCLDevice(acceleratorsOnly: false) else {
                throw ViTError.unknownDevice(
                    specification: specification,
                    detail: "no OpenCL device was found; install an OpenCL driver (for the CPU: Debian's pocl-opencl-icd) or use --device cpu")
            }
            return device
        default:
            guard text.hasPrefix("opencl:"), let index = Int(text.dropFirst("opencl:".count)) else {
                throw ViTError.unknownDevice(
                    specification: specification, detail: "expected cpu, opencl, opencl:N or auto; available: \(availableList)")
            }
            guard openCLDevices.indices.contains(index) else {
                throw ViTError.unknownDevice(specification: specification, detail: "there is no OpenCL device \(index); available: \(availableList)")
            }
            return .openCL(index: index)
        }
    }

    /// The device named by `specification`, else by `VIT_DEVICE`, else the default.
    public func resolve(_ specification: String?) throws -> Device {
        if let specification { return try device(for: specification) }
        if let variable = ProcessInfo.processInfo.environment[Self.environmentVariable], !variable.isEmpty {
            do {
                return try device(for: variable)
            } catch let ViTError.unknownDevice(_, detail) {
                throw ViTError.unknownDevice(specification: variable, detail: "(from \(Self.environmentVariable)) " + detail)
            }
        }
        return defaultDevice
    }

    /// Releases what device libraries keep for the whole process (CLBlast's compiled
    /// programs) while the OpenCL runtime is still whole. An executable calls it last, before
    /// it exits with or without an error; backends stay usable.
    public static func prepareForExit() {
        OpenCLBackend.releaseCLBlastPrograms()
    }

    /// Runs an executable's `command`, then `prepareForExit()` whether it succeeded or threw;
    /// returns its error.
    public static func runThenPrepareForExit(_ command: () throws -> Void) -> Error? {
        defer { prepareForExit() }
        do {
            try command()
            return nil
        } catch {
            return error
        }
    }

    /// The backend of `device`, opened on first use and shared afterwards.
    public func backend(for device: Device) throws -> Backend {
        try lock.withLock {
            if let backend = backends[device] { return backend }
            let backend: Backend
            switch device {
            case .cpu:
                backend = CPUBackend()
            case .openCL(let index):
                guard openCLDevices.indices.contains(index) else {
                    throw ViTError.unknownDevice(
                        specification: "\(device)", detail: "there is no OpenCL device \(index); available: \(availableList)")
                }
                backend = try OpenCLBackend(entry: openCLDevices[index])
            }
            backends[device] = backend
            return backend
        }
    }

    private var availableList: String {
        devices.map { "\($0.device) (\($0.name))" }.joined(separator: ", ")
    }
}
