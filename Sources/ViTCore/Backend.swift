import Foundation

/// A block of float32 memory owned by one backend. Backends hand these out from
/// `Backend.allocate(count:)` and return them to their pool when the last reference goes.
public protocol DeviceStorage: AnyObject {
    /// Number of float32 elements the storage holds.
    var count: Int { get }
}

/// How one (possibly batched) row-major matrix product `C = alpha * op(A) op(B) + beta * C`
/// is laid out. `op(A)` is m x k, `op(B)` is k x n, C is m x n. Batches are `batchCount`
/// products whose operands start `strideA`, `strideB`, `strideC` elements apart.
public struct GemmDescriptor: Hashable, Sendable {
    public var transposeA: Bool
    public var transposeB: Bool
    public var m: Int
    public var n: Int
    public var k: Int
    public var alpha: Float
    public var beta: Float
    public var batchCount: Int
    public var strideA: Int
    public var strideB: Int
    public var strideC: Int

    public init(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0,
        batchCount: Int = 1, strideA: Int = 0, strideB: Int = 0, strideC: Int = 0
    ) {
        self.transposeA = transposeA
        self.transposeB = transposeB
        self.m = m
        self.n = n
        self.k = k
        self.alpha = alpha
        self.beta = beta
        self.batchCount = batchCount
        self.strideA = strideA
        self.strideB = strideB
        self.strideC = strideC
    }

    /// `batchCount` products of matrices stored one after the other (strides m k, k n, m n).
    public static func batched(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, batchCount: Int) -> GemmDescriptor {
        GemmDescriptor(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, batchCount: batchCount, strideA: m * k, strideB: k * n,
            strideC: m * n)
    }

    /// Leading dimension of A as stored (row-major).
    public var leadingDimensionA: Int { transposeA ? m : k }
    /// Leading dimension of B as stored (row-major).
    public var leadingDimensionB: Int { transposeB ? k : n }
    /// Leading dimension of C.
    public var leadingDimensionC: Int { n }
    /// Floating-point operations of the whole product (two per multiply-add).
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) * Double(batchCount) }
}

/// Element-by-element operations, `output[i] = f(input[i], ...)` over `count` elements
/// (second operands travel with the case), which `Backend.pointwise` runs in one launch.
/// `output` may be `input` (or the second operand).
public enum PointwiseOperation {
    /// `input + other`, `input - other`, `input * other`.
    case add(DeviceStorage)
    case subtract(DeviceStorage)
    case multiply(DeviceStorage)
    /// `alpha * input`.
    case scale(Float)
    /// `input[r, c] + bias[c]` for rows of `columns` elements.
    case addBias(DeviceStorage, columns: Int)
    /// `factor * input` with `factor = numerator / (sqrt(squaredNorms[i / block]) + epsilon)`,
    /// at most 1 when `atMostOne`: gradient clipping and unit-norm scaling of a batch of
    /// matrices `block` elements apart, from norms that stay on the device.
    case scaleByNorm(squaredNorms: DeviceStorage, block: Int, numerator: Float, epsilon: Float, atMostOne: Bool)
    /// GELU, erf form: `x * 0.5 * (1 + erf(x / sqrt(2)))`.
    case gelu
    /// GELU's gradient with respect to its input `x`: `outputGradient * GELU'(x)`.
    case geluGradient(outputGradient: DeviceStorage)

    /// The kernel's name (`Kernels/elementwise.cl` and `gelu.cl`, and the CPU profiler's).
    public var kernelName: String {
        switch self {
        case .add: return "add_forward"
        case .subtract: return "subtract_forward"
        case .multiply: return "multiply_forward"
        case .scale: return "scale_forward"
        case .addBias: return "add_bias_forward"
        case .scaleByNorm: return "scale_by_norm_forward"
        case .gelu: return "gelu_forward"
        case .geluGradient: return "gelu_backward"
        }
    }
}

/// One compute device: its storage, copies, GEMM and pointwise operations, which every
/// device must have. Operations work on raw storages and sizes; shape checking, output
/// allocation and autograd live in the `Tensor` operations above this layer, so a backend
/// only computes.
///
/// Every other kernel family (layer norm, softmax, attention, optimizer steps, dropout...)
/// is a protocol of its own, declared beside its tensor operation; a backend conforms to
/// those it implements, and `kernels(_:)` finds the conformance or throws "unsupported on
/// DEVICE". The CPU backend, the reference, implements every family.
public protocol Backend: AnyObject {

    /// The device this backend computes on.
    var device: Device { get }
    /// The device's description.
    var info: DeviceInfo { get }
    /// Live and peak bytes held by tensors on this device.
    var memory: MemoryCounter { get }
    /// The commands this backend has enqueued so far (see `CommandCounts`).
    var commandCounts: CommandCounts { get }

    /// Uninitialised storage for `count` floats (from the backend's pool when possible).
    func allocate(count: Int) throws -> DeviceStorage
    /// The floats a view's offset must be a multiple of (`view(of:offset:count:)`).
    var viewAlignment: Int { get }
    /// Storage aliasing `count` floats of `storage` from `offset` (a multiple of
    /// `viewAlignment`): writes through either are seen by both. The view keeps `storage` alive.
    func view(of storage: DeviceStorage, offset: Int, count: Int) throws -> DeviceStorage
    /// Copies host values into `storage` starting at element 0.
    func write(_ values: UnsafeBufferPointer<Float>, to storage: DeviceStorage) throws
    /// Copies the first `values.count` elements of `storage` to the host.
    func read(_ storage: DeviceStorage, into values: UnsafeMutableBufferPointer<Float>) throws
    /// Host memory for `count` floats that this device copies to and from directly.
    func allocatePinnedHost(count: Int) throws -> PinnedHostMemory
    /// Waits for all queued work to finish.
    func synchronize() throws
    /// Returns cached, unused buffers to the system.
    func emptyCache()

    /// Sets `count` elements to `value`.
    func fill(_ storage: DeviceStorage, count: Int, value: Float) throws
    /// Copies `count` elements between storages (or within one, without overlap).
    func copy(from source: DeviceStorage, offset sourceOffset: Int, to destination: DeviceStorage, offset destinationOffset: Int, count: Int) throws

    /// Copies `count` blocks of `length` floats: block i goes from
    /// `source[sourceOffset + i * sourceStride]` to `destination[destinationOffset + i * destinationStride]`.
    /// Concatenation and slicing along any axis are such copies.
    func copyBlocks(
        from source: DeviceStorage, offset sourceOffset: Int, stride sourceStride: Int,
        to destination: DeviceStorage, offset destinationOffset: Int, stride destinationStride: Int, length: Int, count: Int
    ) throws

    /// Matrix product(s), see `GemmDescriptor`.
    func gemm(_ descriptor: GemmDescriptor, a: DeviceStorage, b: DeviceStorage, c: DeviceStorage) throws
    /// One element-by-element operation over `count` elements, see `PointwiseOperation`.
    func pointwise(_ operation: PointwiseOperation, _ input: DeviceStorage, output: DeviceStorage, count: Int) throws
}

extension Backend {
    /// This backend's implementation of the kernel family `family` (a protocol such as
    /// `LayerNormKernels`), or `ViTError.unsupported` when the device has none.
    public func kernels<Family>(_ family: Family.Type) throws -> Family {
        guard let kernels = self as? Family else { throw ViTError.unsupported(family: "\(family)", device: "\(device)") }
        return kernels
    }
}
