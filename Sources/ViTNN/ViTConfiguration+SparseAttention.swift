import ViTCore

extension ViTConfiguration {
    /// The sparse mechanisms (they run on the sparse attention kernels).
    static let sparseAttentionKinds: Set<AttentionKind> = [.fibottention, .dilated, .axial]

    /// Checks the sparse mechanisms' fields; part of `validate()`.
    func validateSparseAttention() throws {
        func fail(_ detail: String) -> ViTError { .invalidArgument(operation: "config", detail: detail) }
        guard fibWindowMinimum >= 1 else { throw fail("fib_wmin (--fib-wmin) must be at least 1, got \(fibWindowMinimum)") }
        if let fibWindowMaximum {
            guard fibWindowMaximum >= 1 else { throw fail("fib_wmax (--fib-wmax) must be at least 1, got \(fibWindowMaximum)") }
            guard fibWindowMinimum <= fibWindowMaximum else {
                throw fail("fib_wmin \(fibWindowMinimum) (--fib-wmin) exceeds fib_wmax \(fibWindowMaximum) (--fib-wmax)")
            }
        }
        guard SparseAttentionMaskMode(rawValue: fibMaskMode) != nil else {
            throw fail("unknown fib_mask_mode (--fib-mask-mode) '\(fibMaskMode)'; choose one of "
                + SparseAttentionMaskMode.allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard dilatedWindow >= 1, dilatedWindow % 2 == 1 else {
            throw fail("dilated_window (--dilated-window) must be an odd number of at least 1 (the window is centred on its patch), got \(dilatedWindow)")
        }
        if let rate = dilationRates.first(where: { $0 < 1 }) {
            throw fail("dilation_rates (--dilation-rates) must all be at least 1, got \(rate)")
        }
        guard [AttentionKind.dilated, .fibottention].contains(AttentionKind(rawValue: hybridLocal)) else {
            throw fail("unknown hybrid_local (--hybrid-local) '\(hybridLocal)'; choose dilated or fibottention")
        }
        guard [AttentionKind.linear, .performer].contains(AttentionKind(rawValue: hybridGlobal)) else {
            throw fail("unknown hybrid_global (--hybrid-global) '\(hybridGlobal)'; choose linear or performer")
        }
        guard let chosen = AttentionKind(rawValue: attentionType) else { return }
        // Hybrid's local heads run on the sparse kernels too, with their own checks.
        let kind = chosen == .hybrid ? AttentionKind(rawValue: hybridLocal) ?? chosen : chosen
        guard Self.sparseAttentionKinds.contains(kind) else { return }
        guard attentionProbsDropoutProb == 0 else {
            throw fail("attention_probs_dropout_prob must be 0 with \(attentionType) attention (the sparse kernels do not drop "
                + "attention probabilities), got \(attentionProbsDropoutProb)")
        }
        if kind == .fibottention && fibWindowMaximum == nil && fibWindowMinimum > Fibottention.defaultMaximumWindow(patches: patchCount) {
            throw fail("fib_wmin \(fibWindowMinimum) (--fib-wmin) exceeds the default largest window N // 3 = "
                + "\(Fibottention.defaultMaximumWindow(patches: patchCount)) for \(patchCount) patches; lower --fib-wmin or set --fib-wmax")
        }
    }
}

/// Builds the sparse mechanisms' cores.
enum SparseAttentionFactory {
    static func makeCore(_ kind: AttentionKind, configuration: ViTConfiguration, layer: Int) throws -> AttentionCore {
        try configuration.validateSparseAttention()
        let heads = configuration.numAttentionHeads
        switch kind {
        case .fibottention:
            let mode = SparseAttentionMaskMode(rawValue: configuration.fibMaskMode) ?? .zero
            return SparseAttentionCore(name: kind.rawValue, mode: mode) { tokens in
                [try Fibottention.pattern(tokens: tokens, heads: heads, layer: layer, minimumWindow: configuration.fibWindowMinimum,
                                          maximumWindow: configuration.fibWindowMaximum, modified: configuration.fibModified)]
            }
        case .dilated:
            let rates = configuration.dilationRates.isEmpty ? Array(1...heads) : configuration.dilationRates
            return SparseAttentionCore(name: kind.rawValue, mode: .negativeInfinity) { tokens in
                [try SparsePatterns.dilated(tokens: tokens, heads: heads, window: configuration.dilatedWindow, rates: rates)]
            }
        case .axial:
            return SparseAttentionCore(name: kind.rawValue, mode: .negativeInfinity) { tokens in
                let passes = try SparsePatterns.axial(tokens: tokens, heads: heads)
                return [passes.rows, passes.columns]
            }
        default:
            throw ViTError.invalidArgument(operation: "attention", detail: "\(kind.rawValue) is not a sparse mechanism")
        }
    }
}
