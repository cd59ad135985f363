import Foundation
import ViTCore

/// Nystromformer's hyperparameters (`nystrom_landmarks`, `nystrom_conv`).
public struct NystromformerSettings: ConfigurationSection {
    /// The landmarks M (`--nystrom-landmarks`); M >= N gives exact attention.
    public var landmarks = 32
    /// Taps of the depthwise convolution residual on V (`--nystrom-conv`, odd; the authors
    /// use 33); nil: no residual.
    public var convolutionTaps: Int?

    public init() {}

    public static var fields: [ConfigurationField<Self>] {
        [.value("nystrom_landmarks", \.landmarks), .optional("nystrom_conv", \.convolutionTaps)]
    }

    /// The most landmarks a model may have (a landmark matrix is M x M per head).
    public static let maximumLandmarks = 1 << 16

    public func validate(in configuration: ViTConfiguration) throws {
        func fail(_ detail: String) -> ViTError { .invalidArgument(operation: "config", detail: detail) }
        guard landmarks > 0 else { throw fail("nystrom_landmarks (--nystrom-landmarks) must be positive, got \(landmarks)") }
        guard landmarks <= Self.maximumLandmarks else {
            throw fail("nystrom_landmarks (--nystrom-landmarks) must be at most \(Self.maximumLandmarks), got \(landmarks)")
        }
        // Taps past twice the token count reach only the zero padding.
        let tapLimit = 2 * configuration.tokenCount + 1
        if let convolutionTaps, convolutionTaps > tapLimit {
            throw fail(
                "nystrom_conv (--nystrom-conv) must be at most \(tapLimit) taps for \(configuration.tokenCount) tokens, got \(convolutionTaps)")
        }
        if let convolutionTaps, convolutionTaps < 1 || convolutionTaps % 2 == 0 {
            throw fail(
                "nystrom_conv (--nystrom-conv) must be an odd number of taps of at least 1 (the kernel is centred on its token), got \(convolutionTaps)"
            )
        }
    }

    func makeCore(configuration: ViTConfiguration, on backend: Backend, generator: inout SeededRandomGenerator) throws -> AttentionCore {
        let convolutionWeight = try convolutionTaps.map { taps in
            try NystromCore.makeConvolutionWeight(heads: configuration.numAttentionHeads, taps: taps, on: backend, generator: &generator)
        }
        return NystromCore(
            landmarks: landmarks, headSize: configuration.headSize, dropout: configuration.attentionProbsDropoutProb,
            convolutionWeight: convolutionWeight)
    }
}

/// Nystromformer (Xiong et al. 2021): softmax attention approximated through M landmarks,
/// the means of M consecutive segments of the queries and of the keys:
/// `softmax(Q K~^T / sqrt(D)) pinv(softmax(Q~ K~^T / sqrt(D))) softmax(Q~ K^T / sqrt(D)) V`,
/// with the Moore-Penrose inverse from 6 iterations (`Tensor.pseudoInverse`). Time and
/// memory are linear in N for a fixed M. When M >= N it is exact softmax attention (with its
/// dropout on the probabilities); the approximation itself applies no attention dropout.
///
/// With a `convolutionWeight` (`--nystrom-conv TAPS`), the authors' optional residual is added to the
/// output either way: a depthwise convolution of V along the tokens, one kernel per head
/// (their `Conv2d(H, H, (taps, 1), padding=(taps // 2, 0), groups=H, bias=False)`).
public final class NystromCore: AttentionCore {
    public let landmarks: Int
    let headSize: Int
    /// The residual convolution's weight [heads, 1, taps, 1] (PyTorch's Conv2d layout), if any.
    public let convolutionWeight: Tensor?
    /// The iterations of the pseudo-inverse, as in the paper.
    public static let inverseIterations = 6
    let exact: MaterializedAttentionCore
    /// The segment-mean matrices [M, N] per token count N, made once.
    private var averagingMatrices: [Int: Tensor] = [:]

    /// `convolutionWeight`: the residual convolution's [heads, 1, taps, 1] weight (odd taps),
    /// from `makeConvolutionWeight`; nil: no residual.
    public init(landmarks: Int, headSize: Int, dropout: Float, convolutionWeight: Tensor? = nil) {
        self.landmarks = landmarks
        self.headSize = headSize
        self.convolutionWeight = convolutionWeight
        exact = MaterializedAttentionCore(dropout: dropout)
    }

    /// A residual convolution weight [heads, 1, taps, 1], drawn as PyTorch's Conv2d default
    /// (U(-b, b) with b = 1 / sqrt(taps), the fan-in).
    public static func makeConvolutionWeight(heads: Int, taps: Int, on backend: Backend, generator: inout SeededRandomGenerator) throws -> Tensor {
        let values = Initialization.uniform(count: heads * taps, bound: 1 / Float(taps).squareRoot(), generator: &generator)
        return try Tensor(values, shape: [heads, 1, taps, 1], on: backend, requiresGradient: true)
    }

