import Foundation
import ViTCore
import ViTData
import ViTNN

/// One image's most probable classes.
public struct Prediction: Codable, Sendable, Equatable {
    /// A class with its softmax probability.
    public struct Entry: Codable, Sendable, Equatable {
        public let index: Int
        public let name: String
        public let probability: Double
    }

    public let file: String
    /// The top classes, most probable first (ties: the lower index first).
    public let classes: [Entry]
}

/// Classifies image files with a model: each file decoded and prepared as the evaluation
/// pipeline prepares an image folder's (`ImageFileSamples` with `training` false), then one
/// forward pass per `batchSize` images and a softmax over the logits.
public enum ImageClassifier {
    /// The `top` most probable classes of each of `files` (named by `classNames`, one per
    /// class of the model), its inputs prepared by `preprocessing`.
    public static func classify(
        files: [String], model: VisionTransformer, preprocessing: ImagePreprocessing, classNames: [String], top: Int, batchSize: Int = 32
    ) throws -> [Prediction] {
        let configuration = model.configuration
        guard classNames.count == configuration.numClasses else {
            throw TrainingError.mismatch("\(classNames.count) class names for the model's \(configuration.numClasses) classes")
        }
        let split = ImageFolderSplit(
            name: "images", folder: ".", files: files, labels: [Int32](repeating: 0, count: files.count), classNames: classNames)
        let samples = try ImageFileSamples(
            split: split, preprocessing: preprocessing, size: configuration.imageSize, channels: configuration.numChannels, training: false)
        let loader = try BatchLoader(source: samples, batchSize: batchSize, prefetchCount: 0)
        var predictions: [Prediction] = []
        try GradientMode.withoutGradient {
            let batches = loader.epoch(0)
            while let batch = try batches.nextBatch() {
                let images = try Tensor(batch.images, shape: Shape(batch.imageShape), on: model.backend)
                let logits = try model(images, context: ForwardContext(training: false)).toArray()
                guard logits.allSatisfy(\.isFinite) else {
                    throw TrainingError.diverged(
                        "the model's outputs for \(batch.sampleIndices.map { files[$0] }.joined(separator: ", ")) are not finite")
                }
                for (row, sample) in batch.sampleIndices.enumerated() {
                    let probabilities = softmax(Array(logits[(row * classNames.count)..<((row + 1) * classNames.count)]))
                    let ranked = probabilities.indices.sorted {
                        probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1)
                    }
                    predictions.append(
                        Prediction(
                            file: files[sample],
                            classes: ranked.prefix(top).map { Prediction.Entry(index: $0, name: classNames[$0], probability: probabilities[$0]) }))
                }
            }
        }
        return predictions
    }

    /// The softmax of `logits` in double precision, shifted by the largest for stability.
    public static func softmax(_ logits: [Float]) -> [Double] {
        let largest = Double(logits.max() ?? 0)
        let exponentials = logits.map { exp(Double($0) - largest) }
        let total = exponentials.reduce(0, +)
        return exponentials.map { $0 / total }
    }
}
