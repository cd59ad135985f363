import Foundation
import ViTCore
import ViTNN

/// A parameter an optimizer updates, with its checkpoint name and whether weight decay applies.
public struct OptimizedParameter {
    public let name: String
    public let tensor: Tensor
    public let decayed: Bool

    public init(name: String, tensor: Tensor, decayed: Bool) {
        self.name = name
        self.tensor = tensor
        self.decayed = decayed
    }
}

extension VisionTransformer {
    /// Every parameter for an optimizer, with weight decay where `isDecayed` says so.
    public var optimizedParameters: [OptimizedParameter] {
        namedParameters.map { OptimizedParameter(name: $0.name, tensor: $0.tensor, decayed: VisionTransformer.isDecayed($0.name, $0.tensor)) }
    }
}

/// An optimizer's parameters in one allocation and their gradients in another (llm.c's
/// layout), ordered in spans of parameters that share their update settings, so that zeroing
/// and clipping the gradients and each span's update are one launch over contiguous memory.
/// Creating it moves the parameters' values into its arena (checkpoint names and the model's
/// tensors are unchanged) and gives every parameter its gradient there, zeroed.
public final class ParameterArena {
    /// The parameters in arena order, span after span.
    public let parameters: [OptimizedParameter]
    /// Ranges of `parameters` whose members share their update settings.
    public let spans: [Range<Int>]
    /// The parameters' values.
    public let values: StorageArena
    /// Their gradients, at the same offsets.
    public let gradients: StorageArena
    /// The device every parameter lives on.
    public let backend: Backend
    private let gradientTensors: [Tensor]

    /// The parameters of `groups`, each group one span (empty groups are dropped).
    public init(groups: [[OptimizedParameter]]) throws {
        let kept = groups.filter { !$0.isEmpty }
        parameters = kept.flatMap { $0 }
        guard let backend = parameters.first?.tensor.backend else {
            throw TrainingError.invalidOption("an optimizer needs at least one parameter")
        }
        guard parameters.allSatisfy({ $0.tensor.backend === backend }) else {
            throw TrainingError.mismatch("an optimizer's parameters must all live on one device")
        }
        self.backend = backend
        var first = 0
        spans = kept.map { group in
            defer { first += group.count }
            return first..<(first + group.count)
        }
        let counts = parameters.map(\.tensor.elementCount)
        values = try StorageArena(counts: counts, on: backend)
        gradients = try StorageArena(counts: counts, on: backend)
        for (parameter, view) in zip(parameters, values.views) { try parameter.tensor.move(to: view) }
        gradientTensors = zip(parameters, gradients.views).map { Tensor(shape: $0.tensor.shape, storage: $1, backend: backend) }
        attachGradients()
    }

    /// Zeroes every gradient with one fill (and gives back its arena gradient to a parameter
    /// whose gradient was set to nil).
    public func zeroGradients() throws {
        attachGradients()
        try backend.fill(gradients.storage, count: gradients.storage.count, value: 0)
        for parameter in parameters { parameter.tensor.gradientWasZeroed() }
    }

    private func attachGradients() {
        for (parameter, gradient) in zip(parameters, gradientTensors) where parameter.tensor.gradient !== gradient {
            parameter.tensor.gradient = gradient
        }
    }

    /// Zeroed optimizer state (moments, momentum) for the parameters of `spans`, which must
    /// be consecutive, laid out as their values are.
    func makeState(for spans: Range<Int>) throws -> OptimizerState {
        let range = self.spans[spans.lowerBound].lowerBound..<self.spans[spans.upperBound - 1].upperBound
        return try OptimizerState(parameters: range, spans: spans.map { self.spans[$0] }, arena: self)
    }

    /// A span of the values and of the gradients, with its length in floats.
    func views(of span: Range<Int>) throws -> (values: DeviceStorage, gradients: DeviceStorage, count: Int) {
        (try values.span(span), try gradients.span(span), values.length(of: span))
    }
}

/// One optimizer buffer (a moment, a momentum) for a range of an arena's parameters, with a
/// view per parameter for checkpoints and a view per span for the updates.
struct OptimizerState {
    let storage: StorageArena
    /// The parameters (arena indices) it covers.
    let parameters: Range<Int>
    /// One view per covered span, in order.
    let spanViews: [DeviceStorage]

