import ArgumentParser
import Foundation
import ViTBackends
import ViTCore
import ViTData
import ViTNN
import ViTTraining

/// `vit train`: trains a ViT and writes config.json, metrics.jsonl, checkpoints and a
/// summary row under OUTPUT/EXP.
struct TrainCommand: ParsableCommand {
    static var configuration: CommandConfiguration {
        let defaults = TrainingOptions()
        let optimizer = (try? defaults.optimizerKind().summary) ?? defaults.optimizer
        return CommandConfiguration(
            commandName: "train",
            abstract: "Train a Vision Transformer (default: \(defaults.dataset), the seed ViT, \(defaults.epochs) epochs of \(optimizer))."
        )
    }

    @OptionGroup(title: "Experiment") var experiment: ExperimentOptions
    @OptionGroup(title: "Data") var data: DataOptions
    @OptionGroup(title: "Optimisation") var optimization: OptimizationOptions
    @OptionGroup(title: "Model") var model: ModelOptions
    @OptionGroup(title: "Attention") var attention: AttentionOptions
    @Option(name: .long, help: ArgumentHelp("Continue from a checkpoint written by vit train.", valueName: "file"))
    var resume: String?
    @OptionGroup var deviceOptions: DeviceOptions
    @Option(
        name: .long, help: ArgumentHelp("Write a Chrome trace (Perfetto opens it) of every kernel to this file (also $VIT_TRACE).", valueName: "file")
    )
    var trace: String?

    func run() throws {
        // Line by line even into a pipe or a log file, so a run's progress can be followed.
        setvbuf(stdout, nil, _IOLBF, 0)
        if model.preset == "list" { return try Self.listPresets() }
        let processes = try MPIProcesses()
        guard processes.size > 1 else {
            let stopped = try train(processes: processes)
            try processes.finalize()
            if let stopped { throw stopped }
            return
        }
        // A failing rank ends the whole job, naming its error, instead of leaving the others
        // waiting in an allreduce.
        let stopped: ExitCode?
        do {
            stopped = try train(processes: processes)
            try processes.finalize()
        } catch {
            processes.abort("\(error)")
        }
        if let stopped { throw stopped }
    }

    /// `--model list`: every preset with its architecture, parameters and MACs per image (3
    /// channels, 1000 classes, as timm counts them). The blocks are alike, so the model is
    /// built with one block on the CPU backend and its per-block figures scaled to the depth.
    static func listPresets() throws {
        let backend = try DeviceRegistry.shared.backend(for: .cpu)
        print("name                    aliases                 image  patch  width  depth  heads    MLP   parameters   MACs/image")
        for preset in ModelPreset.all {
            var configuration = preset.configuration(channels: 3, classes: 1000)
            configuration.numHiddenLayers = 1
            let oneBlock = try VisionTransformer(configuration: configuration, on: backend)
            let blockParameters = oneBlock.blocks[0].stateTensors.reduce(0) { $0 + $1.tensor.shape.elementCount }
            let blockProducts = oneBlock.multiplyAccumulates - oneBlock.patchEmbedding.multiplyAccumulates - preset.hiddenSize * 1000
            let parameters = oneBlock.parameterCount + (preset.depth - 1) * blockParameters
            let products = oneBlock.multiplyAccumulates + (preset.depth - 1) * blockProducts
            let aliases = preset.aliases.isEmpty ? "-" : preset.aliases.joined(separator: ",")
            print(
                preset.name.padding(toLength: 24, withPad: " ", startingAt: 0) + aliases.padding(toLength: 22, withPad: " ", startingAt: 0)
                    + String(
                        format: "%6d %6d %6d %6d %6d %6d %12ld %12ld", preset.imageSize, preset.patchSize, preset.hiddenSize, preset.depth,
                        preset.heads, preset.intermediateSize, parameters, products))
        }
    }

    /// Trains; returns the exit status of a run stopped by a signal (128 + its number), nil
    /// for a finished one.
    private func train(processes: MPIProcesses) throws -> ExitCode? {
        // A resumed run starts from the checkpoint's model; flags may only repeat it.
        let resumePoint = try resume.map { try ResumePoint(url: URL(fileURLWithPath: $0)) }
        var options = try TrainingOptions(
            experiment: experiment, data: data, optimization: optimization, model: model, resuming: resumePoint?.configuration)
        try attention.apply(to: &options.model.attention)
        try options.validate()
        let device = try deviceOptions.resolveDevice(localRank: processes.localRank)
        if device == .cpu && processes.localSize > 1 && ProcessInfo.processInfo.environment[DeviceRegistry.cpuThreadLimitVariable] == nil {
            // Ranks on one machine share its cores (mpirun's binding may have narrowed them already).
            let share = max(1, ProcessInfo.processInfo.activeProcessorCount / processes.localSize)
            setenv(DeviceRegistry.cpuThreadLimitVariable, "\(share)", 1)
        }
        let backend = try DeviceRegistry.shared.backend(for: device)
        let traceFile = trace ?? Profiler.traceFileFromEnvironment
        if traceFile != nil { Profiler.shared.isTracing = true }
        let trainer = try Trainer(options: options, backend: backend, resume: resumePoint, processes: processes)
        do {
            try trainer.run()
        } catch TrainingError.interrupted(let signal, let epoch, let step, let steps, let lastCheckpoint) {
            // Every process stopped after the same step (they agree on it), so all end MPI.
            let error = TrainingError.interrupted(signal: signal, epoch: epoch, step: step, of: steps, lastCheckpoint: lastCheckpoint)
            if processes.isWriter { FileHandle.standardError.write(Data("\(error)\n".utf8)) }
            return ExitCode(128 + signal)
        }
        guard processes.isWriter else { return nil }
        if Profiler.shared.isEnabled { print(Profiler.shared.report()) }
        if let traceFile {
            try Profiler.shared.writeTrace(to: URL(fileURLWithPath: traceFile))
            print("trace written to \(traceFile)")
        }
        return nil
    }
}

/// `vit eval`: top-1, top-5 and loss of a checkpoint on a test split.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint (from vit train, or a timm VisionTransformer saved as safetensors) on the test split."
    )

    @OptionGroup var checkpoint: CheckpointOptions
    @OptionGroup var data: DatasetOptions
    @Option(name: .long, help: "Images per forward pass.")
    var batchSize = 256
    @OptionGroup var deviceOptions: DeviceOptions

    func validate() throws {
        guard (1...TrainingOptions.maximumBatchSize).contains(batchSize) else {
            throw ValidationError("--batch-size must be in 1...\(TrainingOptions.maximumBatchSize), got \(batchSize)")
        }
    }

    func run() throws {
        let backend = try DeviceRegistry.shared.backend(for: deviceOptions.resolveDevice())
        let stored = try checkpoint.read(on: backend)
        let test = try stored.testSamples(data.dataset, directory: data.dataDir)
        let loader = try BatchLoader(
            source: test, batchSize: batchSize, workers: TrainingData.defaultWorkers(deviceComputesOnCPU: backend.device == .cpu, processes: 1))
        let result = try stored.model.evaluate(on: loader)
        print(
            String(
                format: "%@ on %@ (%d images): loss %.4f, top-1 %.2f%%, top-5 %.2f%%", stored.url.lastPathComponent, test.name, result.count,
                result.loss, result.top1, result.top5))
    }
}
