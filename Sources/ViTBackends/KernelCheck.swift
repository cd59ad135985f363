import Foundation
import ViTCore

/// One kernel run at one size: computes its outputs on a backend from inputs that are the
/// same on every backend, so the CPU's outputs (the reference) and a device's can be
/// compared with `|device - reference| <= absolute + relative * |reference|`.
public struct KernelCheck {
    /// The kernel (or pair of forward and backward kernels) this check runs.
    public let kernel: String
    /// Its family, as in Kernels/<family>.cl and the CPU function names (set by `KernelFamily`).
    public private(set) var family = ""
    /// The sizes, for the report.
    public let size: String
    /// Absolute part of the tolerance.
    public let absoluteTolerance: Float
    /// Relative part of the tolerance.
    public let relativeTolerance: Float
    /// Runs the kernel on a backend and returns every output, copied to the host.
    let compute: (Backend) throws -> [[Float]]

    public init(kernel: String, size: String, absoluteTolerance: Float, relativeTolerance: Float, compute: @escaping (Backend) throws -> [[Float]]) {
        self.kernel = kernel
        self.size = size
        self.absoluteTolerance = absoluteTolerance
        self.relativeTolerance = relativeTolerance
        self.compute = compute
    }

    /// This check as a member of `family`.
    func inFamily(_ family: String) -> KernelCheck {
        var check = self
        check.family = family
        return check
    }

    /// Runs on `device` and on `reference` and compares every output.
    public func run(on device: Backend, reference: Backend) throws -> KernelCheckResult {
        let expected = try compute(reference)
        let actual = try compute(device)
        var result = KernelCheckResult(check: self)
        for (output, (wanted, got)) in zip(expected, actual).enumerated() {
            guard wanted.count == got.count else {
                result.mismatches.append("output \(output): \(got.count) values, expected \(wanted.count)")
                continue
            }
            for index in wanted.indices {
                let difference = abs(got[index] - wanted[index])
                // NaN anywhere (or a NaN difference) counts as a mismatch.
                let allowed = absoluteTolerance + relativeTolerance * abs(wanted[index])
                if difference.isNaN || difference > result.maximumDifference { result.maximumDifference = difference.isNaN ? .infinity : difference }
                if !(difference <= allowed) {
                    result.mismatchCount += 1
                    if result.mismatches.count < 5 {
                        result.mismatches.append("output \(output)[\(index)]: \(got[index]) vs reference \(wanted[index])")
                    }
                }
            }
        }
        return result
    }
}

/// The outcome of one `KernelCheck`.
public struct KernelCheckResult: CustomStringConvertible {
    public let family: String
    public let kernel: String
    public let size: String
    public let absoluteTolerance: Float
    public let relativeTolerance: Float
    /// Largest |device - reference| over all outputs.
    public var maximumDifference: Float = 0
    /// Number of elements outside the tolerance.
    public var mismatchCount = 0
    /// The first mismatches, for the report.
    public var mismatches: [String] = []

    init(check: KernelCheck) {
        family = check.family
        kernel = check.kernel
        size = check.size
        absoluteTolerance = check.absoluteTolerance
        relativeTolerance = check.relativeTolerance
    }

    /// Whether every element is within the tolerance.
    public var passed: Bool { mismatchCount == 0 && mismatches.isEmpty }

    public var description: String {
        let head =
            (passed ? "ok   " : "FAIL ") + kernel.padding(toLength: 24, withPad: " ", startingAt: 0)
            + size.padding(toLength: 30, withPad: " ", startingAt: 0)
            + String(format: " max diff %.3e (tol %.0e + %.0e|ref|)", maximumDifference, absoluteTolerance, relativeTolerance)
        return ([head] + mismatches.map { "       " + $0 }).joined(separator: "\n")
    }
}
