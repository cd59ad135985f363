// swift-tools-version:6.0
import Foundation
import PackageDescription

/// Every OpenCL C file in Kernels/ ships as a resource of the ViTKernels target.
let kernelFiles = ((try? FileManager.default.contentsOfDirectory(atPath: Context.packageDirectory + "/Kernels")) ?? [])
    .filter { $0.hasSuffix(".cl") }
    .sorted()

/// Layering (see ARCHITECTURE.md): C libraries -> ViTCore -> backends (ViTCPU, ViTOpenCL)
/// -> ViTBackends (device discovery) -> the `vit` command line tool and the tools in Tools/.
let package = Package(
    name: "VisionTransformerCL",
    products: [
        .executable(name: "vit", targets: ["vit"]),
        .executable(name: "vit-bench", targets: ["vit-bench"]),
        .library(name: "ViTCore", targets: ["ViTCore"]),
        .library(name: "ViTBackends", targets: ["ViTBackends"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL"),
        .systemLibrary(name: "CCLBlast", path: "Sources/CCLBlast"),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "ViTCore"),
        .target(name: "ViTCPU", dependencies: ["ViTCore", "COpenBLAS"]),
        // The OpenCL C sources live in the top-level Kernels/ folder and ship as resources.
        .target(
            name: "ViTKernels",
            path: "Kernels",
            sources: ["KernelSources.swift"],
            resources: kernelFiles.map { .copy($0) }
        ),
        .target(name: "ViTOpenCL", dependencies: ["ViTCore", "ViTKernels", "COpenCL", "CCLBlast"]),
        .target(name: "ViTData", dependencies: ["CZlib"]),
        .target(name: "ViTSerialization"),
        .target(name: "ViTBackends", dependencies: ["ViTCore", "ViTCPU", "ViTOpenCL"]),
        .executableTarget(
            name: "vit",
            dependencies: ["ViTBackends", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "vit-bench",
            dependencies: ["ViTBackends", "COpenBLAS", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Tools/vit-bench"
        ),
        .testTarget(name: "ViTCoreTests", dependencies: ["ViTBackends"]),
        .testTarget(name: "ViTDataTests", dependencies: ["ViTData"]),
        .testTarget(name: "ViTSerializationTests", dependencies: ["ViTSerialization"]),
    ],
    swiftLanguageModes: [.v5]
)
