import ArgumentParser
import Foundation
import ViTBackends
import ViTCore
import ViTNN
import ViTTraining

/// `vit predict`: the most probable classes of image files, prepared as the checkpoint says.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify JPEG and PNG files with a checkpoint: the top classes with names and probabilities."
    )

    @Option(name: .long, help: ArgumentHelp("The .safetensors checkpoint (of vit train, or a timm VisionTransformer).", valueName: "file"))
    var checkpoint: String
    @Option(
        name: .customLong("model"),
        help: ArgumentHelp("For a timm file without a stored configuration: its timm model name (gives the head count).", valueName: "name"))
    var preset: String?
    @Option(name: .long, help: "How many classes to show per image.")
    var top = 5
    @Flag(name: .long, help: "Print JSON (one array of {file, classes: [{index, name, probability}]}) instead of text.")
    var json = false
    @OptionGroup var deviceOptions: DeviceOptions
    @Argument(help: ArgumentHelp("The image files.", valueName: "image"))
    var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image file") }
        guard (1...1000).contains(top) else { throw ValidationError("--top must be in 1...1000, got \(top)") }
        if let preset, ModelPreset.named(preset) == nil {
            throw ValidationError("unknown --model '\(preset)'; choose one of \(ModelPreset.names.joined(separator: ", "))")
        }
    }

    func run() throws {
        let backend = try DeviceRegistry.shared.backend(for: deviceOptions.resolveDevice())
        let heads = preset.flatMap { ModelPreset.named($0)?.heads } ?? ViTConfiguration().numAttentionHeads
        let stored = try StoredModel(checkpoint: checkpoint, heads: heads, on: backend)
        let predictions = try ImageClassifier.classify(
            files: images, model: stored.model, preprocessing: stored.imagePreprocessing(), classNames: stored.classNames(),
            top: min(top, stored.configuration.numClasses))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(predictions), as: UTF8.self))
            return
        }
        for prediction in predictions {
            print(prediction.file)
            for (rank, entry) in prediction.classes.enumerated() {
                print(String(format: "  %d. %@ (class %d): %.2f%%", rank + 1, entry.name, entry.index, 100 * entry.probability))
            }
        }
    }
}
