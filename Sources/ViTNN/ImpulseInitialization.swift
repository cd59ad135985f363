import COpenBLAS
import ViTCore

/// Impulse initialisation of self-attention (Zheng, Li, Saratchandran and Lucey, "Structured
/// Initialization for Vision Transformers", NeurIPS 2025): every head starts as one tap of a
/// 3 x 3 convolution, attending from each patch to one neighbour (the centre, then the four
/// edge neighbours, then the corners, cycled over the heads), through the position embedding.
/// A convolution's locality, a prior that small data sets reward, becomes a starting point
/// instead of an architecture; only the starting values differ from timm's, so the model and
/// its checkpoints are timm's.
///
/// With P the layer-normalised position embeddings of the patches ([patches, width]) and H a
/// head's target logits (a large value at each patch's neighbour, small noise elsewhere),
/// the head's W_q^T W_k is the rank-headSize part of P^+ H P^+T, so that P W_q^T W_k P^T is
/// close to H. The position embedding is scaled up so that at the start it, rather than the
/// patch content, sets each token's direction after the first layer norm.
enum ImpulseInitialization {
    /// The reference code's scales: position embedding, query and key factors (each first
    /// scaled to unit Frobenius norm), the target logit and the off-target noise.
    static let positionScale: Float = 18
    static let queryKeyScale: Float = 7
    static let targetLogit: Float = 1000
    static let noiseScale: Float = 3
    static let noiseDeviation: Float = 0.6
    /// The 3 x 3 taps in the order heads take them (row-major index in the kernel).
    static let tapOrder = [4, 1, 5, 3, 7, 0, 2, 6, 8]

    /// Scales `positionEmbedding` ([1, tokens, width], class token first) and overwrites the
    /// query, key, value and output projections of every attention in `attentions`.
    static func apply(
        to attentions: [MultiHeadAttention], positionEmbedding: Tensor, gridSide: Int, heads: Int,
        generator: inout SeededRandomGenerator
    ) throws {
        let width = positionEmbedding.shape[2]
        let headSize = width / heads
        let patches = gridSide * gridSide
        let position = try positionEmbedding.toArray().map { $0 * positionScale }
        try AttentionFactorization.write(position, to: positionEmbedding)
        let normalized = layerNormalizedRows(Array(position[width...]), width: width)
        // The reference code keeps headSize singular values of P^T P. At widths as small as
        // 48 with 12-wide heads that leaves the neighbour heads about 20% of their attention
        // on the target patch; twice that rank gives 75% (the centre head keeps 87%).
        let inverse = try pseudoInverse(normalized, rows: patches, columns: width, rank: min(2 * headSize, width))
        for attention in attentions {
            var query = [Float](repeating: 0, count: width * width)
            var key = [Float](repeating: 0, count: width * width)
            for head in 0..<heads {
                let logits = targetLogits(tap: tapOrder[head % tapOrder.count], gridSide: gridSide, generator: &generator)
                let product = sandwich(logits, between: inverse, width: width, patches: patches)
                var (left, right) = try AttentionFactorization.factors(of: product, size: width)
                normalizeLeadingFactors(left: &left, right: &right, width: width, rank: headSize)
                AttentionFactorization.placeHead(
                    head, headSize: headSize, width: width, left: left, right: right,
                    scale: queryKeyScale, query: &query, key: &key)
            }
            let (projection, value) = try MimeticInitialization.valueProjection(width: width, generator: &generator)
            try AttentionFactorization.write(query: query, key: key, value: value, projection: projection, to: attention)
        }
    }

