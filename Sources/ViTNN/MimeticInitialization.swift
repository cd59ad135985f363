import COpenBLAS
import ViTCore

/// Mimetic initialisation of self-attention (Trockman and Kolter, ICML 2023): every head's
/// W_q^T W_k starts as the best rank-headSize approximation of alpha Z + beta I, and each
/// block's W_proj W_v as alpha Z - beta I, where Z has entries of variance 1/width. These
/// are the patterns of pre-trained ViTs: a token first attends to tokens like itself, and
/// through the position embedding to positions like its own, instead of to every token
/// alike. Small models on small data sets learn markedly faster from this start; only the
/// starting values differ from timm's, so the model and its checkpoints are timm's.
enum MimeticInitialization {
    /// The paper's scales for vision transformers (alpha, beta).
    static let queryKeyScales: (alpha: Float, beta: Float) = (0.7, 0.7)
    static let valueProjectionScales: (alpha: Float, beta: Float) = (0.4, 0.4)

    /// Overwrites the query, key, value and output projection weights of `attention`
    /// (biases stay zero), drawing Z from `generator`.
    static func apply(to attention: MultiHeadAttention, heads: Int, generator: inout SeededRandomGenerator) throws {
        let width = attention.projection.weight.shape[0]
        let headSize = width / heads
        var query = [Float](repeating: 0, count: width * width)
        var key = [Float](repeating: 0, count: width * width)
        for head in 0..<heads {
            // W_q^T W_k = left[:, :headSize] right[:headSize, :]: the head's query rows are
            // left's first columns, its key rows right's first rows.
            let (left, right) = try factors(size: width, scales: queryKeyScales, sign: 1, generator: &generator)
            for row in 0..<headSize {
                let target = (head * headSize + row) * width
                for column in 0..<width {
                    query[target + column] = left[column * width + row]
                    key[target + column] = right[row * width + column]
                }
            }
        }
        let (projection, value) = try factors(size: width, scales: valueProjectionScales, sign: -1, generator: &generator)
        if let merged = attention.queryKeyValue {
            try write(query + key + value, to: merged.weight)
        } else if let (queryLayer, keyLayer, valueLayer) = attention.separateProjections {
            try write(query, to: queryLayer.weight)
            try write(key, to: keyLayer.weight)
            try write(value, to: valueLayer.weight)
        }
        try write(projection, to: attention.projection.weight)
    }

    /// Row-major factors of alpha Z + sign beta I ([size, size]) from its singular value
    /// decomposition U S V^T: left = U sqrt(S), right = sqrt(S) V^T, so the two carry equal
    /// scale and left x right is the matrix (its best low-rank approximation when truncated).
    static func factors(size: Int, scales: (alpha: Float, beta: Float), sign: Float,
                        generator: inout SeededRandomGenerator) throws -> (left: [Float], right: [Float]) {
        // Uniform entries of variance 1/size, as the paper's reference code draws them.
        let bound = (3 / Float(size)).squareRoot()
        var matrix = Initialization.uniform(count: size * size, bound: bound, generator: &generator).map { scales.alpha * $0 }
        for index in 0..<size {
            matrix[index * size + index] += sign * scales.beta
        }
        // LAPACK is column-major, so it reads the row-major M as M^T = V S U^T: what it
        // returns as U is V (so, read row-major, V^T) and what it returns as V^T is U^T (so,
        // read row-major, U).
        let (vTransposed, singularValues, u) = try singularValueDecomposition(matrix, size: size)
        var left = [Float](repeating: 0, count: size * size)
        var right = [Float](repeating: 0, count: size * size)
        for row in 0..<size {
            for column in 0..<size {
                left[row * size + column] = u[row * size + column] * singularValues[column].squareRoot()
                right[row * size + column] = singularValues[row].squareRoot() * vTransposed[row * size + column]
            }
        }
        return (left, right)
    }

    /// The SVD of a column-major square matrix A = U S V^T: U and V^T column-major, S descending.
    private static func singularValueDecomposition(_ matrix: [Float], size: Int) throws -> (u: [Float], s: [Float], vTransposed: [Float]) {
        var a = matrix
        var s = [Float](repeating: 0, count: size)
        var u = [Float](repeating: 0, count: size * size)
        var vTransposed = [Float](repeating: 0, count: size * size)
        var n = Int32(size)
        var info: Int32 = 0
        var workSize: Float = 0
        var query: Int32 = -1
        sgesvd_("A", "A", &n, &n, &a, &n, &s, &u, &n, &vTransposed, &n, &workSize, &query, &info, 1, 1)
        var lwork = Int32(workSize)
        var work = [Float](repeating: 0, count: Int(lwork))
        sgesvd_("A", "A", &n, &n, &a, &n, &s, &u, &n, &vTransposed, &n, &work, &lwork, &info, 1, 1)
        guard info == 0 else {
            throw ViTError.invalidArgument(operation: "mimetic initialisation", detail: "LAPACK sgesvd failed (info \(info))")
        }
        return (u, s, vTransposed)
    }

    private static func write(_ values: [Float], to tensor: Tensor) throws {
        try values.withUnsafeBufferPointer { try tensor.backend.write($0, to: tensor.storage) }
    }
}
