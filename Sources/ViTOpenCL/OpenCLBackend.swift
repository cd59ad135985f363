import CCLBlast
import COpenCL
import Foundation
import ViTCore

/// The OpenCL backend for one device: a context and an in-order queue with profiling on,
/// a buffer pool, the kernel families of Kernels/, and CLBlast for GEMM.
public final class OpenCLBackend: Backend {
    public let device: Device
    public let info: DeviceInfo
    public let memory = MemoryCounter()
    let context: cl_context
    var queue: cl_command_queue?
    let deviceID: cl_device_id
    let library: KernelLibrary
    let pool = BufferPool<cl_mem>()
    let profiler: Profiler
    /// Largest work-group the device runs; row kernels use a power of two up to 256 within it.
    package let maximumWorkGroupSize: Int
    public let viewAlignment: Int
    public internal(set) var commandCounts = CommandCounts()
    /// The configurations `vit tune` stored for this device (read when the backend opens).
    public var tuning: KernelTuning
    /// Whether sparse patterns given as bands run the band kernels (true), the index-list
    /// kernels (false), or what `vit tune` chose else the device's heuristic (nil, the default).
    public var sparseBandKernels: Bool?
    /// The largest single allocation the device accepts (`CL_DEVICE_MAX_MEM_ALLOC_SIZE`).
    let maximumAllocationBytes: Int
    /// Local memory per work-group (`CL_DEVICE_LOCAL_MEM_SIZE`), which bounds the flash tiles.
    package let localMemoryBytes: Int
    /// CLBlast's temporary buffer for GEMM, reused by every call (grown when a call needs more).
    private var gemmTemporary: OpenCLStorage?
    /// The temporary bytes each GEMM shape needs, asked of CLBlast once per shape.
    private var gemmTemporaryBytes: [GemmDescriptor: Int] = [:]
    /// Host copies of the values of writes still in flight (`write` does not wait for the
    /// device), freed once their event reports completion.
    private var stagedWrites: [(event: cl_event, staging: UnsafeMutableRawPointer)] = []

