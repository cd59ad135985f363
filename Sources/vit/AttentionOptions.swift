import ArgumentParser
import ViTCore
import ViTNN

extension AttentionKind: ExpressibleByArgument {}
extension SparseAttentionMaskMode: ExpressibleByArgument {}
extension HybridAttentionSettings.Local: ExpressibleByArgument {}
extension HybridAttentionSettings.Global: ExpressibleByArgument {}

/// `--attention` and every mechanism's options. An option left out keeps the
/// configuration's value (the configuration file's, or the default the help names).
struct AttentionOptions: OptionGroupApplying {
    @Option(name: .long, help: "Attention mechanism (config attention_type; default \(AttentionSettings().kind.rawValue)).")
    var attention: AttentionKind?
    @OptionGroup var mechanisms: MechanismOptions

    func apply(to settings: inout AttentionSettings) throws {
        if let attention { settings.kind = attention }
        try mechanisms.apply(to: &settings)
    }
}

/// Every mechanism's options, one group per mechanism, without the choice of mechanism
/// (`vit train` takes one, `vit compare` a list).
struct MechanismOptions: OptionGroupApplying {
    @OptionGroup var fibottention: FibottentionOptions
    @OptionGroup var dilated: DilatedAttentionOptions
    @OptionGroup var performer: PerformerOptions
    @OptionGroup var linformer: LinformerOptions
    @OptionGroup var nystromformer: NystromformerOptions
    @OptionGroup var hybrid: HybridAttentionOptions

    func apply(to settings: inout AttentionSettings) throws {
        fibottention.apply(to: &settings.fibottention)
        try dilated.apply(to: &settings.dilated)
        performer.apply(to: &settings.performer)
        linformer.apply(to: &settings.linformer)
        nystromformer.apply(to: &settings.nystromformer)
        hybrid.apply(to: &settings.hybrid)
    }
}

/// Fibottention's flags, into `FibottentionSettings`.
struct FibottentionOptions: OptionGroupApplying {
    private static let defaults = FibottentionSettings()

    @Option(name: .long, help: "Fibottention: smallest window w_min (config fib_wmin; default \(defaults.minimumWindow)).")
    var fibWmin: Int?
    @Option(name: .long, help: "Fibottention: largest window w_max (config fib_wmax; default N // 3 for N patches).")
    var fibWmax: Int?
    @Flag(name: .long, help: "Fibottention: Wythoff-modified offsets, which include offset 0 (config fib_modified).")
    var fibModified = false
    @Option(
        name: .long,
        help:
            "Fibottention: masked logits are zero (as the official code) or neg-inf (true masking) (config fib_mask_mode; default \(defaults.maskMode.rawValue))."
    )
    var fibMaskMode: SparseAttentionMaskMode?

    func apply(to settings: inout FibottentionSettings) {
        if let fibWmin { settings.minimumWindow = fibWmin }
        if let fibWmax { settings.maximumWindow = fibWmax }
        if fibModified { settings.modified = true }
        if let fibMaskMode { settings.maskMode = fibMaskMode }
    }
}

/// Dilated attention's flags, into `DilatedAttentionSettings`.
struct DilatedAttentionOptions: OptionGroupApplying {
    @Option(
        name: .long, help: "Dilated attention: odd side of each head's window (config dilated_window; default \(DilatedAttentionSettings().window)).")
    var dilatedWindow: Int?
    @Option(name: .long, help: "Dilated attention: comma-separated dilation rates cycled over the heads (config dilation_rates; default 1,2,...,H).")
    var dilationRates: String?

    func apply(to settings: inout DilatedAttentionSettings) throws {
        if let dilatedWindow { settings.window = dilatedWindow }
        if let dilationRates {
            settings.rates = try dilationRates.split(separator: ",", omittingEmptySubsequences: false).map { text in
                guard let rate = Int(text.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--dilation-rates: '\(text)' is not an integer; give comma-separated rates such as 1,2,3")
                }
                return rate
            }
        }
    }
}

/// Performer's flags, into `PerformerSettings`.
struct PerformerOptions: OptionGroupApplying {
    @Option(name: .long, help: "Performer's random features M (config performer_features; default int(D ln D) for head size D).")
    var performerFeatures: Int?
    @Option(
        name: .long,
        help:
            "Redraw Performer's random features every K training steps, 0: never (config performer_redraw; default \(PerformerSettings().redrawInterval))."
    )
    var performerRedraw: Int?

    func apply(to settings: inout PerformerSettings) {
        if let performerFeatures { settings.features = performerFeatures }
        if let performerRedraw { settings.redrawInterval = performerRedraw }
    }
}

/// Linformer's flag, into `LinformerSettings`.
struct LinformerOptions: OptionGroupApplying {
    @Option(
        name: .long,
        help: "Linformer's projected sequence length K, at most the token count (config linformer_k; default \(LinformerSettings().projectedLength))."
    )
    var linformerK: Int?

    func apply(to settings: inout LinformerSettings) {
        if let linformerK { settings.projectedLength = linformerK }
    }
}

/// Nystromformer's flags, into `NystromformerSettings`.
struct NystromformerOptions: OptionGroupApplying {
    @Option(
        name: .long,
        help:
            "Nystromformer's landmarks M; M >= tokens gives exact attention (config nystrom_landmarks; default \(NystromformerSettings().landmarks))."
    )
    var nystromLandmarks: Int?
    @Option(
        name: .long,
        help:
            "Nystromformer: add a depthwise convolution of V along the tokens with this odd number of taps; the authors use 33 (config nystrom_conv; default none)."
    )
    var nystromConv: Int?

    func apply(to settings: inout NystromformerSettings) {
        if let nystromLandmarks { settings.landmarks = nystromLandmarks }
        if let nystromConv { settings.convolutionTaps = nystromConv }
    }
}

/// Hybrid attention's flags, into `HybridAttentionSettings`.
struct HybridAttentionOptions: OptionGroupApplying {
    private static let defaults = HybridAttentionSettings()

    @Option(
        name: .long,
        help:
            "Hybrid attention: heads that attend sparsely and locally; the others attend globally (config hybrid_local_heads; default half the heads)."
    )
    var hybridLocalHeads: Int?
    @Option(
        name: .long,
        help: "Hybrid attention: the local heads' pattern, with its own options (config hybrid_local; default \(defaults.local.rawValue)).")
    var hybridLocal: HybridAttentionSettings.Local?
    @Option(
        name: .long,
        help: "Hybrid attention: the global heads' mechanism, with its own options (config hybrid_global; default \(defaults.global.rawValue)).")
    var hybridGlobal: HybridAttentionSettings.Global?

    func apply(to settings: inout HybridAttentionSettings) {
        if let hybridLocalHeads { settings.localHeads = hybridLocalHeads }
        if let hybridLocal { settings.local = hybridLocal }
        if let hybridGlobal { settings.global = hybridGlobal }
    }
}