    init(parameters: Range<Int>, spans: [Range<Int>], arena: ParameterArena) throws {
        let storage = try StorageArena(counts: arena.parameters[parameters].map(\.tensor.elementCount), on: arena.backend)
        spanViews = try spans.map { try storage.span(($0.lowerBound - parameters.lowerBound)..<($0.upperBound - parameters.lowerBound)) }
        self.storage = storage
        self.parameters = parameters
    }

    /// The buffer of each covered parameter as a tensor named `prefix.<parameter name>`.
    func tensors(prefixed prefix: String, arena: ParameterArena) -> [(name: String, tensor: Tensor)] {
        parameters.map { index in
            let parameter = arena.parameters[index]
            let view = storage.views[index - parameters.lowerBound]
            return (prefix + "." + parameter.name, Tensor(shape: parameter.tensor.shape, storage: view, backend: arena.backend))
        }
    }
}

/// Updates parameters from their accumulated gradients, one fused launch per span of its
/// `ParameterArena`.
public protocol Optimizer: AnyObject {
    /// The parameters, their values and gradients in arena order.
    var arena: ParameterArena { get }
    /// Steps taken so far.
    var stepCount: Int { get }
    /// Applies one update at `learningRate` to every parameter.
    func step(learningRate: Float) throws
    /// The state a resumed run needs, named `<buffer>.<parameter name>`.
    var stateTensors: [(name: String, tensor: Tensor)] { get }
    /// Restores `stepCount` after the state tensors were loaded.
    func restore(stepCount: Int)
}

extension Optimizer {
    /// The parameters in update order.
    public var parameters: [OptimizedParameter] { arena.parameters }

    /// Zeroes every parameter's gradient, one launch over the gradient arena.
    public func zeroGradients() throws {
        try arena.zeroGradients()
    }
}

/// Decayed parameters first, then the others: the two spans of AdamW and SGD.
private func decayGroups(_ parameters: [OptimizedParameter]) -> [[OptimizedParameter]] {
    [parameters.filter(\.decayed), parameters.filter { !$0.decayed }]
}

/// AdamW with decoupled weight decay, PyTorch's arithmetic (`torch.optim.AdamW`), one launch
/// per span (decayed parameters, the others).
public final class AdamW: Optimizer {
    public let arena: ParameterArena
    public let betas: (Float, Float)
    public let epsilon: Float
    public let weightDecay: Float
    public private(set) var stepCount = 0
    /// The spans of `arena` this AdamW updates (Muon hands it the spans it does not update).
    private let spans: Range<Int>
    private let firstMoments: OptimizerState
    private let secondMoments: OptimizerState

    public convenience init(parameters: [OptimizedParameter], betas: (Float, Float) = (0.9, 0.999), epsilon: Float = 1e-8, weightDecay: Float = 0.05)
        throws
    {
        let arena = try ParameterArena(groups: decayGroups(parameters))
        try self.init(arena: arena, spans: arena.spans.indices, betas: betas, epsilon: epsilon, weightDecay: weightDecay)
    }

    /// An AdamW for the consecutive `spans` of `arena`.
    init(arena: ParameterArena, spans: Range<Int>, betas: (Float, Float), epsilon: Float = 1e-8, weightDecay: Float) throws {
        self.arena = arena
        self.spans = spans
        self.betas = betas
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        firstMoments = try arena.makeState(for: spans)
        secondMoments = try arena.makeState(for: spans)
    }

    public func step(learningRate: Float) throws {
        stepCount += 1
        for (position, span) in spans.enumerated() {
            let parameters = arena.spans[span]
            let (values, gradients, count) = try arena.views(of: parameters)
            let decayed = arena.parameters[parameters.lowerBound].decayed
            let settings = AdamWStep(
                learningRate: learningRate, beta1: betas.0, beta2: betas.1, epsilon: epsilon,
                weightDecay: decayed ? weightDecay : 0, step: stepCount)
            try arena.backend.kernels(AdamWKernels.self).adamW(
                parameter: values, gradient: gradients, firstMoment: firstMoments.spanViews[position],
                secondMoment: secondMoments.spanViews[position], count: count, step: settings)
        }
    }

    public var stateTensors: [(name: String, tensor: Tensor)] {
        firstMoments.tensors(prefixed: "exp_avg", arena: arena) + secondMoments.tensors(prefixed: "exp_avg_sq", arena: arena)
    }

    public func restore(stepCount: Int) { self.stepCount = stepCount }
}