    /// Opens the device described by `entry`.
    public init(entry: OpenCLDeviceEntry, profiler: Profiler = .shared) throws {
        self.device = entry.info.device
        self.info = entry.info
        self.deviceID = entry.deviceID
        self.profiler = profiler
        var status: cl_int = 0
        var properties: [cl_context_properties] = [
            cl_context_properties(CL_CONTEXT_PLATFORM), cl_context_properties(Int(bitPattern: UnsafeRawPointer(entry.platform))), 0,
        ]
        var deviceID: cl_device_id? = entry.deviceID
        guard let context = clCreateContext(&properties, 1, &deviceID, nil, nil, &status), status == CL_SUCCESS else {
            throw ViTError.openCL(call: "clCreateContext", code: CLStatus.name(status))
        }
        self.context = context
        guard let queue = clCreateCommandQueue(context, entry.deviceID, cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE), &status),
            status == CL_SUCCESS
        else {
            clReleaseContext(context)
            throw ViTError.openCL(call: "clCreateCommandQueue", code: CLStatus.name(status))
        }
        self.queue = queue
        let workGroup: Int = OpenCLDiscovery.value(entry.deviceID, cl_device_info(CL_DEVICE_MAX_WORK_GROUP_SIZE)) ?? 64
        self.maximumWorkGroupSize = max(1, workGroup)
        // CL_DEVICE_MEM_BASE_ADDR_ALIGN is in bits; sub-buffer origins must be multiples of it.
        let alignmentBits: cl_uint = OpenCLDiscovery.value(entry.deviceID, cl_device_info(CL_DEVICE_MEM_BASE_ADDR_ALIGN)) ?? 4096
        self.viewAlignment = max(1, Int(alignmentBits) / (8 * MemoryLayout<Float>.size))
        let maximumAllocation: cl_ulong = OpenCLDiscovery.value(entry.deviceID, cl_device_info(CL_DEVICE_MAX_MEM_ALLOC_SIZE)) ?? cl_ulong(Int.max)
        self.maximumAllocationBytes = Int(clamping: maximumAllocation)
        let localMemory: cl_ulong = OpenCLDiscovery.value(entry.deviceID, cl_device_info(CL_DEVICE_LOCAL_MEM_SIZE)) ?? 16384
        self.localMemoryBytes = Int(clamping: localMemory)
        self.library = KernelLibrary(context: context, device: entry.deviceID, deviceInfo: entry.info)
        do {
            self.tuning = try KernelTuning.load(for: entry.info)
        } catch {
            clReleaseCommandQueue(queue)
            clReleaseContext(context)
            throw error
        }
    }

    deinit {
        clFinish(queue)
        releaseStagedWrites(all: true)
        // The GEMM buffer goes back to the pool when released, so before the pool is emptied.
        gemmTemporary = nil
        pool.drain { clReleaseMemObject($0) }
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    /// Releases the programs CLBlast has compiled and cached for every context (a later GEMM
    /// compiles them again). A process calls it before it exits: left to CLBlast's static
    /// destructor, the release runs after `exit` has destroyed the main thread's thread-local
    /// objects, and every API call of Oclgrind 21.10 pushes its name onto one of them, so
    /// that `clReleaseProgram` writes into freed heap (see BENCHMARKS.md). An `atexit`
    /// handler is too late for the same reason: `exit` destroys thread-locals first.
    public static func releaseCLBlastPrograms() {
        _ = CLBlastClearCache()
    }

    public func allocate(count: Int) throws -> DeviceStorage {
        if let buffer = pool.take(count: count) {
            return OpenCLStorage(count: count, buffer: buffer, pool: pool, memory: memory)
        }
        var status: cl_int = 0
        // OpenCL has no empty buffers; an empty tensor gets one unused element.
        let bytes = max(count, 1) * MemoryLayout<Float>.size
        guard bytes <= maximumAllocationBytes else {
            throw ViTError.outOfMemory(device: "\(device) (\(info.name), at most \(maximumAllocationBytes) bytes per allocation)", bytes: bytes)
        }
        var buffer = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &status)
        if buffer == nil || status != CL_SUCCESS {
            // Cached buffers of other sizes may be what stands in the way: free them and retry.
            pool.drain { clReleaseMemObject($0) }
            buffer = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &status)
        }
        guard let buffer, status == CL_SUCCESS else {
            if status == CL_MEM_OBJECT_ALLOCATION_FAILURE || status == CL_OUT_OF_RESOURCES || status == CL_INVALID_BUFFER_SIZE {
                throw ViTError.outOfMemory(device: "\(device) (\(info.name))", bytes: bytes)
            }
            throw ViTError.openCL(call: "clCreateBuffer(\(bytes) bytes)", code: CLStatus.name(status))
        }
        return OpenCLStorage(count: count, buffer: buffer, pool: pool, memory: memory)
    }

    public func view(of storage: DeviceStorage, offset: Int, count: Int) throws -> DeviceStorage {
        precondition(
            offset >= 0 && offset + count <= storage.count && offset % viewAlignment == 0,
            "view [\(offset), \(offset + count)) of a storage of \(storage.count) (alignment \(viewAlignment))")
        let parent = storage as! OpenCLStorage
        var region = cl_buffer_region(origin: offset * MemoryLayout<Float>.size, size: max(count, 1) * MemoryLayout<Float>.size)
        var status: cl_int = 0
        guard
            let subBuffer = clCreateSubBuffer(
                parent.buffer, cl_mem_flags(CL_MEM_READ_WRITE), cl_buffer_create_type(CL_BUFFER_CREATE_TYPE_REGION),
                &region, &status), status == CL_SUCCESS
        else {
            throw ViTError.openCL(call: "clCreateSubBuffer(\(count) floats at \(offset))", code: CLStatus.name(status))
        }
        return OpenCLStorage(count: count, subBuffer: subBuffer, of: parent)
    }

    /// Copies the values into host staging memory and enqueues the write without waiting for
    /// it: commands enqueued later see the values, and the host goes on at once.
    public func write(_ values: UnsafeBufferPointer<Float>, to storage: DeviceStorage) throws {
        guard let base = values.baseAddress, !values.isEmpty else { return }
        releaseStagedWrites(all: false)
        let bytes = values.count * MemoryLayout<Float>.size
        let staging = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        staging.copyMemory(from: base, byteCount: bytes)
        var event: cl_event?
        let status = clEnqueueWriteBuffer(queue, buffer(storage), cl_bool(CL_FALSE), 0, bytes, staging, 0, nil, &event)
        guard status == CL_SUCCESS, let event else {
            staging.deallocate()
            throw ViTError.openCL(call: "clEnqueueWriteBuffer", code: CLStatus.name(status))
        }
        stagedWrites.append((event, staging))
        commandCounts.writes += 1
        commandCounts.bytesWritten += bytes
    }

    /// Frees the staging memory of completed writes (of every write after a finish), asking
    /// each event's status without waiting.
    private func releaseStagedWrites(all: Bool) {
        stagedWrites.removeAll { entry in
            var state: cl_int = 0
            let complete =
                all
                || (clGetEventInfo(entry.event, cl_event_info(CL_EVENT_COMMAND_EXECUTION_STATUS), MemoryLayout<cl_int>.size, &state, nil)
                    == CL_SUCCESS
                    && state <= CL_COMPLETE)
            if complete {
                clReleaseEvent(entry.event)
                entry.staging.deallocate()
            }
            return complete
        }
    }

    public func read(_ storage: DeviceStorage, into values: UnsafeMutableBufferPointer<Float>) throws {
        guard let base = values.baseAddress, !values.isEmpty else { return }
        try CLStatus.check(
            clEnqueueReadBuffer(queue, buffer(storage), cl_bool(CL_TRUE), 0, values.count * MemoryLayout<Float>.size, base, 0, nil, nil),
            "clEnqueueReadBuffer")
        commandCounts.reads += 1
        commandCounts.hostWaits += 1
        commandCounts.bytesRead += values.count * MemoryLayout<Float>.size
        // A blocking read on the in-order queue follows every earlier write.
        releaseStagedWrites(all: true)
    }

    public func allocatePinnedHost(count: Int) throws -> PinnedHostMemory {
        try OpenCLHostMemory(count: count, backend: self)
    }

    public func synchronize() throws {
        try CLStatus.check(clFinish(queue), "clFinish")
        commandCounts.hostWaits += 1
        releaseStagedWrites(all: true)
    }

    public func emptyCache() {
        pool.drain { clReleaseMemObject($0) }
    }

    public func copy(from source: DeviceStorage, offset sourceOffset: Int, to destination: DeviceStorage, offset destinationOffset: Int, count: Int)
        throws
    {
        guard count > 0 else { return }
        let size = MemoryLayout<Float>.size
        try recordingEvent("copy") { event in
            try CLStatus.check(
                clEnqueueCopyBuffer(
                    queue, buffer(source), buffer(destination), sourceOffset * size, destinationOffset * size, count * size, 0, nil, event),
                "clEnqueueCopyBuffer")
        }
        commandCounts.copies += 1
    }

    public func gemm(_ descriptor: GemmDescriptor, a: DeviceStorage, b: DeviceStorage, c: DeviceStorage) throws {
        let d = descriptor
        let transposeA = d.transposeA ? CLBlastTransposeYes : CLBlastTransposeNo
        let transposeB = d.transposeB ? CLBlastTransposeYes : CLBlastTransposeNo
        let name = d.batchCount == 1 ? "gemm" : "gemm_batched"
        try recordingEvent(name) { eventPointer in
            let status: CLBlastStatusCode
            if d.batchCount == 1 {
                status = CLBlastSgemmWithTempBuffer(
                    CLBlastLayoutRowMajor, transposeA, transposeB, d.m, d.n, d.k, d.alpha,
                    buffer(a), 0, d.leadingDimensionA, buffer(b), 0, d.leadingDimensionB, d.beta,
                    buffer(c), 0, d.leadingDimensionC, &queue, eventPointer, try gemmTemporaryBuffer(for: d))
            } else {
                status = CLBlastSgemmStridedBatched(
                    CLBlastLayoutRowMajor, transposeA, transposeB, d.m, d.n, d.k, d.alpha,
                    buffer(a), 0, d.leadingDimensionA, d.strideA, buffer(b), 0, d.leadingDimensionB, d.strideB, d.beta,
                    buffer(c), 0, d.leadingDimensionC, d.strideC, d.batchCount, &queue, eventPointer)
            }
            guard status == CLBlastSuccess else {
                throw ViTError.clBlast(routine: d.batchCount == 1 ? "Sgemm" : "SgemmStridedBatched", status: Int(status.rawValue))
            }
        }
        commandCounts.launches += 1
    }

    /// CLBlast's temporary buffer for `descriptor`'s GEMM (nil when it needs none), from one
    /// buffer that grows to the largest request instead of an allocation per call.
    private func gemmTemporaryBuffer(for descriptor: GemmDescriptor) throws -> cl_mem? {
        let d = descriptor
        let bytes: Int
        if let known = gemmTemporaryBytes[d] {
            bytes = known
        } else {
            var size = 0
            let status = CLBlastSGemmTempBufferSize(
                CLBlastLayoutRowMajor, d.transposeA ? CLBlastTransposeYes : CLBlastTransposeNo,
                d.transposeB ? CLBlastTransposeYes : CLBlastTransposeNo,
                d.m, d.n, d.k, 0, d.leadingDimensionA, 0, d.leadingDimensionB, 0, d.leadingDimensionC, &queue, &size)
            guard status == CLBlastSuccess else { throw ViTError.clBlast(routine: "SGemmTempBufferSize", status: Int(status.rawValue)) }
            bytes = size
            gemmTemporaryBytes[d] = size
        }
        guard bytes > 0 else { return nil }
        if let temporary = gemmTemporary, temporary.count * MemoryLayout<Float>.size >= bytes { return temporary.buffer }
        let grown = try allocate(count: (bytes + MemoryLayout<Float>.size - 1) / MemoryLayout<Float>.size) as! OpenCLStorage
        gemmTemporary = grown
        return grown.buffer
    }

    /// The memory object of an OpenCL storage. Tensor operations check devices before a
    /// backend is called, so another backend's storage here is a bug.
    @inline(__always)
    func buffer(_ storage: DeviceStorage) -> cl_mem? {
        (storage as! OpenCLStorage).buffer
    }

    /// Runs `enqueue` with an event pointer when profiling (nil otherwise) and hands the
    /// event to the profiler, which reads its start and end times later.
    func recordingEvent(_ name: String, _ enqueue: (UnsafeMutablePointer<cl_event?>?) throws -> Void) throws {
        guard profiler.isEnabled else { return try enqueue(nil) }
        var event: cl_event?
        try enqueue(&event)
        guard let event else { return }
        profiler.record(name) {
            defer { clReleaseEvent(event) }
            var waitList: cl_event? = event
            guard clWaitForEvents(1, &waitList) == CL_SUCCESS else { return nil }
            var start: cl_ulong = 0
            var end: cl_ulong = 0
            guard
                clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_START), MemoryLayout<cl_ulong>.size, &start, nil) == CL_SUCCESS,
                clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_END), MemoryLayout<cl_ulong>.size, &end, nil) == CL_SUCCESS
            else { return nil }
            return Profiler.Interval(start: Double(start) * 1e-9, end: Double(end) * 1e-9)
        }
    }
}
