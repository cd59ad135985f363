import Foundation

/// Plain double-precision attention written straight from the papers' formulas, one head
/// at a time, materialising every matrix the formulas name. Tensors are flat row-major
/// arrays [batch, heads, tokens, headSize]. A reference remembers the quantities that the
/// implementation detaches from the gradient (Performer's stabilizers, the pseudo-inverse's
/// starting scales) at its first evaluation and holds them there afterwards, so finite
/// differences of the reference are the gradient the implementation should produce.
class AttentionReference {
    typealias Matrix = [[Double]]
    let (batch, heads, tokens, headSize): (Int, Int, Int, Int)
    /// Detached quantities, in the order the first evaluation met them.
    private var held: [Double] = []
    private var heldIndex = 0
    private var recording = true
    /// The head `attend` is computing, 0 ..< heads.
    private(set) var currentHead = 0

    init(batch: Int, heads: Int, tokens: Int, headSize: Int) {
        (self.batch, self.heads, self.tokens, self.headSize) = (batch, heads, tokens, headSize)
    }

    /// The output [batch, heads, tokens, headSize] for Q, K, V followed by any parameters.
    func callAsFunction(_ inputs: [[Double]]) -> [Double] {
        heldIndex = 0
        defer { recording = false }
        let size = tokens * headSize
        var output: [Double] = []
        for head in 0..<(batch * heads) {
            currentHead = head % heads
            let matrices = inputs[0..<3].map { flat in
                (0..<tokens).map { row in Array(flat[(head * size + row * headSize)..<(head * size + (row + 1) * headSize)]) }
            }
            output += attend(query: matrices[0], key: matrices[1], value: matrices[2], parameters: Array(inputs.dropFirst(3))).flatMap { $0 }
        }
        return output
    }

    /// One head's output; subclasses implement their mechanism.
    func attend(query: Matrix, key: Matrix, value: Matrix, parameters: [[Double]]) -> Matrix { fatalError("abstract") }

    /// `value` at the first evaluation, the value then recorded at every later one.
    func detached(_ value: Double) -> Double {
        if recording { held.append(value) }
        defer { heldIndex += 1 }
        return held[heldIndex]
    }

    static func product(_ a: Matrix, _ b: Matrix) -> Matrix {
        a.map { row in (0..<b[0].count).map { column in zip(row, b).reduce(0) { $0 + $1.0 * $1.1[column] } } }
    }

    static func transposed(_ a: Matrix) -> Matrix {
        (0..<a[0].count).map { column in a.map { $0[column] } }
    }

    static func rowSoftmax(_ a: Matrix) -> Matrix {
        a.map { row in
            let largest = row.max()!
            let exponentials = row.map { exp($0 - largest) }
            let total = exponentials.reduce(0, +)
            return exponentials.map { $0 / total }
        }
    }

    /// softmax(Q K^T / sqrt(D)) V.
    static func softmaxAttention(query: Matrix, key: Matrix, value: Matrix) -> Matrix {
        let scale = 1 / Double(query[0].count).squareRoot()
        return product(rowSoftmax(product(query, transposed(key)).map { $0.map { $0 * scale } }), value)
    }

    /// phi(Q) (phi(K)^T V) / (phi(Q) phi(K)^T 1 + epsilon), with S and z materialised.
    static func linearAttention(queryFeatures: Matrix, keyFeatures: Matrix, value: Matrix, epsilon: Double) -> Matrix {
        let state = product(transposed(keyFeatures), value)
        let keySum = transposed(keyFeatures).map { $0.reduce(0, +) }
        return queryFeatures.map { features in
            let denominator = zip(features, keySum).reduce(0) { $0 + $1.0 * $1.1 } + epsilon
            return (0..<value[0].count).map { d in zip(features, state).reduce(0) { $0 + $1.0 * $1.1[d] } / denominator }
        }
    }
}

/// Exact softmax attention.
final class SoftmaxReference: AttentionReference {
    override func attend(query: Matrix, key: Matrix, value: Matrix, parameters: [[Double]]) -> Matrix {
        Self.softmaxAttention(query: query, key: key, value: value)
    }
}

/// Katharopoulos et al.: phi = elu + 1.
final class EluLinearReference: AttentionReference {
    override func attend(query: Matrix, key: Matrix, value: Matrix, parameters: [[Double]]) -> Matrix {
        let phi = { (x: Matrix) in x.map { $0.map { $0 > 0 ? $0 + 1 : exp($0) } } }
        return Self.linearAttention(queryFeatures: phi(query), keyFeatures: phi(key), value: value, epsilon: 1e-6)
    }
}

/// Performer FAVOR+: phi(x) = exp(w.x' - |x'|^2 / 2 - stabilizer) / sqrt(M), x' = x / D^(1/4),
/// the stabilizer the largest exponent of each query row and of each head's keys.
final class PerformerReference: AttentionReference {
    let projections: Matrix

    init(projections: Matrix, batch: Int, heads: Int, tokens: Int, headSize: Int) {
        self.projections = projections
        super.init(batch: batch, heads: heads, tokens: tokens, headSize: headSize)
    }

