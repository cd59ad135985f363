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

/// One kernel family: the OpenCL C file `Kernels/<name>.cl` (or a library, for GEMM), its
/// CPU reference in ViTCPU, and the checks that compare them on a device.
///
/// `vit check`, `KernelCheckTests` and the Oclgrind run in CI enumerate `KernelFamily.all`;
/// a family registered here is checked everywhere, and a `.cl` file without a family fails
/// `KernelCheckTests.testEveryKernelFileHasAFamily`.
public struct KernelFamily {
    /// Where the device code of a family comes from.
    public enum DeviceCode: Equatable, Sendable {
        /// `Kernels/<name>.cl`.
        case kernelFile
        /// A library's kernels (CLBlast for GEMM).
        case library(String)
    }

    /// The family's name: its `Kernels/<name>.cl` file, the CPU function names and the tests.
    public let name: String
    /// Where its OpenCL code lives.
    public let deviceCode: DeviceCode
    private let makeChecks: (CheckScope) -> [KernelCheck]

    init(_ name: String, deviceCode: DeviceCode = .kernelFile, checks: @escaping (CheckScope) -> [KernelCheck]) {
        self.name = name
        self.deviceCode = deviceCode
        self.makeChecks = checks
    }

    /// Where its device code lives, for reports: `Kernels/<name>.cl` or the library's name.
    public var origin: String {
        switch deviceCode {
        case .kernelFile: return "Kernels/\(name).cl"
        case .library(let library): return library
        }
    }

    /// The family's checks in `scope`, each labelled with the family's name.
    public func checks(_ scope: CheckScope) -> [KernelCheck] {
        makeChecks(scope).map { $0.inFamily(name) }
    }

    /// Every family, in the order `vit check` runs them.
    public static var all: [KernelFamily] {
        [
            KernelFamily("gemm", deviceCode: .library("CLBlast"), checks: KernelCheckCatalog.gemm),
            KernelFamily("elementwise", checks: KernelCheckCatalog.elementwise),
            KernelFamily("gelu", checks: KernelCheckCatalog.gelu),
            KernelFamily("layernorm", checks: KernelCheckCatalog.layerNorm),
            KernelFamily("softmax", checks: KernelCheckCatalog.softmax),
            KernelFamily("crossentropy", checks: KernelCheckCatalog.crossEntropy),
            KernelFamily("reduce", checks: KernelCheckCatalog.reduce),
            KernelFamily("permute", checks: KernelCheckCatalog.permute),
            KernelFamily("patchify", checks: KernelCheckCatalog.patchify),
            KernelFamily("im2col", checks: KernelCheckCatalog.convolution),
            KernelFamily("dropout", checks: KernelCheckCatalog.dropout),
            KernelFamily("adamw", checks: KernelCheckCatalog.adamW),
            KernelFamily("sgd", checks: KernelCheckCatalog.sgd),
            KernelFamily("muon", checks: KernelCheckCatalog.muon),
            KernelFamily("flash_attention", checks: KernelCheckCatalog.flashAttention),
            KernelFamily("sparse_attention", checks: KernelCheckCatalog.sparseAttention),
            KernelFamily("feature_map", checks: KernelCheckCatalog.featureMaps),
            KernelFamily("linear_attention", checks: KernelCheckCatalog.linearAttention),
            KernelFamily("pseudo_inverse", checks: KernelCheckCatalog.pseudoInverse),
            KernelFamily("sequence_convolution", checks: KernelCheckCatalog.sequenceConvolution),
        ]
    }

    /// The checks of every family in `scope`, or of those whose family or kernel name
    /// contains `filter`.
    public static func checks(_ scope: CheckScope, matching filter: String? = nil) -> [KernelCheck] {
        let checks = all.flatMap { $0.checks(scope) }
        guard let filter, !filter.isEmpty else { return checks }
        return checks.filter { $0.family.contains(filter) || $0.kernel.contains(filter) }
    }
}
