/// Where a tensor lives: the CPU backend, or the OpenCL device with a given index in the
/// list that `vit devices` prints.
public enum Device: Hashable, CustomStringConvertible, Sendable {
    case cpu
    case openCL(index: Int)

    public var description: String {
        switch self {
        case .cpu: return "cpu"
        case .openCL(let index): return "opencl:\(index)"
        }
    }
}

/// What kind of processor an OpenCL device is, as the driver reports it.
public enum DeviceKind: String, Sendable {
    case cpu = "CPU"
    case gpu = "GPU"
    case accelerator = "accelerator"
    case other = "other"
}

/// A device's description, as listed by `vit devices`.
public struct DeviceInfo: Sendable {
    public let device: Device
    public let name: String
    public let kind: DeviceKind
    public let platform: String
    public let computeUnits: Int
    public let memoryBytes: Int
    public let version: String
    public let driverVersion: String
    public let supportsHalf: Bool
    public let supportsDouble: Bool

    public init(
        device: Device, name: String, kind: DeviceKind, platform: String, computeUnits: Int,
        memoryBytes: Int, version: String, driverVersion: String, supportsHalf: Bool, supportsDouble: Bool
    ) {
        self.device = device
        self.name = name
        self.kind = kind
        self.platform = platform
        self.computeUnits = computeUnits
        self.memoryBytes = memoryBytes
        self.version = version
        self.driverVersion = driverVersion
        self.supportsHalf = supportsHalf
        self.supportsDouble = supportsDouble
    }
}