    override func attend(query: Matrix, key: Matrix, value: Matrix, parameters: [[Double]]) -> Matrix {
        let queryExponents = exponents(query)
        let keyExponents = exponents(key)
        let queryFeatures = queryExponents.map { row in features(row, stabilizer: detached(row.max()!)) }
        let keyStabilizer = detached(keyExponents.map { $0.max()! }.max()!)
        let keyFeatures = keyExponents.map { features($0, stabilizer: keyStabilizer) }
        return Self.linearAttention(queryFeatures: queryFeatures, keyFeatures: keyFeatures, value: value, epsilon: 1e-6)
    }

    private func exponents(_ x: Matrix) -> Matrix {
        let scale = pow(Double(headSize), -0.25)
        return x.map { row in
            let scaled = row.map { $0 * scale }
            let halfNorm = scaled.reduce(0) { $0 + $1 * $1 } / 2
            return projections.map { w in zip(w, scaled).reduce(0) { $0 + $1.0 * $1.1 } - halfNorm }
        }
    }

    private func features(_ exponents: [Double], stabilizer: Double) -> [Double] {
        exponents.map { exp($0 - stabilizer) / Double(projections.count).squareRoot() }
    }
}

/// Linformer: softmax(Q (E K)^T / sqrt(D)) (F V); parameters E and F [K, N] follow Q, K, V.
final class LinformerReference: AttentionReference {
    override func attend(query: Matrix, key: Matrix, value: Matrix, parameters: [[Double]]) -> Matrix {
        let rows = { (flat: [Double]) in stride(from: 0, to: flat.count, by: self.tokens).map { Array(flat[$0..<($0 + self.tokens)]) } }
        let (keyProjection, valueProjection) = (rows(parameters[0]), rows(parameters[1]))
        return Self.softmaxAttention(query: query, key: Self.product(keyProjection, key), value: Self.product(valueProjection, value))
    }
}

/// Nystromformer: landmarks as segment means (segments floor(i N / M) ..< floor((i+1) N / M)),
/// softmax(Q K~^T / sqrt(D)) Z softmax(Q~ K^T / sqrt(D)) V with Z from 6 iterations of
/// Z <- 1/4 Z (13 I - K Z (15 I - K Z (7 I - K Z))) started at K^T / (||K||_1 ||K||_inf).
/// With `convolutionTaps`, the first parameter is the residual convolution's weight
/// [heads, 1, taps, 1], and out[n] += sum_t w[head, t] V[n + t - taps / 2] (zero outside).
final class NystromReference: AttentionReference {
    let landmarks: Int
    let convolutionTaps: Int?

    init(landmarks: Int, convolutionTaps: Int? = nil, batch: Int, heads: Int, tokens: Int, headSize: Int) {
        self.landmarks = landmarks
        self.convolutionTaps = convolutionTaps
        super.init(batch: batch, heads: heads, tokens: tokens, headSize: headSize)
    }

    override func attend(query: Matrix, key: Matrix, value: Matrix, parameters: [[Double]]) -> Matrix {
        let output = attention(query: query, key: key, value: value)
        guard let taps = convolutionTaps else { return output }
        let weight = parameters[0][(currentHead * taps)..<((currentHead + 1) * taps)].map { $0 }
        return output.enumerated().map { n, row in
            row.enumerated().map { d, entry in
                (0..<taps).filter { (0..<self.tokens).contains(n + $0 - taps / 2) }.reduce(entry) { $0 + weight[$1] * value[n + $1 - taps / 2][d] }
            }
        }
    }

    private func attention(query: Matrix, key: Matrix, value: Matrix) -> Matrix {
        if landmarks >= tokens { return Self.softmaxAttention(query: query, key: key, value: value) }
        let means = { (x: Matrix) -> Matrix in
            (0..<self.landmarks).map { segment in
                let range = (segment * self.tokens / self.landmarks)..<((segment + 1) * self.tokens / self.landmarks)
                return (0..<self.headSize).map { d in range.reduce(0) { $0 + x[$1][d] } / Double(range.count) }
            }
        }
        let (queryLandmarks, keyLandmarks) = (means(query), means(key))
        let scale = 1 / Double(headSize).squareRoot()
        let kernel = { (a: Matrix, b: Matrix) in Self.rowSoftmax(Self.product(a, Self.transposed(b)).map { $0.map { $0 * scale } }) }
        let landmarkKernel = kernel(queryLandmarks, keyLandmarks)
        return Self.product(
            Self.product(kernel(query, keyLandmarks), pseudoInverse(landmarkKernel)), Self.product(kernel(queryLandmarks, key), value))
    }

    private func pseudoInverse(_ k: Matrix) -> Matrix {
        let m = k.count
        let largestColumn = Self.transposed(k).map { $0.reduce(0) { $0 + abs($1) } }.max()!
        let largestRow = k.map { $0.reduce(0) { $0 + abs($1) } }.max()!
        let start = detached(1 / (largestColumn * largestRow))
        var z = Self.transposed(k).map { $0.map { $0 * start } }
        let minus = { (multiple: Double, x: Matrix) in
            (0..<m).map { i in (0..<m).map { j in (i == j ? multiple : 0) - x[i][j] } }
        }
        for _ in 0..<6 {
            let kz = Self.product(k, z)
            z = Self.product(z, minus(13, Self.product(kz, minus(15, Self.product(kz, minus(7, kz)))))).map { $0.map { $0 / 4 } }
        }
        return z
    }
}
