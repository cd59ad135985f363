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
    }

    deinit {
        pool.drain { free($0) }
    }

    public var info: DeviceInfo { Self.describe() }

    /// The CPU backend's entry in the device list.
    public static func describe() -> DeviceInfo {
        DeviceInfo(
            device: .cpu, name: "CPU backend (OpenBLAS, \(Parallel.coreCount) threads)", kind: .cpu, platform: "host",
            computeUnits: Parallel.coreCount, memoryBytes: Int(ProcessInfo.processInfo.physicalMemory),
            version: "-", driverVersion: "-", supportsHalf: false, supportsDouble: true)
    }

    public func allocate(count: Int) throws -> DeviceStorage {
        try CPUStorage(count: count, pool: pool, memory: memory)
    }

    public func write(_ values: UnsafeBufferPointer<Float>, to storage: DeviceStorage) throws {
        guard let base = values.baseAddress else { return }
        host(storage).update(from: base, count: values.count)
    }

    public func read(_ storage: DeviceStorage, into values: UnsafeMutableBufferPointer<Float>) throws {
        guard let base = values.baseAddress else { return }
        base.update(from: host(storage), count: values.count)
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

    public func copy(from source: DeviceStorage, offset sourceOffset: Int, to destination: DeviceStorage, offset destinationOffset: Int, count: Int) throws {
        profiler.measure("copy") {
            (host(destination) + destinationOffset).update(from: host(source) + sourceOffset, count: count)
        }
    }

    public func gemm(_ descriptor: GemmDescriptor, a: DeviceStorage, b: DeviceStorage, c: DeviceStorage) throws {
        let (pointerA, pointerB, pointerC) = (host(a), host(b), host(c))
        profiler.measure("gemm") {
            let d = descriptor
            let transposeA = d.transposeA ? CblasTrans : CblasNoTrans
            let transposeB = d.transposeB ? CblasTrans : CblasNoTrans
            let one = { (batch: Int) in
                cblas_sgemm(
                    CblasRowMajor, transposeA, transposeB, Int32(d.m), Int32(d.n), Int32(d.k), d.alpha,
                    pointerA + batch * d.strideA, Int32(d.leadingDimensionA), pointerB + batch * d.strideB,
                    Int32(d.leadingDimensionB), d.beta, pointerC + batch * d.strideC, Int32(d.leadingDimensionC))
            }
            if d.batchCount == 1 {
                one(0)
            } else {
                // Many small products (attention): one thread per chunk of batches beats
                // OpenBLAS's threading, which does not split matrices this small.
                Parallel.forEachChunk(d.batchCount, grain: 1) { batches in batches.forEach(one) }
            }
        }
    }

    /// The host pointer of a CPU storage; a storage of another backend here is a bug
    /// above this layer, since tensor operations check devices first.
    @inline(__always)
    func host(_ storage: DeviceStorage) -> UnsafeMutablePointer<Float> {
        (storage as! CPUStorage).pointer
    }
}
