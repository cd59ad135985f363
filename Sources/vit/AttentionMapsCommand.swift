import ArgumentParser
import Foundation
import ViTBackends
import ViTCore
import ViTData
import ViTNN
import ViTReports
import ViTSerialization

/// `vit attention-maps`: what the class token of a checkpoint attends to in a few test
/// images, per layer (or per head of one layer) and through the attention rollout, drawn
/// over the images as one PNG.
struct AttentionMapsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention-maps",
        abstract: "Draw the class token's attention over the patches of a few test images, per layer and as the rollout, as a PNG (needs gnuplot).",
        discussion: """
            One row per test image: the image, then for each layer the class token's attention over the patches averaged over the heads \
            (or, with --layer L, each head of layer L and their mean), then the attention rollout across the layers (Abnar and Zuidema \
            2020). Maps exist for every mechanism whose weights over the values are probabilities over the tokens (standard, naive, \
            the sparse ones, linear, performer, nystromformer without nystrom_conv, hybrid), at most \
            \(VisionTransformer.maximumAttentionMapTokens) tokens; for the others the command says why not.
            """
    )

    /// The most images one figure shows.
    static let maximumImages = 16

    @OptionGroup var checkpoint: CheckpointOptions
    @OptionGroup var data: DatasetOptions
    @Option(name: .long, help: "Test images to show, the first ones of the test split (1...\(maximumImages)).")
    var images = 4
    @Option(name: .long, help: ArgumentHelp("Show each head of this layer (1 is the first) instead of every layer's head mean.", valueName: "L"))
    var layer: Int?
    @Option(name: .long, help: ArgumentHelp("The PNG to write (default: attention_maps.png beside the checkpoint).", valueName: "file"))
    var output: String?
    @OptionGroup var deviceOptions: DeviceOptions

    func validate() throws {
        guard (1...Self.maximumImages).contains(images) else {
            throw ValidationError("--images must be in 1...\(Self.maximumImages), got \(images)")
        }
        if let layer, layer < 1 { throw ValidationError("--layer must be at least 1 (the first layer), got \(layer)") }
        if let output, !output.hasSuffix(".png") { throw ValidationError("--output '\(output)' must name a .png file") }
    }

    func run() throws {
        let plotter = try Gnuplot()
        let backend = try DeviceRegistry.shared.backend(for: deviceOptions.resolveDevice())
        let stored = try checkpoint.read(on: backend)
        let settings = stored.configuration
        do {
            try stored.model.checkAttentionMapsAvailable()
        } catch ViTError.invalidArgument(_, let detail) {
            throw ValidationError("--checkpoint \(checkpoint.checkpoint): \(detail)")
        }
        if let layer, layer > settings.numHiddenLayers {
            throw ValidationError("--layer must be in 1...\(settings.numHiddenLayers) (the checkpoint's layers), got \(layer)")
        }
        let url = output.map { URL(fileURLWithPath: $0) } ?? stored.url.deletingLastPathComponent().appendingPathComponent("attention_maps.png")
        try FileSystem.checkWritable(url)
        let test = try stored.testSamples(data.dataset, directory: data.dataDir)
        let shown = min(images, test.count)
        let loader = try BatchLoader(source: test, batchSize: shown, prefetchCount: 0)
        let inputs = try loader.makeBatch(0, epoch: 0, order: loader.order(epoch: 0))
        let rows = try (0..<shown).map { index in
            let pixels = Array(inputs.images[(index * test.sampleSize)..<((index + 1) * test.sampleSize)])
            let image = try Tensor(pixels, shape: [1, test.channels, test.height, test.width], on: backend)
            let attention = try ClassTokenAttention(maps: stored.model.attentionMaps(image))
            let picture = try AttentionMapFigure.Image(
                channels: test.channels, height: test.height, width: test.width, pixels: test.displayImage(at: index).map { Double($0) / 255 })
            // Short enough for the column's width: the title says these are test images.
            let label = "#\(index) \(test.classNames[Int(test.label(of: index))])"
            return AttentionMapFigure.Row(label: label, image: picture, maps: attention.maps(layer: layer.map { $0 - 1 }))
        }
        let figure = AttentionMapFigure(title: title(settings: settings, dataset: test.name), rows: rows)
        try plotter.render(figure, to: url)
        print(
            "wrote \(url.path): \(rows.count) test image\(rows.count == 1 ? "" : "s") x \(rows[0].maps.count) maps (\(figure.size.width) x \(figure.size.height) pixels)"
        )
    }

    /// The figure's title lines: what is shown; data set, checkpoint and mechanism; how the
    /// mechanism's probabilities and the rollout are computed; how to read the colours.
    private func title(settings: ViTConfiguration, dataset: String) -> [String] {
        let grid = settings.imageSize / settings.patchSize
        let columns = layer.map { "each head of layer \($0) and their mean" } ?? "each layer's mean over its \(settings.numAttentionHeads) heads"
        let kind = settings.attention.kind
        return [
            "Class token attention over the \(grid) x \(grid) patches of the first \(images) test images (#index, true class): \(columns), "
                + "and the attention rollout",
            "\(dataset), checkpoint \(checkpoint.checkpoint), \(kind.rawValue) attention (\(settings.numHiddenLayers) layers, "
                + "\(settings.numAttentionHeads) heads): \(Self.weights(of: kind))",
            "Rollout (Abnar and Zuidema 2020): per layer the heads' mean over all tokens, class token included, plus the identity, rows "
                + "renormalised, the layers multiplied; shown: the class token's row over the patches (its own entry left out)",
            "Each map relative to its largest weight: red to yellow where the class token attends most, the darkened image where it does not",
        ]
    }

    /// What the maps of `kind` are.
    static func weights(of kind: AttentionKind) -> String {
        switch kind {
        case .standard, .standardSeparate, .naive: return "softmax(q k^T / sqrt(d)) probabilities"
        case .fibottention, .dilated: return "softmax probabilities over the kept (query, key) pairs"
        case .axial: return "the row pass's softmax probabilities, then the column pass's, multiplied"
        case .linear, .performer: return "the implied weights phi(q) phi(k)^T / (their sum over the keys + epsilon) of its feature map phi"
        case .nystromformer: return "the product of its three softmax matrices through the pseudo-inverse (small negative weights drawn as none)"
        case .hybrid: return "the local heads' sparse softmax probabilities and the global heads' implied linear-attention weights"
        case .linformer: return "none (its weights are no probabilities)"
        }
    }
}
