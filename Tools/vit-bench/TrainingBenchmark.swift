import ArgumentParser
import Foundation
import ViTBackends
import ViTCore
import ViTData
import ViTNN
import ViTTraining

/// Training throughput: `vit train`'s own step (`TrainingStep`: upload, forward, loss,
/// backward, clipping, update; AdamW unless `--optimizer` says otherwise) of a ViT on
/// synthetic images, without data loading. Reading the loss at the end of each step waits
/// for the device, so each step's time is the device's too.
struct TrainingBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "training",
        abstract: "Images per second of training steps (default: the seed ViT, 3x32x32, batch 256)."
    )

    @Option(name: .long, help: "cpu, opencl or opencl:N.")
    var device = "cpu"
    @Option(name: .long, help: "Images per step.")
    var batchSize = 256
    @Option(name: .long, help: "Timed steps (after 2 warm-up steps).")
    var steps = 10
    @Option(name: .long, help: "Attention mechanism.")
    var attention = "standard"
    @Option(name: .customLong("optimizer"), help: "adamw (the step PyTorch's reference figures time), sgd or muon.")
    var optimizerName = "adamw"
    @Option(name: .long, help: "Model configuration JSON (default: the seed ViT).")
    var config: String?
    @Option(name: .customLong("model"), help: "A timm architecture instead (\(ModelPreset.names.joined(separator: ", "))), 3 channels, 1000 classes.")
    var preset: String?
    @Option(name: .long, help: "Write a Chrome trace of the timed steps' kernels to this file (also $VIT_TRACE).")
    var trace: String?

    func validate() throws {
        guard (1...TrainingOptions.maximumBatchSize).contains(batchSize) else {
            throw ValidationError("--batch-size must be in 1...\(TrainingOptions.maximumBatchSize), got \(batchSize)")
        }
        guard (1...1_000_000).contains(steps) else { throw ValidationError("--steps must be in 1...1000000, got \(steps)") }
        if let preset {
            guard ModelPreset.named(preset) != nil else {
                throw ValidationError("unknown --model '\(preset)'; choose one of \(ModelPreset.names.joined(separator: ", "))")
            }
            guard config == nil else { throw ValidationError("--model and --config both give the architecture; give one of them") }
        }
    }

    func run() throws {
        let backend = try DeviceRegistry.shared.backend(for: DeviceRegistry.shared.device(for: device))
        var configuration =
            try config.map { try ViTConfiguration.load(from: URL(fileURLWithPath: $0)) }
            ?? preset.flatMap { ModelPreset.named($0)?.configuration(channels: 3, classes: 1000) } ?? ViTConfiguration()
        configuration.attention.kind = try AttentionKind(name: attention, field: "--attention")
        try MemoryEstimate.requireFits(configuration, batchSize: batchSize, on: backend, flag: "--batch-size")
        let model = try VisionTransformer(configuration: configuration, on: backend)
        var options = TrainingOptions()
        options.optimizer = optimizerName
        options.labelSmoothing = 0.1
        let optimizer = try options.makeOptimizer(for: model.optimizedParameters)
        let trainingStep = try TrainingStep(model: model, optimizer: optimizer, options: options)
        let side = configuration.imageSize
        let batch = Batch(
            index: 0, images: KernelFamilies.values(batchSize * configuration.numChannels * side * side, seed: 1),
            labels: (0..<batchSize).map { Float($0 % configuration.numClasses) }, sampleIndices: Array(0..<batchSize),
            channels: configuration.numChannels, height: side, width: side)
        print(
            "model: \(model.parameterCount) parameters, attention \(attention), optimizer \(options.optimizer), batch \(batchSize), device \(backend.device) (\(backend.info.name))"
        )
        var durations: [Double] = []
        backend.memory.resetPeak()
        var countsBefore = backend.commandCounts
        let traceFile = trace ?? Profiler.traceFileFromEnvironment
        for step in 0..<(steps + 2) {
            if step == 2 {
                countsBefore = backend.commandCounts
                if traceFile != nil {
                    // The trace shows the timed steps only.
                    Profiler.shared.reset()
                    Profiler.shared.isTracing = true
                }
            }
            let start = DispatchTime.now().uptimeNanoseconds
            try trainingStep(batch, learningRate: 1e-3)
            _ = try trainingStep.statistics.read()
            if step >= 2 { durations.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9) }
        }
        let mean = durations.reduce(0, +) / Double(durations.count)
        let best = durations.min() ?? mean
        print(
            String(
                format: "step: mean %.1f ms, best %.1f ms; %.0f img/s (mean), %.0f img/s (best); peak memory %.1f MiB",
                mean * 1e3, best * 1e3, Double(batchSize) / mean, Double(batchSize) / best, Double(backend.memory.peak) / 1_048_576))
        if backend.device != .cpu {
            // The benchmark's own read of the loss after each step is one read and one wait.
            print(backend.commandCounts.since(countsBefore).perStep(steps) + " (including the benchmark's read of the loss)")
        }
        if Profiler.shared.isEnabled { print(Profiler.shared.report()) }
        if let traceFile {
            try Profiler.shared.writeTrace(to: URL(fileURLWithPath: traceFile))
            print("trace written to \(traceFile)")
        }
    }
}
