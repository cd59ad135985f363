import Foundation

/// One row of OUTPUT/summary.csv, which `vit train` appends when a run ends: the figures
/// measured once per run (parameters, MACs, peak memory, inference latency, final accuracy).
public struct RunSummary: Equatable, Sendable {
    public var experiment: String
    public var attention: String
    public var device: String
    public var parameters: Int
    public var multiplyAccumulates: Int
    public var peakMemoryBytes: Int
    /// Mean inference time per image, in milliseconds, at the test batch size.
    public var latencyMilliseconds: Double
    public var top1: Double
    public var top5: Double
    public var trainingSeconds: Double

    public init(
        experiment: String, attention: String, device: String, parameters: Int, multiplyAccumulates: Int, peakMemoryBytes: Int,
        latencyMilliseconds: Double, top1: Double, top5: Double, trainingSeconds: Double
    ) {
        self.experiment = experiment
        self.attention = attention
        self.device = device
        self.parameters = parameters
        self.multiplyAccumulates = multiplyAccumulates
        self.peakMemoryBytes = peakMemoryBytes
        self.latencyMilliseconds = latencyMilliseconds
        self.top1 = top1
        self.top5 = top5
        self.trainingSeconds = trainingSeconds
    }

    /// The last row for `experiment` in the text of a summary.csv (a run repeated into the
    /// same folder appends a newer row), or nil when it has none. `source` names the file in
    /// errors.
    public static func latest(forExperiment experiment: String, inCSV text: String, source: String) throws -> RunSummary? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard let header = lines.first else { return nil }
        let columns = header.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let required = [
            "experiment", "attention", "device", "params", "macs_per_image", "peak_memory_bytes", "latency_ms_per_image", "top1", "top5",
            "training_seconds",
        ]
        var index: [String: Int] = [:]
        for name in required {
            guard let position = columns.firstIndex(of: name) else {
                throw ReportError.unreadableRun("\(source) has no column \(name) in its header; it was not written by vit train")
            }
            index[name] = position
        }
        guard let (number, line) = lines.enumerated().dropFirst().last(where: { $0.element.hasPrefix(experiment + ",") }) else { return nil }
        let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        func field(_ name: String) throws -> String {
            guard let position = index[name], position < fields.count else {
                throw ReportError.unreadableRun("\(source) line \(number + 1) has no \(name) field")
            }
            return fields[position]
        }
        func parsed<Value: LosslessStringConvertible>(_ name: String) throws -> Value {
            guard let value = Value(try field(name)) else {
                throw ReportError.unreadableRun("\(source) line \(number + 1): \(name) '\(try field(name))' is not a number")
            }
            return value
        }
        return try RunSummary(
            experiment: field("experiment"), attention: field("attention"), device: field("device"), parameters: parsed("params"),
            multiplyAccumulates: parsed("macs_per_image"), peakMemoryBytes: parsed("peak_memory_bytes"),
            latencyMilliseconds: parsed("latency_ms_per_image"), top1: parsed("top1"), top5: parsed("top5"),
            trainingSeconds: parsed("training_seconds"))
    }
}
