import ArgumentParser
import Foundation
import ViTData

/// Image-folder throughput: decoded, cropped, flipped and normalised images per second of the
/// train pipeline (RandomResizedCrop) and the eval pipeline (resize, center crop), through
/// `BatchLoader` with `--workers` threads, as `vit train` reads them. Every file is read once
/// first, so both pipelines are timed from the page cache, as Tools/torchvision_data_bench.py
/// times torchvision's.
struct DataBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Images per second of the image-folder train and eval pipelines."
    )

    @Option(name: .long, help: "The image folder (train/ and val/).")
    var dataDir: String
    @Option(name: .long, help: "Output side in pixels.")
    var imageSize = 224
    @Option(name: .long, help: "Decoding threads.")
    var workers = 1
    @Option(name: .long, help: "Images per batch.")
    var batchSize = 32
    @Option(name: .long, help: "At most this many images of each split (default: all).")
    var limit: Int?
    @Flag(name: .long, inversion: .prefixedNo, help: "Decode JPEGs at reduced DCT scale where the crop allows.")
    var dctScaling = true
    @Flag(name: .long, help: "Also print how far DCT-scaled decoding is from exact decoding (mean grey levels).")
    var compareExact = false

    func validate() throws {
        guard (1...4096).contains(imageSize) else { throw ValidationError("--image-size must be in 1...4096, got \(imageSize)") }
        guard (1...BatchLoader.maximumWorkers).contains(workers) else {
            throw ValidationError("--workers must be in 1...\(BatchLoader.maximumWorkers), got \(workers)")
        }
        guard (1...65536).contains(batchSize) else { throw ValidationError("--batch-size must be in 1...65536, got \(batchSize)") }
        if let limit, limit < 1 { throw ValidationError("--limit must be positive, got \(limit)") }
    }

    func run() throws {
        var preprocessing = ImagePreprocessing()
        preprocessing.dctScaling = dctScaling
        print("image folder \(dataDir), \(imageSize) px, batch \(batchSize), \(workers) worker(s), DCT scaling \(dctScaling ? "on" : "off")")
        for (split, training) in [(DatasetSplit.train, true), (.test, false)] {
            var files = try ImageFolder.scan(root: dataDir, split: split)
            if let limit, limit < files.count { files = files.subset((0..<limit).map { $0 * files.count / limit }) }
            for path in files.files { _ = FileManager.default.contents(atPath: path) }
            let samples = try ImageFileSamples(
                split: files, preprocessing: preprocessing, size: imageSize, channels: 3, training: training, horizontalFlip: training)
            let loader = try BatchLoader(source: samples, batchSize: batchSize, shuffle: training, seed: 1, workers: workers)
            let start = DispatchTime.now().uptimeNanoseconds
            var images = 0
            let batches = loader.epoch(0)
            while let batch = try batches.nextBatch() { images += batch.count }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            let rate = Double(images) / seconds
            print(
                String(
                    format: "%@: %d images in %.2f s, %.1f img/s total, %.1f img/s per worker", training ? "train" : "eval", images, seconds,
                    rate, rate / Double(workers)))
            if compareExact { try printDistance(samples) }
        }
    }

    /// The mean absolute difference, in grey levels, between the pipeline's pixels with DCT
    /// scaling and without, over the split's images (training crops drawn alike for both).
    private func printDistance(_ samples: ImageFileSamples) throws {
        var exactSettings = samples.preprocessing
        exactSettings.dctScaling = false
        var scaledSettings = exactSettings
        scaledSettings.dctScaling = true
        let exact = try ImageFileSamples(
            split: samples.split, preprocessing: exactSettings, size: imageSize, channels: 3, training: samples.training)
        let scaled = try ImageFileSamples(
            split: samples.split, preprocessing: scaledSettings, size: imageSize, channels: 3, training: samples.training)
        let decoder = try ImageDecoder()
        var total = 0.0
        var count = 0
        for index in 0..<samples.count {
            let reference = try exact.prepare(index, epoch: 0, seed: 1, decoder: decoder).pixels
            let approximate = try scaled.prepare(index, epoch: 0, seed: 1, decoder: decoder).pixels
            total += zip(reference, approximate).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) }
            count += reference.count
        }
        print(String(format: "  DCT-scaled against exact decoding: %.2f grey levels mean absolute difference", total / Double(max(count, 1))))
    }
}
