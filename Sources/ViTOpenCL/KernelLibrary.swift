import COpenCL
import Foundation
import ViTCore
import ViTKernels

/// Builds the kernel families of Kernels/ for one device, once per (family, build
/// options), and keeps the compiled binaries on disk keyed by device, driver, options
/// and source, so a later process skips the compiler (PoCL takes seconds per family).
final class KernelLibrary {
    private let context: cl_context
    private let device: cl_device_id
    private let deviceInfo: DeviceInfo
    private var programs: [String: cl_program] = [:]
    private var kernels: [String: CompiledKernel] = [:]
    private let lock = NSLock()

    /// Options every build gets.
    static let baseOptions = "-cl-std=CL1.2"

    init(context: cl_context, device: cl_device_id, deviceInfo: DeviceInfo) {
        self.context = context
        self.device = device
        self.deviceInfo = deviceInfo
    }

    deinit {
        for compiled in kernels.values { clReleaseKernel(compiled.kernel) }
        for program in programs.values { clReleaseProgram(program) }
    }

    /// The kernel `name` of `family`, built with `options` (for example `-DTILE=64`), with
    /// its work-group limits on this device.
    func kernel(family: String, name: String, options: String = "") throws -> CompiledKernel {
        try lock.withLock {
            let key = family + "|" + options + "|" + name
            if let kernel = kernels[key] { return kernel }
            let program = try program(family: family, options: options)
            var status: cl_int = 0
            guard let kernel = clCreateKernel(program, name, &status), status == CL_SUCCESS else {
                throw ViTError.openCL(call: "clCreateKernel(\(family).\(name))", code: CLStatus.name(status))
            }
            let compiled = CompiledKernel(kernel: kernel, device: device)
            kernels[key] = compiled
            return compiled
        }
    }

    /// The folder of cached binaries: `VIT_CACHE_DIR`, else `$XDG_CACHE_HOME/vit`, else `~/.cache/vit`.
    static var cacheFolder: URL {
        let environment = ProcessInfo.processInfo.environment
        if let folder = environment["VIT_CACHE_DIR"], !folder.isEmpty {
            return URL(fileURLWithPath: folder).appendingPathComponent("opencl")
        }
        let base =
            environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return base.appendingPathComponent("vit/opencl")
    }

    private func program(family: String, options: String) throws -> cl_program {
        let key = family + "|" + options
        if let program = programs[key] { return program }
        let source = try Self.source(family: family)
        let fullOptions = Self.baseOptions + (options.isEmpty ? "" : " " + options)
        let identity = [deviceInfo.name, deviceInfo.platform, deviceInfo.driverVersion, deviceInfo.version, fullOptions, source]
            .joined(separator: "\u{1}")
        let cacheFile = Self.cacheFolder.appendingPathComponent("\(family)-\(Self.fingerprint(identity)).bin")
        if let binary = try? Data(contentsOf: cacheFile), let program = try? build(binary: binary, options: fullOptions) {
            programs[key] = program
            return program
        }
        let program = try build(source: source, family: family, options: fullOptions)
        if let binary = self.binary(of: program) {
            // Best effort: a read-only cache folder only costs the next process a rebuild.
            try? FileManager.default.createDirectory(at: Self.cacheFolder, withIntermediateDirectories: true)
            let temporary = cacheFile.appendingPathExtension("tmp\(getpid())")
            if (try? binary.write(to: temporary)) != nil, rename(temporary.path, cacheFile.path) != 0 {
                try? FileManager.default.removeItem(at: temporary)
            }
        }
        programs[key] = program
        return program
    }

    /// The family's source with the shared helpers of common.cl in front.
    static func source(family: String) throws -> String {
        guard let common = KernelSources.source(family: "common"), let body = KernelSources.source(family: family) else {
            throw ViTError.kernelSourceMissing(family: family, searched: KernelSources.searchFolders().map(\.path))
        }
        return common + "\n#line 1\n" + body
    }

