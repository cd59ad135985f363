import COpenBLAS
import ViTCore

/// What the structured starts of self-attention (mimetic, impulse) share: a target matrix for
/// a head's W_q^T W_k or a block's W_proj W_v, factored by its singular value decomposition
/// into two halves of equal scale, and written into the attention's projections.
enum AttentionFactorization {
    /// Row-major factors of a row-major [size, size] matrix M = U S V^T: left = U sqrt(S),
    /// right = sqrt(S) V^T, so that left x right = M, and left[:, :r] x right[:r, :] is its best
    /// rank-r approximation.
    static func factors(of matrix: [Float], size: Int) throws -> (left: [Float], right: [Float]) {
        let (u, singularValues, vTransposed) = try decomposition(of: matrix, size: size)
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

    /// The singular value decomposition M = U S V^T of a row-major [size, size] matrix: U and
    /// V^T row-major, S descending.
    static func decomposition(of matrix: [Float], size: Int) throws -> (u: [Float], s: [Float], vTransposed: [Float]) {
        // LAPACK is column-major, so it reads the row-major M as M^T = V S U^T: what it
        // returns as U is V (so, read row-major, V^T) and what it returns as V^T is U^T (so,
        // read row-major, U).
        let (vTransposed, singularValues, u) = try singularValueDecomposition(matrix, size: size)
        return (u, singularValues, vTransposed)
    }

    /// Writes a head's query and key rows from the first `headSize` columns of `left` and rows
    /// of `right` (so that the head's W_q^T W_k is their product), each multiplied by `scale`.
    static func placeHead(
        _ head: Int, headSize: Int, width: Int, left: [Float], right: [Float], scale: Float = 1,
        query: inout [Float], key: inout [Float]
    ) {
        for row in 0..<headSize {
            let target = (head * headSize + row) * width
            for column in 0..<width {
                query[target + column] = scale * left[column * width + row]
                key[target + column] = scale * right[row * width + column]
            }
        }
    }

    /// Overwrites the query, key, value and output projection weights of `attention` (all
    /// row-major [width, width]; biases stay as they are).
    static func write(query: [Float], key: [Float], value: [Float], projection: [Float], to attention: MultiHeadAttention) throws {
        switch attention.projections {
        case .merged(let layer):
            try write(query + key + value, to: layer.weight)
        case .separate(let queryLayer, let keyLayer, let valueLayer):
            try write(query, to: queryLayer.weight)
            try write(key, to: keyLayer.weight)
            try write(value, to: valueLayer.weight)
        }
        try write(projection, to: attention.projection.weight)
    }

    static func write(_ values: [Float], to tensor: Tensor) throws {
        try values.withUnsafeBufferPointer { try tensor.backend.write($0, to: tensor.storage) }
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
            throw ViTError.invalidArgument(operation: "attention initialisation", detail: "LAPACK sgesvd failed (info \(info))")
        }
        return (u, s, vTransposed)
    }
}
