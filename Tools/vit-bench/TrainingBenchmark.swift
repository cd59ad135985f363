import ArgumentParser
import Foundation
import ViTBackends
import ViTCore
import ViTNN
import ViTTraining

/// Training throughput: full steps (forward, loss, backward, clipping, update; AdamW unless
/// `--optimizer` says otherwise) of a ViT on synthetic images, as `vit train` runs them,
/// without data loading.
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

    func run() throws {
        let backend = try DeviceRegistry.shared.backend(for: DeviceRegistry.shared.device(for: device))
        var configuration = try config.map { try ViTConfiguration.load(from: URL(fileURLWithPath: $0)) } ?? ViTConfiguration()
        configuration.attention.kind = try AttentionKind(name: attention, field: "--attention")
        let model = try VisionTransformer(configuration: configuration, on: backend)
        var options = TrainingOptions()
        options.optimizer = optimizerName
        let optimizer = try options.makeOptimizer(for: model.optimizedParameters)
        let side = configuration.imageSize
        let images = try Tensor(KernelCheckCatalog.values(batchSize * configuration.numChannels * side * side, seed: 1),
                                shape: [batchSize, configuration.numChannels, side, side], on: backend)
        let labels = try Tensor((0..<batchSize).map { Float($0 % configuration.numClasses) }, shape: [batchSize], on: backend)
        print("model: \(model.parameterCount) parameters, attention \(attention), optimizer \(options.optimizer), batch \(batchSize), device \(backend.device) (\(backend.info.name))")
        var durations: [Double] = []
        backend.memory.resetPeak()
        for step in 0..<(steps + 2) {
            let start = DispatchTime.now().uptimeNanoseconds
            let logits = try model(images, context: ForwardContext(training: true, seed: 1, step: step))
            let loss = try crossEntropy(logits: logits, labels: labels, labelSmoothing: 0.1)
            optimizer.zeroGradients()
            try loss.backward()
            try clipGradientNorm(optimizer.parameters, maximumNorm: 1)
            try optimizer.step(learningRate: 1e-3)
            _ = try loss.item()
            if step >= 2 { durations.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9) }
        }
        let mean = durations.reduce(0, +) / Double(durations.count)
        let best = durations.min() ?? mean
        print(String(format: "step: mean %.1f ms, best %.1f ms; %.0f img/s (mean), %.0f img/s (best); peak memory %.1f MiB",
                     mean * 1e3, best * 1e3, Double(batchSize) / mean, Double(batchSize) / best, Double(backend.memory.peak) / 1_048_576))
        if Profiler.shared.isEnabled { print(Profiler.shared.report()) }
    }
}
