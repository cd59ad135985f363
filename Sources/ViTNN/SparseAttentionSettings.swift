import ViTCore

/// Fibottention's hyperparameters (`fib_wmin`, `fib_wmax`, `fib_modified`, `fib_mask_mode`).
public struct FibottentionSettings: ConfigurationSection {
    /// The smallest window w_min (`--fib-wmin`).
    public var minimumWindow = 5
    /// The largest window w_max (`--fib-wmax`); nil: N // 3 for N patches.
    public var maximumWindow: Int?
    /// Wythoff-modified offsets, which include offset 0 (`--fib-modified`).
    public var modified = false
    /// How masked pairs enter the softmax (`--fib-mask-mode`): logit 0 (as the official code)
    /// or -inf (true masking).
    public var maskMode = SparseAttentionMaskMode.zero

    public init() {}

    public static var fields: [ConfigurationField<Self>] {
        [
            .value("fib_wmin", \.minimumWindow), .optional("fib_wmax", \.maximumWindow), .value("fib_modified", \.modified),
            .choice("fib_mask_mode", \.maskMode, flag: "--fib-mask-mode"),
        ]
    }

    public func validate(in configuration: ViTConfiguration) throws {
        func fail(_ detail: String) -> ViTError { .invalidArgument(operation: "config", detail: detail) }
        guard minimumWindow >= 1 else { throw fail("fib_wmin (--fib-wmin) must be at least 1, got \(minimumWindow)") }
        if let maximumWindow {
            guard maximumWindow >= 1 else { throw fail("fib_wmax (--fib-wmax) must be at least 1, got \(maximumWindow)") }
            guard minimumWindow <= maximumWindow else {
                throw fail("fib_wmin \(minimumWindow) (--fib-wmin) exceeds fib_wmax \(maximumWindow) (--fib-wmax)")
            }
        }
        guard configuration.attention.sparseKind == .fibottention else { return }
        let patches = configuration.patchCount
        if maximumWindow == nil && minimumWindow > Fibottention.defaultMaximumWindow(patches: patches) {
            throw fail(
                "fib_wmin \(minimumWindow) (--fib-wmin) exceeds the default largest window N // 3 = "
                    + "\(Fibottention.defaultMaximumWindow(patches: patches)) for \(patches) patches; lower --fib-wmin or set --fib-wmax")
        }
        // An offset reaches at most N - 1 patches away, so a window past N adds nothing.
        for (field, window) in [("fib_wmin (--fib-wmin)", minimumWindow), ("fib_wmax (--fib-wmax)", maximumWindow ?? 1)] where window > patches {
            throw fail("\(field) must be at most the \(patches) patches, got \(window)")
        }
    }

    /// The core of block `layer` (the heads' offsets are shuffled per layer).
    func makeCore(configuration: ViTConfiguration, layer: Int) -> AttentionCore {
        let heads = configuration.numAttentionHeads
        return SparseAttentionCore(name: AttentionKind.fibottention.rawValue, mode: maskMode) { tokens in
            [
                try Fibottention.pattern(
                    tokens: tokens, heads: heads, layer: layer, minimumWindow: minimumWindow,
                    maximumWindow: maximumWindow, modified: modified)
            ]
        }
    }
}

/// Dilated attention's hyperparameters (`dilated_window`, `dilation_rates`).
public struct DilatedAttentionSettings: ConfigurationSection {
    /// The side of each head's square window, odd (`--dilated-window`).
    public var window = 3
    /// Dilation rates, cycled over the heads (`--dilation-rates`); empty: 1, 2, ..., H.
    public var rates: [Int] = []

    public init() {}

    public static var fields: [ConfigurationField<Self>] {
        [.value("dilated_window", \.window), .value("dilation_rates", \.rates)]
    }

    public func validate(in configuration: ViTConfiguration) throws {
        func fail(_ detail: String) -> ViTError { .invalidArgument(operation: "config", detail: detail) }
        guard window >= 1, window % 2 == 1 else {
            throw fail("dilated_window (--dilated-window) must be an odd number of at least 1 (the window is centred on its patch), got \(window)")
        }
        if let rate = rates.first(where: { $0 < 1 }) {
            throw fail("dilation_rates (--dilation-rates) must all be at least 1, got \(rate)")
        }
        // In use, the grid side bounds both: a wider window or a larger rate reaches only past the edges.
        guard configuration.attention.sparseKind == .dilated else { return }
        let side = Int(Double(configuration.patchCount).squareRoot())
        guard window <= 2 * side - 1 else {
            throw fail("dilated_window (--dilated-window) must be at most \(2 * side - 1) for the \(side)x\(side) patch grid, got \(window)")
        }
        if let rate = rates.first(where: { !(1...max(side - 1, 1)).contains($0) }) {
            throw fail("dilation_rates (--dilation-rates) must all be in 1...\(max(side - 1, 1)) for the \(side)x\(side) patch grid, got \(rate)")
        }
    }

    func makeCore(configuration: ViTConfiguration) -> AttentionCore {
        let heads = configuration.numAttentionHeads
        let rates = rates.isEmpty ? Array(1...heads) : rates
        return SparseAttentionCore(name: AttentionKind.dilated.rawValue, mode: .negativeInfinity) { tokens in
            [try SparsePatterns.dilated(tokens: tokens, heads: heads, window: window, rates: rates)]
        }
    }
}

extension SparseAttentionMaskMode: ConfigurationChoice {}
