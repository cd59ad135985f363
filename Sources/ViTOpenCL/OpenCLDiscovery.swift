import COpenCL
import Foundation
import ViTCore

/// One OpenCL device found on the machine, with what `vit devices` prints about it.
public struct OpenCLDeviceEntry {
    public let platform: cl_platform_id
    public let deviceID: cl_device_id
    public let info: DeviceInfo
}

/// Finds every OpenCL device of every platform, in a stable order (platform, then device).
public enum OpenCLDiscovery {
    /// All devices; empty when no OpenCL platform is installed (not an error).
    public static func devices() -> [OpenCLDeviceEntry] {
        var platformCount: cl_uint = 0
        guard clGetPlatformIDs(0, nil, &platformCount) == CL_SUCCESS, platformCount > 0 else { return [] }
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        guard clGetPlatformIDs(platformCount, &platforms, nil) == CL_SUCCESS else { return [] }
        var entries: [OpenCLDeviceEntry] = []
        for case let platform? in platforms {
            var deviceCount: cl_uint = 0
            guard clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &deviceCount) == CL_SUCCESS, deviceCount > 0 else { continue }
            var devices = [cl_device_id?](repeating: nil, count: Int(deviceCount))
            guard clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), deviceCount, &devices, nil) == CL_SUCCESS else { continue }
            let platformName = platformString(platform, cl_platform_info(CL_PLATFORM_NAME))
            for case let device? in devices {
                let index = entries.count
                entries.append(OpenCLDeviceEntry(platform: platform, deviceID: device, info: describe(device, index: index, platform: platformName)))
            }
        }
        return entries
    }

    static func describe(_ device: cl_device_id, index: Int, platform: String) -> DeviceInfo {
        let type: cl_device_type = value(device, cl_device_info(CL_DEVICE_TYPE)) ?? 0
        let kind: DeviceKind
        if type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 {
            kind = .gpu
        } else if type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 {
            kind = .accelerator
        } else if type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 {
            kind = .cpu
        } else {
            kind = .other
        }
        let extensions = deviceString(device, cl_device_info(CL_DEVICE_EXTENSIONS))
        let computeUnits: cl_uint = value(device, cl_device_info(CL_DEVICE_MAX_COMPUTE_UNITS)) ?? 0
        let memory: cl_ulong = value(device, cl_device_info(CL_DEVICE_GLOBAL_MEM_SIZE)) ?? 0
        return DeviceInfo(
            device: .openCL(index: index), name: deviceString(device, cl_device_info(CL_DEVICE_NAME)), kind: kind,
            platform: platform, computeUnits: Int(computeUnits), memoryBytes: Int(memory),
            version: deviceString(device, cl_device_info(CL_DEVICE_VERSION)),
            driverVersion: deviceString(device, cl_device_info(CL_DRIVER_VERSION)),
            supportsHalf: extensions.contains("cl_khr_fp16"), supportsDouble: extensions.contains("cl_khr_fp64"))
    }

    /// A fixed-size device property.
    static func value<T>(_ device: cl_device_id, _ parameter: cl_device_info) -> T? {
        let result = UnsafeMutablePointer<T>.allocate(capacity: 1)
        defer { result.deallocate() }
        let status = clGetDeviceInfo(device, parameter, MemoryLayout<T>.size, result, nil)
        return status == CL_SUCCESS ? result.pointee : nil
    }

    /// A string device property, trimmed.
    static func deviceString(_ device: cl_device_id, _ parameter: cl_device_info) -> String {
        var size = 0
        guard clGetDeviceInfo(device, parameter, 0, nil, &size) == CL_SUCCESS, size > 0 else { return "" }
        var bytes = [CChar](repeating: 0, count: size)
        guard clGetDeviceInfo(device, parameter, size, &bytes, nil) == CL_SUCCESS else { return "" }
        return String(cString: bytes).trimmingCharacters(in: .whitespaces)
    }

    static func platformString(_ platform: cl_platform_id, _ parameter: cl_platform_info) -> String {
        var size = 0
        guard clGetPlatformInfo(platform, parameter, 0, nil, &size) == CL_SUCCESS, size > 0 else { return "" }
        var bytes = [CChar](repeating: 0, count: size)
        guard clGetPlatformInfo(platform, parameter, size, &bytes, nil) == CL_SUCCESS else { return "" }
        return String(cString: bytes).trimmingCharacters(in: .whitespaces)
    }
}
