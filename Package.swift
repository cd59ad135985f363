// swift-tools-version:6.0
import Foundation
import PackageDescription

/// The CPU backend's own loops (GELU, layer norm, softmax, attention tiles, optimizer steps)
/// are compiled for the vector units of the machine that builds them, as `-march=native`
/// would: AVX2 and FMA (`haswell`, the x86-64-v3 level) when /proc/cpuinfo lists them, the
/// baseline otherwise. `VIT_PORTABLE=1` keeps the baseline, for a binary to copy elsewhere.
let hostHasHaswellLevel: Bool = {
    #if arch(x86_64)
        let required: Set = ["avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "movbe", "abm"]
        guard ProcessInfo.processInfo.environment["VIT_PORTABLE"] == nil,
            let cpuInfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let flags = cpuInfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return false }
        return required.isSubset(of: Set(flags.split(separator: " ").map(String.init)))
    #else
        return false
    #endif
}()

// VIT_FMA: VectorMath may use fused multiply-adds, which are single instructions here.
let hostVectorSettings: [SwiftSetting] = hostHasHaswellLevel ? [.unsafeFlags(["-target-cpu", "haswell"]), .define("VIT_FMA")] : []
/// The same level for the C product kernel, whose AVX2 path is compiled only with it.
let hostVectorCSettings: [CSetting] = hostHasHaswellLevel ? [.unsafeFlags(["-march=haswell"])] : []

/// Every OpenCL C file of Kernels/, copied into the ViTKernels bundle.
let kernelResources: [Resource] = {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: Context.packageDirectory + "/Kernels")) ?? []
    return files.filter { $0.hasSuffix(".cl") }.sorted().map { .copy($0) }
}()

let package = Package(
    name: "VisionTransformerCL",
    products: [
        .executable(name: "vit", targets: ["vit"]),
        .executable(name: "vit-bench", targets: ["vit-bench"]),
        .library(name: "ViTCore", targets: ["ViTCore"]),
        .library(name: "ViTBackends", targets: ["ViTBackends"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL"),
        .systemLibrary(name: "CCLBlast", path: "Sources/CCLBlast"),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // Open MPI (Debian's libopenmpi-dev, whose pkg-config file is ompi.pc) for `mpirun -np N vit train`.
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "ViTCore"),
        .target(name: "CTileKernels", cSettings: hostVectorCSettings),
        .target(name: "ViTCPU", dependencies: ["ViTCore", "COpenBLAS", "CTileKernels"], swiftSettings: hostVectorSettings),
        // The OpenCL C sources in the top-level Kernels/ folder ship as resources of this
        // target, whose root is that folder; its one Swift file finds them at run time.
        .target(name: "ViTKernels", path: "Kernels", sources: ["KernelSources.swift"], resources: kernelResources),
        .target(name: "ViTOpenCL", dependencies: ["ViTCore", "ViTKernels", "COpenCL", "CCLBlast"]),
        // JPEG (libjpeg-turbo's TurboJPEG API), PNG (libpng) and Pillow's resampling, for image folders.
        .target(
            name: "CImageCodecs", cSettings: hostVectorCSettings + [.unsafeFlags(["-O3"])],
            linkerSettings: [.linkedLibrary("turbojpeg"), .linkedLibrary("png16")]),
        .target(name: "ViTData", dependencies: ["ViTCore", "CZlib", "CImageCodecs"]),
        .target(name: "ViTNN", dependencies: ["ViTCore", "COpenBLAS"]),
        .target(name: "ViTTraining", dependencies: ["ViTNN", "ViTData", "ViTSerialization"]),
        .target(name: "ViTSerialization"),
        // Reading finished runs back: the comparison table and the plots (drawn by gnuplot).
        .target(name: "ViTReports", dependencies: ["ViTTraining", "ViTNN", "ViTCore", "ViTSerialization"]),
        // Each kernel family is one file of Sources/ViTBackends/Families; the plugin lists them.
        .target(name: "ViTBackends", dependencies: ["ViTCore", "ViTCPU", "ViTOpenCL"], plugins: ["KernelFamilyRegistry"]),
        .executableTarget(name: "kernel-family-registry", path: "Tools/kernel-family-registry"),
        .plugin(name: "KernelFamilyRegistry", capability: .buildTool(), dependencies: ["kernel-family-registry"]),
        .executableTarget(
            name: "vit",
            dependencies: ["ViTBackends", "ViTTraining", "ViTReports", "CMPI", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "vit-bench",
            dependencies: [
                "ViTBackends", "ViTTraining", "ViTData", "ViTReports", "ViTSerialization", "COpenBLAS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/vit-bench"
        ),
        // ViTNN for the finite-difference checks of composite layers (the convolutional stem).
        .testTarget(name: "ViTCoreTests", dependencies: ["ViTBackends", "ViTKernels", "ViTNN"]),
        .testTarget(name: "ViTDataTests", dependencies: ["ViTData", "CImageCodecs"], exclude: ["Fixtures"]),
        .testTarget(name: "ViTNNTests", dependencies: ["ViTNN", "ViTBackends", "ViTTraining"], exclude: ["Fixtures"]),
        .testTarget(name: "ViTTrainingTests", dependencies: ["ViTTraining", "ViTBackends"]),
        .testTarget(name: "ViTSerializationTests", dependencies: ["ViTSerialization"]),
        // CZlib inflates the plots' PNG data to look at their pixels.
        // ViTBackends gives the attention-map tests a model on the CPU backend.
        .testTarget(name: "ViTReportsTests", dependencies: ["ViTReports", "ViTBackends", "CZlib"]),
    ],
    swiftLanguageModes: [.v5]
)
