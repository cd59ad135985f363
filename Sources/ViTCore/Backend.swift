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

    /// Leading dimension of A as stored (row-major).
    public var leadingDimensionA: Int { transposeA ? m : k }
    /// Leading dimension of B as stored (row-major).
    public var leadingDimensionB: Int { transposeB ? k : n }
    /// Leading dimension of C.
    public var leadingDimensionC: Int { n }
    /// Floating-point operations of the whole product (two per multiply-add).
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) * Double(batchCount) }
}

/// Element-by-element operations on two inputs of equal size.
public enum BinaryOperation: String, Sendable {
    case add, subtract, multiply
}

/// The hyper-parameters of one fused AdamW step (decoupled weight decay, as PyTorch's AdamW).
public struct AdamWStep: Sendable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float
    /// 1-based step number, used for the bias corrections.
    public var step: Int

    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01, step: Int) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.step = step
    }

    /// 1 - beta1^step.
    public var firstCorrection: Float { 1 - Float(Foundation.pow(Double(beta1), Double(step))) }
    /// 1 - beta2^step.
    public var secondCorrection: Float { 1 - Float(Foundation.pow(Double(beta2), Double(step))) }
}

/// One compute device's implementation of every kernel the models need. Operations work
/// on raw storages and sizes; shape checking, output allocation and autograd live in the
/// `Tensor` operations above this layer, so a backend only computes.
///
/// Every kernel family named here has a CPU implementation (the reference) and an OpenCL
/// one; the tests compare the two.
public protocol Backend: AnyObject, AttentionKernels, SparseAttentionKernels, FeatureMapKernels, LinearAttentionKernels, PseudoInverseKernels,
    SequenceConvolutionKernels, ConvolutionKernels, MuonKernels
{
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

    /// Cuts images [batch, channels, height, width] into patches [batch, (height/patch) (width/patch),
    /// channels patch patch], each patch's values in (channel, row, column) order: the layout of
    /// a convolution weight [out, channels, patch, patch], so patch embedding is then one GEMM.
    func patchify(_ images: DeviceStorage, output: DeviceStorage, batch: Int, channels: Int, height: Int, width: Int, patch: Int) throws
    /// The adjoint of `patchify`: puts patch values back at their pixels (patches do not overlap).
    func unpatchify(_ patches: DeviceStorage, output: DeviceStorage, batch: Int, channels: Int, height: Int, width: Int, patch: Int) throws

    /// Matrix product(s), see `GemmDescriptor`.
    func gemm(_ descriptor: GemmDescriptor, a: DeviceStorage, b: DeviceStorage, c: DeviceStorage) throws
    /// `output = a op b`, element by element. `output` may be `a` or `b`.
    func binary(_ operation: BinaryOperation, _ a: DeviceStorage, _ b: DeviceStorage, output: DeviceStorage, count: Int) throws
    /// `output = alpha * input`. `output` may be `input`.
    func scale(_ input: DeviceStorage, by alpha: Float, output: DeviceStorage, count: Int) throws
    /// `output[i] = factor * input[i]` with `factor = numerator / (sqrt(squaredNorms[i / block])
    /// + epsilon)`, at most 1 when `atMostOne`: gradient clipping and unit-norm scaling of a
    /// batch of matrices `block` elements apart, from norms that stay on the device. `output`
    /// may be `input`.
    func scaleByNorm(
        _ input: DeviceStorage, output: DeviceStorage, count: Int, squaredNorms: DeviceStorage, block: Int, numerator: Float,
        epsilon: Float, atMostOne: Bool
    ) throws
    /// `output[r, c] = input[r, c] + bias[c]`.
    func addBias(_ input: DeviceStorage, bias: DeviceStorage, output: DeviceStorage, rows: Int, columns: Int) throws

    /// GELU, erf form: `x * 0.5 * (1 + erf(x / sqrt(2)))`.
    func geluForward(_ input: DeviceStorage, output: DeviceStorage, count: Int) throws
    /// Gradient of GELU with respect to its input.
    func geluBackward(_ input: DeviceStorage, outputGradient: DeviceStorage, inputGradient: DeviceStorage, count: Int) throws

    /// Layer norm over the last axis; saves each row's mean and 1/std for the backward pass.
    func layerNormForward(
        _ input: DeviceStorage, weight: DeviceStorage, bias: DeviceStorage, output: DeviceStorage,
        mean: DeviceStorage, inverseStandardDeviation: DeviceStorage, rows: Int, columns: Int, epsilon: Float
    ) throws
    /// Gradients of layer norm for the input, the weight and the bias (the latter two overwritten).
    func layerNormBackward(
        outputGradient: DeviceStorage, input: DeviceStorage, weight: DeviceStorage, mean: DeviceStorage,
        inverseStandardDeviation: DeviceStorage, inputGradient: DeviceStorage, weightGradient: DeviceStorage,
        biasGradient: DeviceStorage, rows: Int, columns: Int
    ) throws

    /// Softmax over each row.
    func softmaxForward(_ input: DeviceStorage, output: DeviceStorage, rows: Int, columns: Int) throws
    /// Gradient of the row softmax from its output: `dx = y * (dy - sum(dy * y))`.
    func softmaxBackward(output: DeviceStorage, outputGradient: DeviceStorage, inputGradient: DeviceStorage, rows: Int, columns: Int) throws

    /// Per-row cross-entropy of logits against class indices (stored as floats), with label
    /// smoothing as PyTorch's `cross_entropy(label_smoothing:)`, times `scale` (1 / rows makes
    /// the rows' sum the mean).
    func crossEntropyForward(
        logits: DeviceStorage, labels: DeviceStorage, losses: DeviceStorage, rows: Int, classes: Int, labelSmoothing: Float, scale: Float
    ) throws
    /// `outputGradient[0] * scale * d(loss_row)/d(logits)` for every row (the loss's incoming
    /// gradient is read on the device, not by the host).
    func crossEntropyBackward(
        logits: DeviceStorage, labels: DeviceStorage, outputGradient: DeviceStorage, logitsGradient: DeviceStorage, rows: Int,
        classes: Int, labelSmoothing: Float, scale: Float
    ) throws
    /// Adds `loss[0] * rows` (a batch's summed loss, from its mean) to `statistics[0]` and the
    /// batch's top-1 hits to `statistics[1]`. A row is a hit when no other class's logit is at
    /// least its label's and no logit is NaN. `statistics[2]` counts the batches before the
    /// first non-finite loss, which sets `statistics[3]` to 1 and ends the loss sum.
    func accumulateClassificationStatistics(
        logits: DeviceStorage, labels: DeviceStorage, loss: DeviceStorage, statistics: DeviceStorage, rows: Int, classes: Int
    ) throws

    /// Sums a tensor viewed as (outer, axis, inner) over its middle axis into (outer, inner).
    func sum(_ input: DeviceStorage, output: DeviceStorage, outer: Int, axis: Int, inner: Int) throws
    /// The adjoint of `sum`: copies (outer, inner) into every position of the middle axis of
    /// (outer, axis, inner).
    func broadcast(_ input: DeviceStorage, output: DeviceStorage, outer: Int, axis: Int, inner: Int) throws
    /// Reorders the axes of a tensor of `shape` (rank 1 to 6): output axis i is input axis `permutation[i]`.
    func permute(_ input: DeviceStorage, output: DeviceStorage, shape: [Int], permutation: [Int]) throws
    /// Inverted dropout with a counter-based random stream: element i is kept when
    /// `uniform(seed, offset, i) >= probability` and then scaled by 1 / (1 - probability).
    /// The same call on the gradient gives the backward pass, on every backend alike.
    func dropout(_ input: DeviceStorage, output: DeviceStorage, count: Int, probability: Float, seed: UInt32, offset: UInt32) throws
    /// One SGD-with-momentum update in place, as PyTorch's `SGD(momentum:weight_decay:)`:
    /// `d = g + weightDecay p; velocity = momentum velocity + d; p -= learningRate velocity`.
    func sgd(
        parameter: DeviceStorage, gradient: DeviceStorage, velocity: DeviceStorage, count: Int, learningRate: Float, momentum: Float,
        weightDecay: Float) throws
    /// One fused AdamW update of a parameter and its two moment buffers, in place.
    func adamW(
        parameter: DeviceStorage, gradient: DeviceStorage, firstMoment: DeviceStorage, secondMoment: DeviceStorage, count: Int, step: AdamWStep)
        throws
}