    private func build(source: String, family: String, options: String) throws -> cl_program {
        var status: cl_int = 0
        let program: cl_program? = source.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            var length = strlen(text)
            return clCreateProgramWithSource(context, 1, &pointer, &length, &status)
        }
        guard let program, status == CL_SUCCESS else {
            throw ViTError.openCL(call: "clCreateProgramWithSource(\(family))", code: CLStatus.name(status))
        }
        var deviceID: cl_device_id? = device
        let result = clBuildProgram(program, 1, &deviceID, options, nil, nil)
        guard result == CL_SUCCESS else {
            let log = buildLog(program)
            clReleaseProgram(program)
            throw ViTError.kernelBuild(family: family, device: deviceInfo.name, log: log.isEmpty ? CLStatus.name(result) : log)
        }
        return program
    }

    private func build(binary: Data, options: String) throws -> cl_program {
        var status: cl_int = 0
        var binaryStatus: cl_int = 0
        var deviceID: cl_device_id? = device
        var length = binary.count
        let program: cl_program? = binary.withUnsafeBytes { bytes in
            var pointer: UnsafePointer<UInt8>? = bytes.bindMemory(to: UInt8.self).baseAddress
            return clCreateProgramWithBinary(context, 1, &deviceID, &length, &pointer, &binaryStatus, &status)
        }
        guard let program, status == CL_SUCCESS, binaryStatus == CL_SUCCESS else {
            if let program { clReleaseProgram(program) }
            throw ViTError.openCL(call: "clCreateProgramWithBinary", code: CLStatus.name(status))
        }
        let result = clBuildProgram(program, 1, &deviceID, options, nil, nil)
        guard result == CL_SUCCESS else {
            clReleaseProgram(program)
            throw ViTError.openCL(call: "clBuildProgram(binary)", code: CLStatus.name(result))
        }
        return program
    }

    private func binary(of program: cl_program) -> Data? {
        var size = 0
        guard clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil) == CL_SUCCESS,
            size > 0
        else { return nil }
        var bytes = [UInt8](repeating: 0, count: size)
        let status = bytes.withUnsafeMutableBufferPointer { buffer -> cl_int in
            var pointer: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARIES), MemoryLayout<UnsafeMutablePointer<UInt8>>.size, &pointer, nil)
        }
        return status == CL_SUCCESS ? Data(bytes) : nil
    }

    private func buildLog(_ program: cl_program) -> String {
        var size = 0
        guard clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size) == CL_SUCCESS, size > 0 else {
            return ""
        }
        var bytes = [CChar](repeating: 0, count: size)
        guard clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &bytes, nil) == CL_SUCCESS else { return "" }
        return String(cString: bytes).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// FNV-1a, 64 bits, as hex: a cache key, not a security measure.
    static func fingerprint(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}

/// A built kernel and what the device allows for it: the largest work-group
/// (`CL_KERNEL_WORK_GROUP_SIZE`, which registers and local memory can make smaller than the
/// device's) and the size work-groups should be a multiple of
/// (`CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE`: the warp or SIMD width).
struct CompiledKernel {
    let kernel: cl_kernel
    let maximumGroupSize: Int
    let preferredMultiple: Int

    init(kernel: cl_kernel, device: cl_device_id) {
        self.kernel = kernel
        func value(_ parameter: Int32) -> Int? {
            var result = 0
            let status = clGetKernelWorkGroupInfo(kernel, device, cl_kernel_work_group_info(parameter), MemoryLayout<Int>.size, &result, nil)
            return status == CL_SUCCESS && result > 0 ? result : nil
        }
        maximumGroupSize = value(CL_KERNEL_WORK_GROUP_SIZE) ?? 64
        preferredMultiple = min(value(CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE) ?? 1, maximumGroupSize)
    }

    /// The local size of a launch over `global` that does not choose its own: along the first
    /// axis the largest multiple of the preferred multiple up to 256 and the kernel's limit (no
    /// larger than the axis needs, rounded up to the multiple), 1 along the others.
    func defaultLocalSize(for global: [Int]) -> [Int] {
        let limit = min(256, maximumGroupSize)
        let multiple = max(1, preferredMultiple)
        let wanted = min(limit, (global[0] + multiple - 1) / multiple * multiple)
        let first = max(1, min(limit / multiple * multiple, wanted))
        return [first] + [Int](repeating: 1, count: global.count - 1)
    }
}
