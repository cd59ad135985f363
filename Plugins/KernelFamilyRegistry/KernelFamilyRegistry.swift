import Foundation
import PackagePlugin

/// Lists a target's kernel family declarations, the files `Families/<Type>.swift` that each
/// declare `KernelFamilies.<Type>`, in a generated `KernelFamilies.declarations`: adding a
/// family is adding its file, and no hand-kept list can forget one.
@main
struct KernelFamilyRegistry: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let declarations = target.sourceFiles(withSuffix: "swift").map(\.url)
            .filter { $0.deletingLastPathComponent().lastPathComponent == "Families" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "KernelFamilies+Declarations.swift")
        return [
            .buildCommand(
                displayName: "Listing the kernel families of \(target.name)",
                executable: try context.tool(named: "kernel-family-registry").url,
                arguments: [output.path] + declarations.map(\.path), inputFiles: declarations, outputFiles: [output])
        ]
    }
}
