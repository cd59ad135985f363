/// One row of `vit-bench attention`: an attention core's time and peak memory at one token
/// count on one device.
public struct AttentionMeasurement: Equatable, Sendable {
    public var device: String
    public var mechanism: String
    public var tokens: Int
    public var forwardMilliseconds: Double
    public var forwardBackwardMilliseconds: Double
    /// Peak device memory above what was live before, in bytes.
    public var forwardPeakBytes: Int
    public var forwardBackwardPeakBytes: Int

    public init(
        device: String, mechanism: String, tokens: Int, forwardMilliseconds: Double, forwardBackwardMilliseconds: Double, forwardPeakBytes: Int,
        forwardBackwardPeakBytes: Int
    ) {
        self.device = device
        self.mechanism = mechanism
        self.tokens = tokens
        self.forwardMilliseconds = forwardMilliseconds
        self.forwardBackwardMilliseconds = forwardBackwardMilliseconds
        self.forwardPeakBytes = forwardPeakBytes
        self.forwardBackwardPeakBytes = forwardBackwardPeakBytes
    }
}

/// Resolution scaling: time and peak memory of every mechanism against the token count,
/// log-log, forward and forward+backward, four graphs in one image.
public enum AttentionScalingPlot {
    /// The figure of `measurements`, one line per mechanism (and device, when there are
    /// several) in the order they first appear; `setup` names the shapes and the inputs.
    public static func grid(for measurements: [AttentionMeasurement], setup: String, fileName: String) -> PlotGrid {
        let devices = Set(measurements.map(\.device))
        var names: [String] = []
        for measurement in measurements where !names.contains(name(of: measurement, devices: devices)) {
            names.append(name(of: measurement, devices: devices))
        }
        func panel(_ title: String, yLabel: String, value: (AttentionMeasurement) -> Double) -> Plot {
            let series = names.map { name in
                Plot.Series(
                    name: name,
                    points: measurements.filter { self.name(of: $0, devices: devices) == name }.map { Plot.Point(x: Double($0.tokens), y: value($0)) }
                )
            }
            return Plot(
                fileName: fileName, title: title, subtitle: setup, xLabel: "tokens N (log scale)", yLabel: yLabel, style: .lines, series: series,
                logarithmic: true)
        }
        let mebibyte = 1_048_576.0
        return PlotGrid(
            fileName: fileName, title: "Attention time and peak memory against the token count", subtitle: setup,
            panels: [
                panel("Forward time", yLabel: "time per call (ms, log scale)", value: \.forwardMilliseconds),
                panel("Forward + backward time", yLabel: "time per call (ms, log scale)", value: \.forwardBackwardMilliseconds),
                panel("Forward peak memory", yLabel: "peak device memory (MiB, log scale)", value: { Double($0.forwardPeakBytes) / mebibyte }),
                panel(
                    "Forward + backward peak memory", yLabel: "peak device memory (MiB, log scale)",
                    value: { Double($0.forwardBackwardPeakBytes) / mebibyte }),
            ], columns: 2, width: 1600, height: 1200)
    }

    /// A line's legend entry: the mechanism, with its device when several were measured.
    private static func name(of measurement: AttentionMeasurement, devices: Set<String>) -> String {
        devices.count > 1 ? "\(measurement.mechanism) (\(measurement.device))" : measurement.mechanism
    }
}
