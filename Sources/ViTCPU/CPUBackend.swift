import COpenBLAS
import Foundation
import ViTCore

/// The CPU backend: GEMM through OpenBLAS, every other kernel as loops that the compiler
/// vectorises, spread over the cores. It is the reference the OpenCL kernels are checked
/// against, and the fast path on a machine without a GPU.
public final class CPUBackend: Backend {
    public let device = Device.cpu
    public let memory = MemoryCounter()
    let pool = BufferPool<UnsafeMutablePointer<Float>>()
    let profiler: Profiler

    public init(profiler: Profiler = .shared) {
        self.profiler = profiler
        // The backend splits GEMMs over the cores itself (see `gemm`).
        openblas_set_num_threads(1)
    }

    deinit {
        pool.drain { free($0) }
    }

    public var info: DeviceInfo { Self.describe() }

    /// The environment variable that caps the backend's threads (read once, before the
    /// first kernel or device listing).
    public static let threadLimitVariable = "VIT_CPU_THREADS"

    /// The CPU backend's entry in the device list.
    public static func describe() -> DeviceInfo {
        DeviceInfo(
            device: .cpu, name: "CPU backend (OpenBLAS, \(Parallel.coreCount) thread\(Parallel.coreCount == 1 ? "" : "s"))", kind: .cpu,
            platform: "host",
            computeUnits: Parallel.coreCount, memoryBytes: Int(ProcessInfo.processInfo.physicalMemory),
            version: "-", driverVersion: "-", supportsHalf: false, supportsDouble: true)
    }

    public func allocate(count: Int) throws -> DeviceStorage {
        try CPUStorage(count: count, pool: pool, memory: memory)
    }

    /// The CPU backend has no queue: nothing to count.
    public var commandCounts: CommandCounts { CommandCounts() }

    /// Host memory has no alignment rule for views.
    public var viewAlignment: Int { 1 }

    public func view(of storage: DeviceStorage, offset: Int, count: Int) throws -> DeviceStorage {
        precondition(offset >= 0 && offset + count <= storage.count, "view [\(offset), \(offset + count)) outside a storage of \(storage.count)")
        return CPUStorage(viewOf: storage as! CPUStorage, offset: offset, count: count)
    }

    public func write(_ values: UnsafeBufferPointer<Float>, to storage: DeviceStorage) throws {
        guard let base = values.baseAddress else { return }
        host(storage).update(from: base, count: values.count)
    }

    public func read(_ storage: DeviceStorage, into values: UnsafeMutableBufferPointer<Float>) throws {
        guard let base = values.baseAddress else { return }
        base.update(from: host(storage), count: values.count)
    }

    public func allocatePinnedHost(count: Int) throws -> PinnedHostMemory {
        CPUHostMemory(count: count, backend: self)
    }

    public func synchronize() throws {}

    public func emptyCache() {
        pool.drain { free($0) }
    }

    public func fill(_ storage: DeviceStorage, count: Int, value: Float) throws {
        profiler.measure("fill") {
            host(storage).update(repeating: value, count: count)
        }
    }

    public func copy(from source: DeviceStorage, offset sourceOffset: Int, to destination: DeviceStorage, offset destinationOffset: Int, count: Int)
        throws
    {
        profiler.measure("copy") {
            (host(destination) + destinationOffset).update(from: host(source) + sourceOffset, count: count)
        }
    }

    /// GEMM through single-threaded OpenBLAS calls that this backend spreads over the cores
    /// itself: a batch of products by chunks of the batch, one product by blocks of the
    /// larger of its output's rows and columns. OpenBLAS's own threads spin while they wait
    /// for work, and beside the backend's threads (which run every other kernel) they would
    /// take the cores from them; one pool of threads does better on few cores.
    public func gemm(_ descriptor: GemmDescriptor, a: DeviceStorage, b: DeviceStorage, c: DeviceStorage) throws {
        let (pointerA, pointerB, pointerC) = (host(a), host(b), host(c))
        profiler.measure("gemm") {
            let d = descriptor
            let transposeA = d.transposeA ? CblasTrans : CblasNoTrans
            let transposeB = d.transposeB ? CblasTrans : CblasNoTrans
            // Rows `rows` and columns `columns` of product `batch`.
            let block = { (batch: Int, rows: Range<Int>, columns: Range<Int>) in
                let offsetA = d.transposeA ? rows.lowerBound : rows.lowerBound * d.leadingDimensionA
                let offsetB = d.transposeB ? columns.lowerBound * d.leadingDimensionB : columns.lowerBound
                cblas_sgemm(
                    CblasRowMajor, transposeA, transposeB, Int32(rows.count), Int32(columns.count), Int32(d.k), d.alpha,
                    pointerA + batch * d.strideA + offsetA, Int32(d.leadingDimensionA), pointerB + batch * d.strideB + offsetB,
                    Int32(d.leadingDimensionB), d.beta, pointerC + batch * d.strideC + rows.lowerBound * d.leadingDimensionC + columns.lowerBound,
                    Int32(d.leadingDimensionC))
            }
            let multiplyAccumulates = d.m * d.n * d.k
            if d.batchCount > 1 {
                Parallel.forEachChunk(d.batchCount, grain: max(1, Self.gemmGrain / max(multiplyAccumulates, 1))) { batches in
                    for batch in batches { block(batch, 0..<d.m, 0..<d.n) }
                }
            } else if d.m >= d.n {
                Parallel.forEachChunk(d.m, grain: max(1, Self.gemmGrain / max(d.n * d.k, 1))) { rows in block(0, rows, 0..<d.n) }
            } else {
                Parallel.forEachChunk(d.n, grain: max(1, Self.gemmGrain / max(d.m * d.k, 1))) { columns in block(0, 0..<d.m, columns) }
            }
        }
    }

    /// Multiply-accumulates below which a GEMM (or a chunk of one) stays on one thread:
    /// about 20 microseconds of work, several times what handing it to another thread costs.
    static let gemmGrain = 1 << 19

    /// The host pointer of a CPU storage; a storage of another backend here is a bug
    /// above this layer, since tensor operations check devices first.
    @inline(__always)
    func host(_ storage: DeviceStorage) -> UnsafeMutablePointer<Float> {
        (storage as! CPUStorage).pointer
    }
}
