import ArgumentParser
import Foundation
import ViTBackends
import ViTCore

/// `vit devices`: every device with its properties, the default marked.
struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the CPU backend and every OpenCL device; mark the default (or the one --device selects)."
    )

    @OptionGroup var deviceOptions: DeviceOptions

    func run() throws {
        let registry = DeviceRegistry.shared
        let selected = try deviceOptions.resolveDevice()
        let marker =
            deviceOptions.device == nil && ProcessInfo.processInfo.environment[DeviceRegistry.environmentVariable] == nil ? "default" : "selected"
        for info in registry.devices {
            let mark = info.device == selected ? "  <- \(marker)" : ""
            print("\(info.device): \(info.name)\(mark)")
            print(
                "    type \(info.kind.rawValue), platform \(info.platform), compute units \(info.computeUnits), memory \(formatBytes(info.memoryBytes))"
            )
            print(
                "    OpenCL \(info.version), driver \(info.driverVersion), fp16 \(info.supportsHalf ? "yes" : "no"), fp64 \(info.supportsDouble ? "yes" : "no")"
            )
        }
        if registry.openCLDevices.isEmpty {
            print("No OpenCL platform found: only the CPU backend is available.")
        }
    }
}

/// The `--device` option shared by every command that computes.
struct DeviceOptions: ParsableArguments {
    @Option(name: .long, help: "cpu, opencl, opencl:N or auto (default: $VIT_DEVICE, else the first GPU, else cpu).")
    var device: String?

    /// The device chosen by the flag, the environment or the default rule.
    func resolveDevice() throws -> Device {
        try DeviceRegistry.shared.resolve(device)
    }

    /// The device of the process with index `localRank` among a data-parallel run's
    /// processes on this machine: the one the flag or `VIT_DEVICE` names, else that rank's GPU
    /// (local rank modulo the GPUs), else the CPU backend.
    func resolveDevice(localRank: Int) throws -> Device {
        let variable = ProcessInfo.processInfo.environment[DeviceRegistry.environmentVariable] ?? ""
        guard device == nil && variable.isEmpty else { return try resolveDevice() }
        return DeviceRegistry.shared.defaultDevice(localRank: localRank)
    }
}

/// `1.5 GiB`-style sizes.
func formatBytes(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}