    /// A head's target logits [patches, patches]: `targetLogit` where a patch's row and column
    /// offset by the tap reach a patch inside the grid, noise everywhere else.
    static func targetLogits(tap: Int, gridSide: Int, generator: inout SeededRandomGenerator) -> [Float] {
        let patches = gridSide * gridSide
        var logits = Initialization.truncatedNormal(count: patches * patches, standardDeviation: noiseDeviation, generator: &generator)
            .map { noiseScale * $0 }
        let (rowOffset, columnOffset) = (tap / 3 - 1, tap % 3 - 1)
        for row in 0..<gridSide {
            for column in 0..<gridSide {
                let (targetRow, targetColumn) = (row + rowOffset, column + columnOffset)
                guard (0..<gridSide).contains(targetRow), (0..<gridSide).contains(targetColumn) else { continue }
                logits[(row * gridSide + column) * patches + targetRow * gridSide + targetColumn] = targetLogit
            }
        }
        return logits
    }

    /// Each row normalised to zero mean and unit variance (a layer norm without its affine
    /// part, epsilon 1e-5 as timm's).
    static func layerNormalizedRows(_ values: [Float], width: Int) -> [Float] {
        var result = values
        for start in stride(from: 0, to: values.count, by: width) {
            let row = values[start..<start + width]
            let mean = row.reduce(0, +) / Float(width)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(width)
            let scale = 1 / (variance + 1e-5).squareRoot()
            for index in start..<start + width { result[index] = (values[index] - mean) * scale }
        }
        return result
    }

    /// The rank-limited pseudo-inverse (P^T P)^+ P^T ([columns, rows]) of a row-major P
    /// [rows, columns], keeping the `rank` largest singular values of P^T P.
    static func pseudoInverse(_ matrix: [Float], rows: Int, columns: Int, rank: Int) throws -> [Float] {
        var gram = [Float](repeating: 0, count: columns * columns)
        cblas_sgemm(
            CblasRowMajor, CblasTrans, CblasNoTrans, Int32(columns), Int32(columns), Int32(rows), 1,
            matrix, Int32(columns), matrix, Int32(columns), 0, &gram, Int32(columns))
        // P^T P is symmetric, U S U^T: its inverse on the leading subspace is U S^-1 U^T.
        let (u, singularValues, _) = try AttentionFactorization.decomposition(of: gram, size: columns)
        var inverseGram = [Float](repeating: 0, count: columns * columns)
        for component in 0..<rank where singularValues[component] > 0 {
            for row in 0..<columns {
                for column in 0..<columns {
                    inverseGram[row * columns + column] += u[row * columns + component] * u[column * columns + component] / singularValues[component]
                }
            }
        }
        var result = [Float](repeating: 0, count: columns * rows)
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(columns), Int32(rows), Int32(columns), 1,
            inverseGram, Int32(columns), matrix, Int32(columns), 0, &result, Int32(rows))
        return result
    }

    /// inverse x logits x inverse^T ([width, width]) for inverse [width, patches].
    static func sandwich(_ logits: [Float], between inverse: [Float], width: Int, patches: Int) -> [Float] {
        var half = [Float](repeating: 0, count: width * patches)
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(width), Int32(patches), Int32(patches), 1,
            inverse, Int32(patches), logits, Int32(patches), 0, &half, Int32(patches))
        var result = [Float](repeating: 0, count: width * width)
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(width), Int32(width), Int32(patches), 1,
            half, Int32(patches), inverse, Int32(patches), 0, &result, Int32(width))
        return result
    }

    /// Scales the first `rank` columns of `left` and rows of `right` (the parts a head keeps)
    /// to unit Frobenius norm each, as the reference code does before its query-key scale.
    static func normalizeLeadingFactors(left: inout [Float], right: inout [Float], width: Int, rank: Int) {
        var leftSquares: Float = 0
        for row in 0..<width {
            for column in 0..<rank { leftSquares += left[row * width + column] * left[row * width + column] }
        }
        let rightSquares = right[0..<rank * width].reduce(Float(0)) { $0 + $1 * $1 }
        let (leftNorm, rightNorm) = (leftSquares.squareRoot(), rightSquares.squareRoot())
        for row in 0..<width {
            for column in 0..<rank { left[row * width + column] /= leftNorm }
        }
        for index in 0..<rank * width { right[index] /= rightNorm }
    }
}
