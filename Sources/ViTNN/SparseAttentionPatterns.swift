import Foundation
import ViTCore

/// Fibottention's masks (arXiv 2406.19391), as the official code builds them: N patches (the
/// class token excluded), H heads; head i = 1...H keeps the offsets of a Fibonacci sequence
/// started from Wythoff's pair (a_i, b_i) and cut at its window w_i; patch j attends to
/// j +- o (on the flattened patch index, clipped at the ends); the class token's row and
/// column are dense; the heads' offset sets are shuffled per layer with Python's
/// `random.seed(layer); random.shuffle(...)`.
public enum Fibottention {
    static let goldenRatio = (1 + 5.0.squareRoot()) / 2

    /// The default largest window: N // 3.
    public static func defaultMaximumWindow(patches: Int) -> Int { patches / 3 }

    /// w_i = w_min + int((w_max - w_min) / (H - 1) (i - 1)) for head i = 1...H (w_min for H = 1).
    public static func window(head: Int, heads: Int, minimum: Int, maximum: Int) -> Int {
        guard heads > 1 else { return minimum }
        // Python's float arithmetic, then int() truncates toward zero.
        return minimum + Int(Double(maximum - minimum) / Double(heads - 1) * Double(head - 1))
    }

    /// Wythoff's pair of head i (1-based): a = floor(floor(i phi) phi), b = floor(floor(i phi) phi^2);
    /// the modified variant uses b' = b - a, a' = a - b'.
    public static func wythoffPair(head: Int, modified: Bool) -> (first: Int, second: Int) {
        let multiple = floor(Double(head) * goldenRatio)
        let a = Int(floor(multiple * goldenRatio))
        let b = Int(floor(multiple * pow(goldenRatio, 2)))
        guard modified else { return (a, b) }
        let second = b - a
        return (a - second, second)
    }

    /// The official `get_fibonacci(a, b, w)`: extends [a, b] while the last element is <= w, then
    /// drops the last element (so a is kept even when b > w).
    public static func fibonacci(_ a: Int, _ b: Int, window: Int) -> [Int] {
        var sequence = [a, b]
        while sequence[sequence.count - 1] <= window {
            sequence.append(sequence[sequence.count - 1] + sequence[sequence.count - 2])
        }
        return Array(sequence.dropLast())
    }

    /// The unshuffled offsets of every head.
    public static func headOffsets(patches: Int, heads: Int, minimumWindow: Int, maximumWindow: Int?, modified: Bool) -> [[Int]] {
        let maximum = maximumWindow ?? defaultMaximumWindow(patches: patches)
        return (1...heads).map { head in
            let (a, b) = wythoffPair(head: head, modified: modified)
            return fibonacci(a, b, window: window(head: head, heads: heads, minimum: minimumWindow, maximum: maximum))
        }
    }

    /// The head order of `layer`: Python's `random.seed(layer); random.shuffle(list(range(heads)))`.
    public static func headOrder(heads: Int, layer: Int) -> [Int] {
        var order = Array(0..<heads)
        var random = PythonRandom(seed: UInt64(layer))
        random.shuffle(&order)
        return order
    }

    /// The mask of one layer over N + 1 tokens (token 0 the class token).
    public static func pattern(tokens: Int, heads: Int, layer: Int, minimumWindow: Int, maximumWindow: Int?, modified: Bool) throws
        -> SparseAttentionPattern
    {
        let patches = tokens - 1
        let maximum = maximumWindow ?? defaultMaximumWindow(patches: patches)
        guard minimumWindow <= maximum else {
            throw ViTError.invalidArgument(
                operation: "fibottention",
                detail: "fib_wmin \(minimumWindow) exceeds the largest window \(maximum) "
                    + "(--fib-wmax, default N // 3 = \(defaultMaximumWindow(patches: patches)) for \(patches) patches); lower --fib-wmin")
        }
        let offsets = headOffsets(patches: patches, heads: heads, minimumWindow: minimumWindow, maximumWindow: maximum, modified: modified)
        let order = headOrder(heads: heads, layer: layer)
        let bands = try SparseAttentionBands(
            gridWidth: 0,
            heads: (0..<heads).map { head in
                offsets[order[head]].flatMap { [SparseAttentionBands.Band(offset: -$0), SparseAttentionBands.Band(offset: $0)] }
            })
        return try SparseAttentionPattern(bands: bands, tokens: tokens)
    }
}

/// Patterns of the other sparse mechanisms, on the square grid of patches.
public enum SparsePatterns {
    /// The side of the square patch grid of `tokens` = side^2 + 1 (class token), or an error naming `mechanism`.
    public static func gridSide(tokens: Int, mechanism: String) throws -> Int {
        let patches = tokens - 1
        let side = Int(Double(max(patches, 0)).squareRoot().rounded())
        guard patches > 0, side * side == patches else {
            throw ViTError.invalidArgument(
                operation: mechanism,
                detail: "needs a square grid of patches plus the class token, "
                    + "but \(tokens) tokens leave \(patches) patches, not a square; use a square image and a patch size that divides it")
        }
        return side
    }

    /// Dilated (atrous) attention: head h attends, around its patch, to the window x window
    /// positions spaced by its dilation rate `rates[h % rates.count]` (clipped at the grid's edges).
    public static func dilated(tokens: Int, heads: Int, window: Int, rates: [Int]) throws -> SparseAttentionPattern {
        let side = try gridSide(tokens: tokens, mechanism: "dilated")
        let reach = (window - 1) / 2
        let bands = try SparseAttentionBands(
            gridWidth: side,
            heads: (0..<heads).map { head in
                let rate = rates[head % rates.count]
                return (-reach...reach).flatMap { rowStep in
                    (-reach...reach).map { columnStep in
                        SparseAttentionBands.Band(offset: (rowStep * side + columnStep) * rate, columnShift: columnStep * rate)
                    }
                }
            })
        return try SparseAttentionPattern(bands: bands, tokens: tokens)
    }

    /// Axial attention's two passes: every patch attends to its grid row, then to its grid column.
    public static func axial(tokens: Int, heads: Int) throws -> (rows: SparseAttentionPattern, columns: SparseAttentionPattern) {
        let side = try gridSide(tokens: tokens, mechanism: "axial")
        let steps = (1 - side)...(side - 1)
        let rows = steps.map { SparseAttentionBands.Band(offset: $0, columnShift: $0) }
        let columns = steps.map { SparseAttentionBands.Band(offset: $0 * side) }
        return (
            try SparseAttentionPattern(bands: SparseAttentionBands(gridWidth: side, heads: Array(repeating: rows, count: heads)), tokens: tokens),
            try SparseAttentionPattern(bands: SparseAttentionBands(gridWidth: side, heads: Array(repeating: columns, count: heads)), tokens: tokens)
        )
    }
}