    public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, context: ForwardContext) throws -> Tensor {
        guard query.shape.rank == 4, key.shape == query.shape, value.shape == query.shape else {
            throw ViTError.shapeMismatch(
                operation: "nystromformer",
                detail: "Q, K, V must all be [batch, heads, tokens, headSize], got \(query.shape), \(key.shape), \(value.shape)")
        }
        let attention = try approximateAttention(query: query, key: key, value: value, context: context)
        guard let convolutionWeight else { return attention }
        let weight = try convolutionWeight.reshaped([convolutionWeight.shape[0], convolutionWeight.shape[2]])
        return try attention + value.sequenceConvolution(weight: weight)
    }

    private func approximateAttention(query: Tensor, key: Tensor, value: Tensor, context: ForwardContext) throws -> Tensor {
        let tokens = query.shape[2]
        if landmarks >= tokens { return try exact(query: query, key: key, value: value, context: context) }
        let averaging = try averagingMatrix(tokens: tokens, on: query.backend)
        // Landmarks, transposed: (A X)^T = X^T A^T [B, H, D, M], one GEMM over every head's rows.
        let queryLandmarks = try matmul(query.permuted([0, 1, 3, 2]), averaging, transposeB: true)
        let keyLandmarks = try matmul(key.permuted([0, 1, 3, 2]), averaging, transposeB: true)
        let scale = 1 / Float(query.shape[3]).squareRoot()
        let queryToLandmarks = try matmul(query, keyLandmarks, alpha: scale).softmax()
        let landmarkKernel = try matmul(queryLandmarks, keyLandmarks, transposeA: true, alpha: scale).softmax()
        let landmarksToKeys = try matmul(queryLandmarks, key, transposeA: true, transposeB: true, alpha: scale).softmax()
        let inverse = try landmarkKernel.pseudoInverse(iterations: Self.inverseIterations)
        return try matmul(matmul(queryToLandmarks, inverse), matmul(landmarksToKeys, value))
    }

    /// A [M, N]: row i averages segment i, tokens floor(i N / M) ..< floor((i + 1) N / M). When M
    /// does not divide N the segments differ in length by one token, so every token counts
    /// once and no padding enters the means.
    private func averagingMatrix(tokens: Int, on backend: Backend) throws -> Tensor {
        if let cached = averagingMatrices[tokens], cached.backend === backend { return cached }
        var values = [Float](repeating: 0, count: landmarks * tokens)
        for segment in 0..<landmarks {
            let range = (segment * tokens / landmarks)..<((segment + 1) * tokens / landmarks)
            for token in range { values[segment * tokens + token] = 1 / Float(range.count) }
        }
        let matrix = try Tensor(values, shape: [landmarks, tokens], on: backend)
        averagingMatrices[tokens] = matrix
        return matrix
    }

    public func multiplyAccumulates(tokens: Int, width: Int) -> Int {
        let convolution = tokens * width * (convolutionWeight?.shape[2] ?? 0)
        return convolution + attentionMultiplyAccumulates(tokens: tokens, width: width)
    }

    private func attentionMultiplyAccumulates(tokens: Int, width: Int) -> Int {
        if landmarks >= tokens { return exact.multiplyAccumulates(tokens: tokens, width: width) }
        let (n, m, d) = (tokens, landmarks, headSize)
        // Per head: the landmarks (2 N M D), the three kernels (N M D + M M D + M N D), the inverse
        // (4 M^3 per iteration), K3 V (M N D), K1 pinv (N M M) and their product (N M D).
        let perHead = 6 * n * m * d + m * m * d + Self.inverseIterations * 4 * m * m * m + n * m * m
        return width / d * perHead
    }

    public var stateTensors: [(name: String, tensor: Tensor)] {
        convolutionWeight.map { [("conv.weight", $0)] } ?? []
    }

    /// Without the residual convolution the weights are the product of the three softmax
    /// matrices through the pseudo-inverse: rows sum to 1 as far as the 6 iterations invert the
    /// landmark kernel (within about 1%), and entries may be slightly negative. The convolution adds learned,
    /// signed weights of its own.
    public var attentionMapsUnavailableReason: String? {
        guard convolutionWeight != nil else { return nil }
        return "nystromformer with nystrom_conv adds a learned depthwise convolution of V to its attention, so the weights it mixes "
            + "the values with are signed and their rows do not sum to 1: it has no attention probabilities over the patches "
            + "(a model without nystrom_conv has)"
    }
}