/// SGD with momentum and L2 weight decay (`torch.optim.SGD(momentum:weight_decay:)`), one
/// launch per span.
public final class SGD: Optimizer {
    public let arena: ParameterArena
    public let momentum: Float
    public let weightDecay: Float
    public private(set) var stepCount = 0
    private let velocities: OptimizerState

    public init(parameters: [OptimizedParameter], momentum: Float = 0.9, weightDecay: Float = 5e-4) throws {
        arena = try ParameterArena(groups: decayGroups(parameters))
        self.momentum = momentum
        self.weightDecay = weightDecay
        velocities = try arena.makeState(for: arena.spans.indices)
    }

    public func step(learningRate: Float) throws {
        stepCount += 1
        for (position, span) in arena.spans.enumerated() {
            let (values, gradients, count) = try arena.views(of: span)
            let decayed = arena.parameters[span.lowerBound].decayed
            try arena.backend.kernels(SGDKernels.self).sgd(
                parameter: values, gradient: gradients, velocity: velocities.spanViews[position], count: count,
                learningRate: learningRate, momentum: momentum, weightDecay: decayed ? weightDecay : 0)
        }
    }

    public var stateTensors: [(name: String, tensor: Tensor)] {
        velocities.tensors(prefixed: "momentum_buffer", arena: arena)
    }

    public func restore(stepCount: Int) { self.stepCount = stepCount }
}

/// Scales all gradients of `arena` so their joint L2 norm is at most `maximumNorm` (PyTorch's
/// `clip_grad_norm_`: factor `min(1, maximumNorm / (norm + 1e-6))`), with a few launches over
/// the whole gradient arena. The norm and the factor stay on the device; returns the squared
/// norm before clipping, a device scalar.
@discardableResult
public func clipGradientNorm(_ arena: ParameterArena, maximumNorm: Float) throws -> Tensor {
    let storage = arena.gradients.storage
    let gradients = Tensor(shape: [storage.count], storage: storage, backend: arena.backend)
    let squares = try GradientMode.withoutGradient { try (gradients * gradients).sum() }
    try arena.backend.pointwise(
        .scaleByNorm(squaredNorms: squares.storage, block: storage.count, numerator: maximumNorm, epsilon: 1e-6, atMostOne: true), storage,
        output: storage, count: storage.count)
    return squares
}

/// Linear warm-up from 0 to the peak rate over `warmupSteps`, then a cosine decay to
/// `minimumRate` at `totalSteps` (timm's `CosineLRScheduler` per step).
public struct LearningRateSchedule: Sendable {
    public let peakRate: Float
    public let minimumRate: Float
    public let warmupSteps: Int
    public let totalSteps: Int

    public init(peakRate: Float, minimumRate: Float = 1e-6, warmupSteps: Int, totalSteps: Int) {
        self.peakRate = peakRate
        self.minimumRate = minimumRate
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The rate of 0-based step `step`.
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peakRate * Float(step + 1) / Float(warmupSteps) }
        let span = max(totalSteps - warmupSteps, 1)
        let progress = min(Double(step - warmupSteps) / Double(span), 1)
        return minimumRate + (peakRate - minimumRate) * Float(0.5 * (1 + cos(Double.pi * progress)))
    }
}

/// Muon (Jordan et al. 2024) for the matrices of the transformer blocks, AdamW for everything
/// else (patch embedding, head, position embedding, class token, biases, norms), as its
/// authors use it. A block matrix's update is its Nesterov momentum orthogonalised by five
/// Newton-Schulz iterations, so that every direction of the update moves at a similar rate
/// instead of the few that dominate the gradient. The update is scaled by
/// 0.2 sqrt(max(rows, columns)) (Liu et al. 2025, "Muon is scalable for LLM training") so
/// that its root mean square matches AdamW's and both groups share one learning rate and
/// weight decay (decoupled).
///
/// A step is a few launches whatever the number of matrices: one momentum pass writes every
/// matrix's Nesterov direction into its slot of a Newton-Schulz batch (`MuonMatrix`: tall,
/// a wide matrix transposed, padded with zero rows to the batch's longest matrix), each
/// batch of matrices sharing their short side is orthogonalised by strided-batched GEMMs
/// (`NewtonSchulzWork`), and one pass applies every update from the slots. The ViT's block
/// matrices all have the width as their short side, so they form one batch.
public final class Muon: Optimizer {
    public let arena: ParameterArena
    public let momentum: Float
    public let weightDecay: Float
    public private(set) var stepCount = 0
    /// The block matrices: `0..<matrixSpans` of the arena, one span per decay setting.
    private let matrixSpans: Int
    private let buffers: OptimizerState
    /// Every matrix's place in the arenas and in `batches`' work buffer.
    private let table: MuonMatrixTable?
    /// One Newton-Schulz batch per short side, in one work buffer.
    private let batches: [NewtonSchulzWork]
    private let work: DeviceStorage?
    private let adamW: AdamW

