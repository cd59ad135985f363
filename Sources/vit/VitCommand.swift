import ArgumentParser
import ViTBackends
import ViTCore

@main
struct VitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vit",
        abstract: "Train and measure Vision Transformers with efficient attention on OpenCL devices or the CPU.",
        subcommands: [
            TrainCommand.self, CompareCommand.self, PlotCommand.self, EvaluateCommand.self, AttentionMapsCommand.self, DevicesCommand.self,
            CheckCommand.self,
        ]
    )
}
