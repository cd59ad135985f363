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
            CheckCommand.self, TuneCommand.self, PredictCommand.self,
        ]
    )

    /// ArgumentParser's `main`, with `DeviceRegistry.prepareForExit()` before the process
    /// ends, whether the command succeeded or threw.
    static func main() {
        let error = DeviceRegistry.runThenPrepareForExit {
            var command = try parseAsRoot()
            try command.run()
        }
        if let error { exit(withError: error) }
    }
}
