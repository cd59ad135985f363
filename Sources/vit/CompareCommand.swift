import ArgumentParser
import Foundation
import ViTBackends
import ViTCore
import ViTNN
import ViTReports
import ViTTraining

/// `vit compare`: trains several attention mechanisms under one recipe and seed, one after
/// another, each into OUTPUT/EXP/MECHANISM, and writes compare.csv, compare.md and the plots
/// into OUTPUT/EXP. Mechanisms already done there are skipped, so an interrupted study resumes.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Train attention mechanisms under one recipe and compare them: table (compare.csv, compare.md) and plots in OUTPUT/EXP-NAME.",
        discussion: """
            Each mechanism trains into OUTPUT/EXP-NAME/MECHANISM as vit train would, one after another in this process. \
            A mechanism whose folder already holds a finished (or diverged) run of the same recipe and device is not trained again; \
            an interrupted one starts again from its first epoch. The plots need gnuplot (Debian's gnuplot-nox).
            """
    )

    @OptionGroup(title: "Experiment") var experiment: ExperimentOptions
    @OptionGroup(title: "Data") var data: DataOptions
    @OptionGroup(title: "Optimisation") var optimization: OptimizationOptions
    @OptionGroup(title: "Model") var model: ModelOptions
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Comma-separated attention mechanisms to compare, in this order (default: all: \(AttentionKind.names)).", valueName: "names"))
    var attention: String?
    @OptionGroup(title: "Attention") var mechanismOptions: MechanismOptions
    @OptionGroup var deviceOptions: DeviceOptions

    /// The mechanisms `list` names, in its order; all of them when it is nil.
    static func mechanisms(in list: String?) throws -> [AttentionKind] {
        guard let list else { return AttentionKind.allCases }
        var kinds: [AttentionKind] = []
        for name in list.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let kind = AttentionKind(rawValue: name) else {
                throw ValidationError("--attention '\(list)': unknown mechanism '\(name)'; give comma-separated names from \(AttentionKind.names)")
            }
            guard !kinds.contains(kind) else { throw ValidationError("--attention '\(list)' names \(name) twice; give each mechanism once") }
            kinds.append(kind)
        }
        return kinds
    }

    func validate() throws {
        _ = try Self.mechanisms(in: attention)
        // Under mpirun every rank would train the whole study into the same files.
        for variable in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] where (ProcessInfo.processInfo.environment[variable].flatMap { Int($0) } ?? 1) > 1 {
            throw ValidationError("vit compare runs as one process (\(variable) is set): launch it without mpirun or srun")
        }
    }

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)
        var recipe = try TrainingOptions(experiment: experiment, data: data, optimization: optimization, model: model)
        try mechanismOptions.apply(to: &recipe.model.attention)
        try recipe.validate()
        let study = ComparisonStudy(folder: URL(fileURLWithPath: recipe.outputDirectory).appendingPathComponent(recipe.experimentName))
        // Every mechanism's recipe is checked before the first one trains.
        let runs = try Self.mechanisms(in: attention).map { kind in
            var options = recipe
            options.outputDirectory = study.folder.path
            options.experimentName = kind.rawValue
            options.model.attention.kind = kind
            try options.validate()
            return options
        }
        let plotter = try Gnuplot()
        let device = try deviceOptions.resolveDevice()
        let backend = try DeviceRegistry.shared.backend(for: device)
        let states = try runs.map { try study.state(of: $0, device: "\(device)") }
        var entries: [ComparisonEntry] = []
        for (index, (options, state)) in zip(runs, states).enumerated() {
            let position = "[\(index + 1)/\(runs.count)] \(options.experimentName)"
            if case .done(let entry) = state {
                print("\(position): done in \(study.runFolder(for: entry.mechanism).path), not trained again")
                entries.append(entry)
                continue
            }
            print("\(position): training into \(study.runFolder(for: options.experimentName).path)")
            try train(options, on: backend, in: study)
            guard case .done(let entry) = try study.state(of: options, device: "\(device)") else {
                throw ValidationError("\(options.experimentName) ended without its summary row in \(study.folder.path)/summary.csv")
            }
            entries.append(entry)
        }
        // Times and memory depend on the device, so the titles name it with the recipe.
        let description = recipe.recipeDescription + ", device \(device)"
        let report = try study.writeReport(entries: entries, recipe: description, plotter: plotter)
        print(ComparisonTable(entries: entries).markdown(title: ComparisonStudy.title(recipe: description)))
        print("wrote " + report.written.map(\.path).joined(separator: ", "))
        if !report.notDrawn.isEmpty {
            print("not drawn, as no mechanism has those figures (they diverged): " + report.notDrawn.joined(separator: ", "))
        }
    }

    /// Trains one mechanism; a divergence is recorded in its folder (the study goes on), an
    /// interruption ends the study with a note on how to continue it.
    private func train(_ options: TrainingOptions, on backend: Backend, in study: ComparisonStudy) throws {
        let trainer = try Trainer(options: options, backend: backend)
        do {
            try trainer.run()
        } catch TrainingError.diverged(let message) {
            print("\(options.experimentName) diverged: \(message)")
            let record = DivergenceRecord(
                message: message, parameters: trainer.model.parameterCount, multiplyAccumulates: trainer.model.multiplyAccumulates)
            try study.recordDivergence(record, mechanism: options.experimentName)
        } catch TrainingError.interrupted(let signal, let epoch, let step, let steps, _) {
            let note =
                "\(StopRequest.name(of: signal)): stopped \(options.experimentName) at epoch \(epoch), step \(step)/\(steps); "
                + "run the same vit compare again to continue (done mechanisms are skipped, \(options.experimentName) starts again)\n"
            FileHandle.standardError.write(Data(note.utf8))
            throw ExitCode(128 + signal)
        }
    }
}
