import COpenCL
import ViTCore

/// One argument of a kernel launch.
package enum KernelArgument {
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
        case .buffer(let storage):
            var memory: cl_mem? = (storage as! OpenCLStorage).buffer
            status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_mem>.size, &memory)
        case .int(let value):
            var converted = cl_int(truncatingIfNeeded: value)
            status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_int>.size, &converted)
        case .uint(let value):
            var converted = cl_uint(value)
            status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_uint>.size, &converted)
        case .float(let value):
            var converted = cl_float(value)
            status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_float>.size, &converted)
        case .local(let floats):
            status = clSetKernelArg(kernel, cl_uint(index), max(floats, 1) * MemoryLayout<Float>.size, nil)
        }
        try CLStatus.check(status, "clSetKernelArg(\(index))")
    }
}

extension OpenCLBackend {
    /// Enqueues kernel `name` of `family` over `global` work-items, rounded up to a multiple
    /// of the local size (kernels check their bounds). The local size is `local` when the
    /// kernel needs one (work-group reductions, tiles), else chosen from the kernel's limits on
    /// this device (`CompiledKernel.defaultLocalSize`); it never exceeds them. Nothing is
    /// launched for an empty range.
    package func launch(_ family: String, _ name: String, global: [Int], local: [Int]? = nil, options: String = "", _ arguments: [KernelArgument])
        throws
    {
        guard global.allSatisfy({ $0 > 0 }) else { return }
        let compiled = try library.kernel(family: family, name: name, options: options)
        var localSizes = local ?? compiled.defaultLocalSize(for: global)
        let groupSize = localSizes.reduce(1, *)
        guard groupSize <= compiled.maximumGroupSize else {
            throw ViTError.openCL(
                call: "clEnqueueNDRangeKernel(\(family).\(name)): work-group of \(groupSize) work-items, "
                    + "the device allows \(compiled.maximumGroupSize) for this kernel", code: "CL_INVALID_WORK_GROUP_SIZE")
        }
        for (index, argument) in arguments.enumerated() {
            try argument.set(on: compiled.kernel, index: index)
        }
        var globalSizes = zip(global, localSizes).map { size, group in (size + group - 1) / group * group }
        try recordingEvent(name) { event in
            let status = clEnqueueNDRangeKernel(queue, compiled.kernel, cl_uint(global.count), nil, &globalSizes, &localSizes, 0, nil, event)
            try CLStatus.check(status, "clEnqueueNDRangeKernel(\(family).\(name))")
        }
        commandCounts.launches += 1
        if globalSizes.reduce(1, *) <= 16 { commandCounts.smallLaunches += 1 }
    }

    /// The local size of a one-work-group-per-row kernel: a power of two from 32 to 256,
    /// near the row length and within the device's limit.
    package func rowGroupSize(columns: Int) -> Int {
        var size = 32
        while size < columns && size < 256 { size *= 2 }
        while size > maximumWorkGroupSize { size /= 2 }
        return max(size, 1)
    }
}
