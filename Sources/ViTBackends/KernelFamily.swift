import Foundation
import ViTCore

/// Which shapes a kernel check runs.
public enum CheckScope: String, CaseIterable, Sendable {
    /// Only small and odd shapes (the bounds checks of tiled and work-group kernels): the
    /// whole catalogue in seconds, and fast enough for a simulator such as Oclgrind.
    case small
    /// The small shapes and the ViT sizes (the seed ViT's and ViT-B/16's activations).
    case full

    /// `small` always, `large` only in the full scope.
    func sizes<Size>(_ small: [Size], large: [Size]) -> [Size] {
        self == .full ? small + large : small
    }
}

/// A kernel family in one declaration (in the spirit of candle's `CustomOp`): its name (its
/// `Kernels/<name>.cl` file, the CPU function names and the tests), where its device code
/// lives, the checks that compare a device against the CPU reference and its benchmark
/// rows. The same file conforms `OpenCLBackend` to the family's kernel protocol (declared
/// beside its tensor operation in ViTCore); the CPU reference conforms `CPUBackend` in ViTCPU.
///
/// Declarations are nested in `KernelFamilies`, one file each under `Families/` named after
/// the type; the build (the KernelFamilyRegistry plugin) lists those files in
/// `KernelFamilies.declarations`, so no second list names them.
public protocol KernelFamilyDeclaration {
    /// The family's name: `Kernels/<name>.cl`.
    static var name: String { get }
    /// Where its OpenCL code lives (`Kernels/<name>.cl` unless stated).
    static var deviceCode: KernelFamily.DeviceCode { get }
    /// Its checks in `scope`.
    static func checks(_ scope: CheckScope) -> [KernelCheck]
    /// Its rows in `vit-bench kernels` (none unless stated).
    static var benchmarks: [BenchmarkRow] { get }
}

extension KernelFamilyDeclaration {
    public static var deviceCode: KernelFamily.DeviceCode { .kernelFile }
    public static var benchmarks: [BenchmarkRow] { [] }
}

/// One kernel family, as `vit check`, `vit-bench kernels`, `KernelCheckTests` and the
/// Oclgrind run in CI see it: every `KernelFamilyDeclaration`, and a `.cl` file without one
/// fails `KernelCheckTests.testEveryKernelFileHasAFamily`.
public struct KernelFamily {
    /// Where the device code of a family comes from.
    public enum DeviceCode: Equatable, Sendable {
        /// `Kernels/<name>.cl`.
        case kernelFile
        /// A library's kernels (CLBlast for GEMM).
        case library(String)
    }

    /// The family's declaration.
    public let declaration: any KernelFamilyDeclaration.Type

    /// The family's name: its `Kernels/<name>.cl` file, the CPU function names and the tests.
    public var name: String { declaration.name }
    /// Where its OpenCL code lives.
    public var deviceCode: DeviceCode { declaration.deviceCode }

    /// Where its device code lives, for reports: `Kernels/<name>.cl` or the library's name.
    public var origin: String {
        switch deviceCode {
        case .kernelFile: return "Kernels/\(name).cl"
        case .library(let library): return library
        }
    }

    /// The family's checks in `scope`, each labelled with the family's name.
    public func checks(_ scope: CheckScope) -> [KernelCheck] {
        declaration.checks(scope).map { $0.inFamily(name) }
    }

    /// The family's benchmark rows.
    public var benchmarks: [BenchmarkRow] { declaration.benchmarks }

    /// Every family: those of libraries (GEMM) first, then by name.
    public static var all: [KernelFamily] {
        KernelFamilies.declarations.map(KernelFamily.init).sorted { first, second in
            (first.deviceCode == .kernelFile ? 1 : 0, first.name) < (second.deviceCode == .kernelFile ? 1 : 0, second.name)
        }
    }

    /// The checks of every family in `scope`, or of those whose family or kernel name
    /// contains `filter`.
    public static func checks(_ scope: CheckScope, matching filter: String? = nil) -> [KernelCheck] {
        let checks = all.flatMap { $0.checks(scope) }
        guard let filter, !filter.isEmpty else { return checks }
        return checks.filter { $0.family.contains(filter) || $0.kernel.contains(filter) }
    }
}
