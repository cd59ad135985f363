import Foundation
import ViTCore

/// The kernel configurations `vit tune` chose for one device: for each tuning key (a
/// family's kernel, a shape class and the family's source), the name of the fastest
/// configuration that matched the CPU reference. Kept as JSON beside the compiled-kernel
/// cache, one file per device and driver, so every later process on the device uses it; a
/// kernel without a stored choice takes its family's heuristic from the device's limits.
public struct KernelTuning: Codable, Equatable, Sendable {
    /// Configuration names by tuning key.
    public var choices: [String: String]

    public init(choices: [String: String] = [:]) {
        self.choices = choices
    }

    /// The key of `kernel` of `family` for `shapeClass`, which includes the fingerprint of
    /// the family's source: an edited kernel is not run with a choice made for the old one.
    public static func key(family: String, kernel: String, shapeClass: String) -> String {
        "\(family)/\(kernel)/\(shapeClass)/\(sourceFingerprints.fingerprint(of: family))"
    }

    /// The shape class of an attention kernel at `tokens` tokens of head size `headSize`: one
    /// per head size and power-of-two bound of N (65 tokens are "N<=128").
    public static func attentionShapeClass(tokens: Int, headSize: Int) -> String {
        let bound = [64, 128, 256, 512, 1024].first { tokens <= $0 }
        return "D\(headSize) " + (bound.map { "N<=\($0)" } ?? "N>1024")
    }

    /// The fingerprints of the families' sources, read once per process (a launch asks for its key).
    private static let sourceFingerprints = SourceFingerprints()

    /// The file of `device`'s choices in `folder` (by default the compiled-kernel cache:
    /// `VIT_CACHE_DIR/opencl`, else `~/.cache/vit/opencl`),
    /// named by the device, its platform and its driver.
    public static func file(for device: DeviceInfo, in folder: URL? = nil) -> URL {
        let folder = folder ?? KernelLibrary.cacheFolder
        let identity = [device.name, device.platform, device.driverVersion, device.version].joined(separator: "\u{1}")
        return folder.appendingPathComponent("tuning-\(KernelLibrary.fingerprint(identity)).json")
    }

    /// The choices stored for `device`, none when no file exists. A file that cannot be read
    /// or decoded is an error naming it (delete it, or run `vit tune` again).
    public static func load(for device: DeviceInfo, in folder: URL? = nil) throws -> KernelTuning {
        let url = file(for: device, in: folder)
        guard FileManager.default.fileExists(atPath: url.path) else { return KernelTuning() }
        do {
            return try JSONDecoder().decode(KernelTuning.self, from: Data(contentsOf: url))
        } catch {
            throw ViTError.backend(OpenCLError.tuningFile(path: url.path, reason: error.localizedDescription))
        }
    }

    /// Writes the choices for `device` (to a temporary file, then renamed over the old one).
    public func save(for device: DeviceInfo, in folder: URL? = nil) throws {
        let url = Self.file(for: device, in: folder)
        let folder = url.deletingLastPathComponent()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let temporary = url.appendingPathExtension("tmp\(getpid())")
            try encoder.encode(self).write(to: temporary)
            guard rename(temporary.path, url.path) == 0 else {
                let reason = String(cString: strerror(errno))
                try? FileManager.default.removeItem(at: temporary)
                throw ViTError.backend(OpenCLError.tuningFile(path: url.path, reason: reason))
            }
        } catch let error as ViTError {
            throw error
        } catch {
            throw ViTError.backend(OpenCLError.tuningFile(path: url.path, reason: error.localizedDescription))
        }
    }
}

/// Each kernel family's source fingerprint, computed on first use.
private final class SourceFingerprints: @unchecked Sendable {
    private var fingerprints: [String: String] = [:]
    private let lock = NSLock()

    func fingerprint(of family: String) -> String {
        lock.withLock {
            if let known = fingerprints[family] { return known }
            let fingerprint = (try? KernelLibrary.source(family: family)).map(KernelLibrary.fingerprint) ?? "no-source"
            fingerprints[family] = fingerprint
            return fingerprint
        }
    }
}
