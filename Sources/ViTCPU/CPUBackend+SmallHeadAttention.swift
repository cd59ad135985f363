import Foundation

/// The flash backward for short sequences (up to `smallHeadTokens`, such as the seed ViT's
/// 65 tokens): each (batch, head) is one tile, and the tile products go through
/// `SmallProduct` instead of OpenBLAS, whose setup per call outweighs 65 x 65 x 12
/// multiply-adds. The operands are copied once per head into buffers padded to a multiple
/// of 8 columns (K and V also transposed), the layout `SmallProduct` reads; the N x N tile
/// is the only score memory, as in the tiled path.
extension CPUBackend {
    /// Sequences up to this length take the one-tile path.
    static var smallHeadTokens: Int { 128 }

    /// Calls `body` for every (batch, head) pair, spread over the cores, each thread with
    /// buffers of its own.
    static func forEachSmallHead(_ pairs: Int, tokens: Int, headSize: Int, _ body: (Int, SmallHeadScratch) -> Void) {
        Parallel.forEachChunk(pairs, grain: 1) { range in
            let scratch = SmallHeadScratch(tokens: tokens, headSize: headSize)
            for pair in range { body(pair, scratch) }
        }
    }

    static func smallHeadBackward(
        pair: Int, heads: Int, tokens: Int, headSize d: Int, scale: Float,
        query: UnsafeMutablePointer<Float>, key: UnsafeMutablePointer<Float>, value: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
        queryGradient: UnsafeMutablePointer<Float>, keyGradient: UnsafeMutablePointer<Float>, valueGradient: UnsafeMutablePointer<Float>,
        scratch: SmallHeadScratch
    ) {
        let (base, width, depth) = (pair * tokens * d, scratch.paddedTokens, scratch.paddedHeadSize)
        scratch.transpose(value + base, into: scratch.valueTransposed)
        scratch.pad(query + base, into: scratch.queryPadded)
        scratch.pad(key + base, into: scratch.keyPadded)
        scratch.pad(outputGradient + base, into: scratch.outputGradientPadded)
        scratch.pad(output + base, into: scratch.outputPadded)
        // P = exp(S - L).
        scratch.computeScores(query: query + base, key: key + base, bias: bias.map { $0 + (pair % heads) * tokens * tokens }, scale: scale)
        for row in 0..<tokens {
            _ = exponentiate(scratch.scores + row * width, count: width, shift: logSumExp[pair * tokens + row])
        }
        // dV = P^T dO.
        SmallProduct.multiply(rows: tokens, columns: depth, depth: tokens, alpha: 1, a: scratch.scores, aRowStride: 1, aDepthStride: width,
                              b: scratch.outputGradientPadded, bStride: depth, c: scratch.valueGradient, cStride: depth)
        // dP = dO V^T, then dS = P (dP - D) with D_i = rowsum(dO_i * O_i).
        SmallProduct.multiply(rows: tokens, columns: width, depth: d, alpha: 1, a: outputGradient + base, aRowStride: d, aDepthStride: 1,
                              b: scratch.valueTransposed, bStride: width, c: scratch.scoreGradient, cStride: width)
        for row in 0..<tokens {
            let rowDot = VectorMath.dot(scratch.outputGradientPadded + row * depth, scratch.outputPadded + row * depth, count: depth)
            let (p, ds) = (scratch.scores + row * width, scratch.scoreGradient + row * width)
            for column in 0..<width { ds[column] = p[column] * (ds[column] - rowDot) }
        }
        // dQ = scale dS K; dK = scale dS^T Q.
        SmallProduct.multiply(rows: tokens, columns: depth, depth: tokens, alpha: scale, a: scratch.scoreGradient, aRowStride: width, aDepthStride: 1,
                              b: scratch.keyPadded, bStride: depth, c: scratch.queryGradient, cStride: depth)
        SmallProduct.multiply(rows: tokens, columns: depth, depth: tokens, alpha: scale, a: scratch.scoreGradient, aRowStride: 1, aDepthStride: width,
                              b: scratch.queryPadded, bStride: depth, c: scratch.keyGradient, cStride: depth)
        // Unpadded into the outputs (a local function, not an array of pairs: no allocation per head).
        func unpad(_ source: UnsafeMutablePointer<Float>, into target: UnsafeMutablePointer<Float>) {
            for row in 0..<tokens { (target + base + row * d).update(from: source + row * depth, count: d) }
        }
        unpad(scratch.queryGradient, into: queryGradient)
        unpad(scratch.keyGradient, into: keyGradient)
        unpad(scratch.valueGradient, into: valueGradient)
    }
}

