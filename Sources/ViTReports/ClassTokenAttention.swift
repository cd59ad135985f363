import ViTCore

/// What the class token attends to in one image: its row of every layer's and head's
/// attention probabilities over the patches, and its row of the attention rollout.
public struct ClassTokenAttention: Equatable, Sendable {
    /// [layer][head][patch]: the class token's attention to each patch (its attention to
    /// itself, entry 0 of the row, is left out, so a row sums to 1 less that share).
    public let layers: [[[Double]]]
    /// [patch]: the class token's row of the rollout over the patches (its own entry left out).
    public let rollout: [Double]

    /// From the attention maps of one image, [1, heads, tokens, tokens] per layer (as
    /// `VisionTransformer.attentionMaps` gives them), the class token first.
    public init(maps: [Tensor]) throws {
        guard let shape = maps.first?.shape, shape.rank == 4, shape[0] == 1, shape[2] == shape[3], maps.allSatisfy({ $0.shape == shape }) else {
            throw ViTError.shapeMismatch(
                operation: "class token attention", detail: "needs one [1, heads, tokens, tokens] map per layer, got \(maps.map(\.shape))")
        }
        let (heads, tokens) = (shape[1], shape[2])
        var layers: [[[Double]]] = []
        var headMeans: [[Double]] = []
        for map in maps {
            let values = try map.toArray().map(Double.init)
            let size = tokens * tokens
            layers.append((0..<heads).map { head in Array(values[(head * size + 1)..<(head * size + tokens)]) })
            headMeans.append((0..<size).map { index in (0..<heads).reduce(0) { $0 + values[$1 * size + index] } / Double(heads) })
        }
        self.layers = layers
        rollout = Array(AttentionRollout.rollout(headMeans, tokens: tokens)[1..<tokens])
    }

    /// The class token's attention over the patches in `layer`, averaged over its heads.
    public func headMean(layer: Int) -> [Double] {
        let heads = layers[layer]
        return heads[0].indices.map { patch in heads.reduce(0) { $0 + $1[patch] } / Double(heads.count) }
    }
}

extension ClassTokenAttention {
    /// The columns of a figure row: every layer's head mean then the rollout; or, for one
    /// `layer` (0-based), each of its heads, their mean and the rollout.
    public func maps(layer: Int? = nil) -> [AttentionMapFigure.Map] {
        let rolloutMap = AttentionMapFigure.Map(title: "rollout, all layers", weights: rollout)
        guard let layer else {
            return layers.indices.map { AttentionMapFigure.Map(title: "layer \($0 + 1), head mean", weights: headMean(layer: $0)) } + [rolloutMap]
        }
        let heads = layers[layer].indices.map { AttentionMapFigure.Map(title: "layer \(layer + 1), head \($0 + 1)", weights: layers[layer][$0]) }
        return heads + [AttentionMapFigure.Map(title: "layer \(layer + 1), head mean", weights: headMean(layer: layer)), rolloutMap]
    }
}
