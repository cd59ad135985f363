import ArgumentParser
import Foundation
import ViTReports
import ViTSerialization

/// `vit plot RUN...`: the per-epoch curves of runs, from their metrics.jsonl.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw the per-epoch loss, top-1, learning rate and epoch time of runs (folders vit train wrote) as PNG files (needs gnuplot)."
    )

    @Argument(help: ArgumentHelp("Run folders, each with the metrics.jsonl vit train writes (such as outputs/vit).", valueName: "run"))
    var runs: [String]
    @Option(name: .long, help: ArgumentHelp("Folder for the PNG files (loss.png, top1.png, lr.png, epoch_seconds.png).", valueName: "folder"))
    var outputDir = "plots"

    func validate() throws {
        guard !outputDir.isEmpty else { throw ValidationError("--output-dir must not be empty") }
    }

    func run() throws {
        var outputs = try runs.map { try RunOutputs(folder: URL(fileURLWithPath: $0)) }
        // Folders of the same name in different places are told apart by the paths given.
        if Set(outputs.map(\.name)).count < outputs.count {
            for index in outputs.indices { outputs[index].name = runs[index] }
        }
        let plotter = try Gnuplot()
        let folder = URL(fileURLWithPath: outputDir)
        try FileSystem.createFolder(folder)
        let subtitle = RunOutputs.subtitle(for: outputs)
        let named = outputs.map { (name: $0.name, epochs: $0.epochs) }
        let plots = [EpochCurve.loss, .top1, .learningRate, .epochSeconds].map { $0.plot(runs: named, subtitle: subtitle) }
        print("wrote " + (try plotter.render(plots, into: folder)).map(\.path).joined(separator: ", "))
    }
}
