import COpenCL
import ViTCore

/// One argument of a kernel launch.
enum KernelArgument {
    case buffer(DeviceStorage)
    case int(Int)
    case uint(UInt32)
    case float(Float)
    /// Local memory for `floats` floats.
    case local(floats: Int)

    /// Sets this as argument `index` of `kernel`.
    func set(on kernel: cl_kernel, index: Int) throws {
        let status: cl_int
        switch self {
        case let .buffer(storage):
            var memory: cl_mem? = (storage as! OpenCLStorage).buffer
            status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_mem>.size, &memory)
        case let .int(value):
            var converted = cl_int(truncatingIfNeeded: value)
            status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_int>.size, &converted)
        case let .uint(value):
            var converted = cl_uint(value)
            status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_uint>.size, &converted)
        case let .float(value):
            var converted = cl_float(value)
            status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_float>.size, &converted)
        case let .local(floats):
            status = clSetKernelArg(kernel, cl_uint(index), max(floats, 1) * MemoryLayout<Float>.size, nil)
        }
        try CLStatus.check(status, "clSetKernelArg(\(index))")
    }
}

extension OpenCLBackend {
    /// Enqueues kernel `name` of `family` over `global` work-items (rounded up to a multiple
    /// of `local`, so kernels check their bounds). Nothing is launched for an empty range.
    func launch(_ family: String, _ name: String, global: [Int], local: [Int]? = nil, options: String = "", _ arguments: [KernelArgument]) throws {
        guard global.allSatisfy({ $0 > 0 }) else { return }
        let kernel = try library.kernel(family: family, name: name, options: options)
        for (index, argument) in arguments.enumerated() {
            try argument.set(on: kernel, index: index)
        }
        var globalSizes = global
        if let local {
            for axis in globalSizes.indices {
                globalSizes[axis] = (globalSizes[axis] + local[axis] - 1) / local[axis] * local[axis]
            }
        }
        try recordingEvent(name) { event in
            let status: cl_int
            if var localSizes = local {
                status = clEnqueueNDRangeKernel(queue, kernel, cl_uint(global.count), nil, &globalSizes, &localSizes, 0, nil, event)
            } else {
                status = clEnqueueNDRangeKernel(queue, kernel, cl_uint(global.count), nil, &globalSizes, nil, 0, nil, event)
            }
            try CLStatus.check(status, "clEnqueueNDRangeKernel(\(family).\(name))")
        }
    }

    /// The local size of a one-work-group-per-row kernel: a power of two from 32 to 256,
    /// near the row length and within the device's limit.
    func rowGroupSize(columns: Int) -> Int {
        var size = 32
        while size < columns && size < 256 { size *= 2 }
        while size > maximumWorkGroupSize { size /= 2 }
        return max(size, 1)
    }
}