    /// The quintic Newton-Schulz coefficients of the reference implementation: they drive
    /// every singular value into roughly [0.7, 1.2] in five steps.
    static let newtonSchulzCoefficients: (a: Float, b: Float, c: Float) = (3.4445, -4.7750, 2.0315)
    /// At least 2: the last step writes into the matrix the first one read.
    static let newtonSchulzSteps = 5
    /// The reference's epsilon in X / (|X| + epsilon).
    static let normalizationEpsilon: Float = 1e-7

    public init(parameters: [OptimizedParameter], momentum: Float = 0.95, adamBeta2: Float = 0.999, weightDecay: Float = 0.05) throws {
        self.momentum = momentum
        self.weightDecay = weightDecay
        let isMatrix = { (parameter: OptimizedParameter) in parameter.name.hasPrefix("blocks.") && parameter.tensor.shape.rank == 2 }
        let matrices = parameters.filter(isMatrix)
        let others = parameters.filter { !isMatrix($0) }
        let matrixGroups = decayGroups(matrices).filter { !$0.isEmpty }
        let arena = try ParameterArena(groups: matrixGroups + decayGroups(others))
        self.arena = arena
        matrixSpans = matrixGroups.count
        let backend = arena.backend
        let matrixCount = matrixSpans > 0 ? arena.spans[matrixSpans - 1].upperBound : 0
        // One batch per short side, in order of first appearance, its slots as long as its longest matrix.
        let shortSide = { (index: Int) in arena.parameters[index].tensor.shape.dimensions.min() ?? 0 }
        let longSide = { (index: Int) in arena.parameters[index].tensor.shape.dimensions.max() ?? 0 }
        var sides: [Int] = []
        for index in 0..<matrixCount where !sides.contains(shortSide(index)) { sides.append(shortSide(index)) }
        let alignment = backend.viewAlignment
        var slots: [Int: (offset: Int, stride: Int)] = [:]
        var workLength = 0
        var batchShapes: [(side: Int, long: Int, matrices: Int, offset: Int, stride: Int)] = []
        for side in sides {
            let members = (0..<matrixCount).filter { shortSide($0) == side }
            let long = members.map(longSide).max() ?? 0
            let stride = (long * side + alignment - 1) / alignment * alignment
            for (position, member) in members.enumerated() { slots[member] = (workLength + position * stride, stride) }
            batchShapes.append((side, long, members.count, workLength, stride))
            workLength += members.count * stride
        }
        if matrixCount > 0 {
            let work = try backend.allocate(count: workLength)
            // Padding rows and the gaps between slots stay zero.
            try backend.fill(work, count: workLength, value: 0)
            self.work = work
            batches = try batchShapes.map { shape in
                try NewtonSchulzWork(
                    matrices: shape.matrices, stride: shape.stride, long: shape.long, side: shape.side,
                    input: try backend.view(of: work, offset: shape.offset, count: shape.matrices * shape.stride), on: backend)
            }
            table = try MuonMatrixTable(
                matrices: (0..<matrixCount).map { index in
                    let parameter = arena.parameters[index]
                    let (rows, columns) = (parameter.tensor.shape[0], parameter.tensor.shape[1])
                    return MuonMatrix(
                        offset: arena.values.offsets[index], rows: rows, columns: columns, slotOffset: slots[index]!.offset,
                        updateScale: 0.2 * Float(max(rows, columns)).squareRoot(), decayed: parameter.decayed)
                }, on: backend)
        } else {
            (work, batches, table) = (nil, [], nil)
        }
        buffers = try arena.makeState(for: 0..<max(matrixSpans, 1))
        adamW = try AdamW(arena: arena, spans: matrixSpans..<arena.spans.count, betas: (0.9, adamBeta2), weightDecay: weightDecay)
    }

