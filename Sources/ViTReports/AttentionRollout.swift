/// Attention rollout (Abnar and Zuidema 2020): how much each token's final representation
/// draws on each input token through every layer's attention and its residual connection.
public enum AttentionRollout {
    /// The rollout of `layers`, each layer's attention averaged over its heads as a row-major
    /// tokens x tokens matrix, first layer first: each becomes A + I with its rows renormalised
    /// to sum to 1 (the residual connection carries a token's own value through), and the
    /// rollout is their product, last layer leftmost: R = Â_L ... Â_1.
    public static func rollout(_ layers: [[Double]], tokens: Int) -> [Double] {
        precondition(layers.allSatisfy { $0.count == tokens * tokens }, "every layer's matrix is tokens x tokens")
        var result = identity(tokens)
        for layer in layers {
            result = product(withResidual(layer, tokens: tokens), result, tokens: tokens)
        }
        return result
    }

    /// A + I, each row divided by its sum.
    static func withResidual(_ matrix: [Double], tokens: Int) -> [Double] {
        var result = matrix
        for row in 0..<tokens {
            result[row * tokens + row] += 1
            let total = result[(row * tokens)..<((row + 1) * tokens)].reduce(0, +)
            for column in 0..<tokens { result[row * tokens + column] /= total }
        }
        return result
    }

    static func identity(_ tokens: Int) -> [Double] {
        var result = [Double](repeating: 0, count: tokens * tokens)
        for index in 0..<tokens { result[index * tokens + index] = 1 }
        return result
    }

    /// a b for row-major square matrices.
    static func product(_ a: [Double], _ b: [Double], tokens: Int) -> [Double] {
        var result = [Double](repeating: 0, count: tokens * tokens)
        for row in 0..<tokens {
            for middle in 0..<tokens where a[row * tokens + middle] != 0 {
                let factor = a[row * tokens + middle]
                for column in 0..<tokens { result[row * tokens + column] += factor * b[middle * tokens + column] }
            }
        }
        return result
    }
}
