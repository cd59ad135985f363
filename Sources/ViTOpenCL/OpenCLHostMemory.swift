import COpenCL
import ViTCore

/// Pinned host memory on OpenCL: a buffer allocated with `CL_MEM_ALLOC_HOST_PTR` and mapped
/// once for its whole life. GPU drivers back such a buffer with page-locked memory, so reads
/// and writes between it and device buffers are DMA transfers that run while the host goes
/// on, and `values` is the mapped pointer itself.
final class OpenCLHostMemory: PinnedHostMemory {
    let values: UnsafeMutableBufferPointer<Float>
    private let buffer: cl_mem
    private let backend: OpenCLBackend

    init(count: Int, backend: OpenCLBackend) throws {
        let bytes = max(count, 1) * MemoryLayout<Float>.size
        var status: cl_int = 0
        let flags = cl_mem_flags(CL_MEM_READ_WRITE) | cl_mem_flags(CL_MEM_ALLOC_HOST_PTR)
        guard let buffer = clCreateBuffer(backend.context, flags, bytes, nil, &status), status == CL_SUCCESS else {
            throw ViTError.openCL(call: "clCreateBuffer(\(bytes) bytes, CL_MEM_ALLOC_HOST_PTR)", code: CLStatus.name(status))
        }
        let mapping = clEnqueueMapBuffer(
            backend.queue, buffer, cl_bool(CL_TRUE), cl_map_flags(CL_MAP_READ) | cl_map_flags(CL_MAP_WRITE), 0, bytes, 0, nil, nil, &status)
        guard let mapping, status == CL_SUCCESS else {
            clReleaseMemObject(buffer)
            throw ViTError.openCL(call: "clEnqueueMapBuffer(\(bytes) bytes)", code: CLStatus.name(status))
        }
        backend.commandCounts.hostWaits += 1
        values = UnsafeMutableBufferPointer(start: mapping.assumingMemoryBound(to: Float.self), count: count)
        values.update(repeating: 0)
        self.buffer = buffer
        self.backend = backend
    }

    deinit {
        // Transfers into the mapping must end before it is unmapped.
        clFinish(backend.queue)
        clEnqueueUnmapMemObject(backend.queue, buffer, values.baseAddress, 0, nil, nil)
        clFinish(backend.queue)
        clReleaseMemObject(buffer)
    }

    func startRead(_ storage: DeviceStorage, at offset: Int) throws -> DeviceTransfer {
        precondition(offset >= 0 && offset + storage.count <= values.count, "a read of \(storage.count) floats at \(offset) past \(values.count)")
        let bytes = storage.count * MemoryLayout<Float>.size
        var event: cl_event?
        try CLStatus.check(
            clEnqueueReadBuffer(backend.queue, backend.buffer(storage), cl_bool(CL_FALSE), 0, bytes, values.baseAddress! + offset, 0, nil, &event),
            "clEnqueueReadBuffer (non-blocking, \(bytes) bytes)")
        // Flushed so that the device starts the copy while the host goes on.
        try CLStatus.check(clFlush(backend.queue), "clFlush")
        backend.commandCounts.reads += 1
        backend.commandCounts.bytesRead += bytes
        guard let event else { throw ViTError.openCL(call: "clEnqueueReadBuffer", code: "no event") }
        return OpenCLTransfer(event: event)
    }

    @discardableResult
    func startWrite(to storage: DeviceStorage, from offset: Int) throws -> DeviceTransfer {
        precondition(offset >= 0 && offset + storage.count <= values.count, "a write of \(storage.count) floats from \(offset) past \(values.count)")
        let bytes = storage.count * MemoryLayout<Float>.size
        var event: cl_event?
        try CLStatus.check(
            clEnqueueWriteBuffer(backend.queue, backend.buffer(storage), cl_bool(CL_FALSE), 0, bytes, values.baseAddress! + offset, 0, nil, &event),
            "clEnqueueWriteBuffer (non-blocking, \(bytes) bytes)")
        backend.commandCounts.writes += 1
        backend.commandCounts.bytesWritten += bytes
        guard let event else { throw ViTError.openCL(call: "clEnqueueWriteBuffer", code: "no event") }
        return OpenCLTransfer(event: event)
    }
}

/// A read in flight on an OpenCL queue, known by its event.
final class OpenCLTransfer: DeviceTransfer {
    private let event: cl_event

    init(event: cl_event) {
        self.event = event
    }

    deinit {
        clReleaseEvent(event)
    }

    func isComplete() throws -> Bool {
        var state: cl_int = 0
        try CLStatus.check(
            clGetEventInfo(event, cl_event_info(CL_EVENT_COMMAND_EXECUTION_STATUS), MemoryLayout<cl_int>.size, &state, nil), "clGetEventInfo")
        // A negative state is an error code of the command.
        guard state >= 0 else { throw ViTError.openCL(call: "clEnqueueReadBuffer", code: CLStatus.name(state)) }
        return state == CL_COMPLETE
    }
}