    public func step(learningRate: Float) throws {
        stepCount += 1
        try adamW.step(learningRate: learningRate)
        guard let table, let work else { return }
        let backend = arena.backend
        try backend.kernels(MuonKernels.self).muonMomentum(
            gradient: arena.gradients.storage, buffer: buffers.storage.storage, work: work, table: table, momentum: momentum)
        for batch in batches { try batch.orthogonalize() }
        try backend.kernels(MuonKernels.self).muonUpdate(
            parameter: arena.values.storage, work: work, table: table, learningRate: learningRate, weightDecay: weightDecay)
    }

    /// The approximate orthogonal factor U V^T of a [rows, columns] matrix U S V^T (see
    /// `NewtonSchulzWork`), for one matrix.
    public static func orthogonalize(_ matrix: Tensor, rows: Int, columns: Int) throws -> Tensor {
        let backend = matrix.backend
        // The iteration runs on the tall orientation, in place on its own copy.
        let tall: Tensor
        if rows >= columns {
            tall = Tensor(shape: [rows, columns], storage: try backend.allocate(count: rows * columns), backend: backend)
            try backend.copy(from: matrix.storage, offset: 0, to: tall.storage, offset: 0, count: rows * columns)
        } else {
            tall = try matrix.reshaped([rows, columns]).permuted([1, 0])
        }
        let (long, side) = (max(rows, columns), min(rows, columns))
        try NewtonSchulzWork(matrices: 1, stride: long * side, long: long, side: side, input: tall.storage, on: backend).orthogonalize()
        return rows >= columns ? tall : try tall.permuted([1, 0])
    }

    public var stateTensors: [(name: String, tensor: Tensor)] {
        (matrixSpans > 0 ? buffers.tensors(prefixed: "momentum_buffer", arena: arena) : []) + adamW.stateTensors
    }

    public func restore(stepCount: Int) {
        self.stepCount = stepCount
        adamW.restore(stepCount: stepCount)
    }
}

/// Newton-Schulz orthogonalisation of a batch of `matrices` tall [long, side] matrices
/// `stride` floats apart in `input`, with buffers allocated once. Each step is X <- a X +
/// X (b G + c G^2) = X P with G = X^T X, the smaller Gram matrix: one strided-batched GEMM for
/// G, one launch for P (`newtonSchulzPolynomial`) and one GEMM for X P. The first P also
/// scales X to unit Frobenius norm, from the trace of its Gram matrix (the norms stay on the
/// device), so no pass scales X itself.
struct NewtonSchulzWork {
    let matrices: Int
    let stride: Int
    let long: Int
    let side: Int
    let backend: Backend
    private let input: DeviceStorage
    private let first: DeviceStorage
    private let second: DeviceStorage
    private let gram: DeviceStorage
    private let polynomial: DeviceStorage

    init(matrices: Int, stride: Int, long: Int, side: Int, input: DeviceStorage, on backend: Backend) throws {
        (self.matrices, self.stride, self.long, self.side, self.input, self.backend) = (matrices, stride, long, side, input, backend)
        (first, second) = (try backend.allocate(count: matrices * stride), try backend.allocate(count: matrices * stride))
        (gram, polynomial) = (try backend.allocate(count: matrices * side * side), try backend.allocate(count: matrices * side * side))
    }

    /// Replaces the batch in `input` by its orthogonal factors.
    func orthogonalize() throws {
        let gramStride = side * side
        var current = input
        for step in 0..<Muon.newtonSchulzSteps {
            // The buffers alternate and the last step writes back into `input` (read only by
            // the first step), so a GEMM never writes the matrix it reads.
            let next = step == Muon.newtonSchulzSteps - 1 ? input : step % 2 == 0 ? first : second
            try backend.gemm(
                GemmDescriptor(
                    transposeA: true, transposeB: false, m: side, n: side, k: long, batchCount: matrices,
                    strideA: stride, strideB: stride, strideC: gramStride), a: current, b: current, c: gram)
            try backend.kernels(MuonKernels.self).newtonSchulzPolynomial(
                gram: gram, polynomial: polynomial, matrices: matrices, side: side, coefficients: Muon.newtonSchulzCoefficients,
                normalize: step == 0, epsilon: Muon.normalizationEpsilon)
            try backend.gemm(
                GemmDescriptor(
                    transposeA: false, transposeB: false, m: long, n: side, k: side, batchCount: matrices,
                    strideA: stride, strideB: gramStride, strideC: stride), a: current, b: polynomial, c: next)
            current = next
        }
    }
}