/// One thread's buffers for `smallHeadBackward`: operands padded to
/// `paddedHeadSize` columns (K and V also transposed, to `paddedTokens` columns), the score
/// and score-gradient tiles, and padded results. The operands' padding columns are zeroed
/// once and never written, so every head's copies leave them zero.
final class SmallHeadScratch {
    let tokens: Int
    let headSize: Int
    let paddedTokens: Int
    let paddedHeadSize: Int
    let keyTransposed, valueTransposed, queryPadded, keyPadded, outputPadded, outputGradientPadded: UnsafeMutablePointer<Float>
    let scores, scoreGradient, queryGradient, keyGradient, valueGradient: UnsafeMutablePointer<Float>
    private let memory: UnsafeMutablePointer<Float>

    init(tokens: Int, headSize: Int) {
        self.tokens = tokens
        self.headSize = headSize
        paddedTokens = (tokens + 7) / 8 * 8
        paddedHeadSize = (headSize + 7) / 8 * 8
        let (transposedSize, paddedSize, tileSize) = (headSize * paddedTokens, tokens * paddedHeadSize, tokens * paddedTokens)
        let sizes = [transposedSize, transposedSize, paddedSize, paddedSize, paddedSize, paddedSize,
                     tileSize, tileSize, paddedSize, paddedSize, paddedSize]
        memory = .allocate(capacity: sizes.reduce(0, +))
        memory.initialize(repeating: 0, count: sizes.reduce(0, +))
        var starts: [UnsafeMutablePointer<Float>] = []
        var next = memory
        for size in sizes {
            starts.append(next)
            next += size
        }
        (keyTransposed, valueTransposed, queryPadded, keyPadded, outputPadded, outputGradientPadded)
            = (starts[0], starts[1], starts[2], starts[3], starts[4], starts[5])
        (scores, scoreGradient, queryGradient, keyGradient, valueGradient) = (starts[6], starts[7], starts[8], starts[9], starts[10])
    }

    deinit { memory.deallocate() }

    /// Rows [tokens x headSize] into [headSize x paddedTokens].
    func transpose(_ source: UnsafeMutablePointer<Float>, into target: UnsafeMutablePointer<Float>) {
        for token in 0..<tokens {
            for column in 0..<headSize { target[column * paddedTokens + token] = source[token * headSize + column] }
        }
    }

    /// The score tile S = scale Q K^T (+ bias [tokens x tokens]) of one head, with -inf in its
    /// padding columns, so that the row passes run over whole vectors (`paddedTokens`): the
    /// padding adds nothing to a row's maximum and exponentiates to 0.
    func computeScores(query: UnsafeMutablePointer<Float>, key: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, scale: Float) {
        transpose(key, into: keyTransposed)
        SmallProduct.multiply(rows: tokens, columns: paddedTokens, depth: headSize, alpha: scale, a: query, aRowStride: headSize, aDepthStride: 1,
                              b: keyTransposed, bStride: paddedTokens, c: scores, cStride: paddedTokens)
        if let bias { CPUBackend.addBias(bias, biasStride: tokens, to: scores, stride: paddedTokens, rows: tokens, columns: tokens) }
        guard paddedTokens > tokens else { return }
        for row in 0..<tokens { (scores + row * paddedTokens + tokens).update(repeating: -.infinity, count: paddedTokens - tokens) }
    }

    /// Rows [tokens x headSize] into [tokens x paddedHeadSize].
    func pad(_ source: UnsafeMutablePointer<Float>, into target: UnsafeMutablePointer<Float>) {
        for token in 0..<tokens { VectorMath.copy(source + token * headSize, to: target + token * paddedHeadSize, count: headSize) }
    }
}
