import Foundation

/// Draws `Plot`s as PNG files with gnuplot (Debian's gnuplot-nox, its pngcairo terminal),
/// fed a script through a pipe.
public struct Gnuplot {
    /// The image size in pixels.
    public static let width = 1200
    public static let height = 800

    /// The gnuplot program.
    public let executable: URL

    /// Finds gnuplot on PATH; an error names the package to install when it is absent.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let folders = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        guard let path = folders.map({ $0 + "/gnuplot" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ReportError.plotterMissing(
                "gnuplot is not installed (no gnuplot on PATH): install Debian's gnuplot-nox (bash Tools/setup.sh does) to draw the plots")
        }
        executable = URL(fileURLWithPath: path)
    }

    /// Writes each plot that has points into `folder`, under its file name; returns the files.
    public func render(_ plots: [Plot], into folder: URL) throws -> [URL] {
        try plots.filter { !$0.isEmpty }.map { plot in
            let url = folder.appendingPathComponent(plot.fileName)
            try render(plot, to: url)
            return url
        }
    }

    /// Writes `plot`, which must have something to draw, to `url` as a PNG.
    public func render(_ plot: Plot, to url: URL) throws {
        precondition(!plot.isEmpty, "a plot without points (the caller skips those)")
        try render(script: Self.script(for: plot, output: url), to: url)
    }

    /// Runs `script`, which draws into `url` (it starts with `header(output: url)`), and
    /// checks that gnuplot succeeded and wrote the file.
    func render(script: String, to url: URL) throws {
        // An older plot of that name must not pass for this one if gnuplot fails.
        try? FileManager.default.removeItem(at: url)
        let process = Process()
        process.executableURL = executable
        let input = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw ReportError.plotterFailed("\(executable.path) could not be started: \(error.localizedDescription)")
        }
        // A gnuplot that exits early closes the pipe: the write then fails (and the messages
        // below say why) instead of SIGPIPE ending this process.
        signal(SIGPIPE, SIG_IGN)
        try? input.fileHandleForWriting.write(contentsOf: Data(script.utf8))
        try? input.fileHandleForWriting.close()
        let messages = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        guard process.terminationStatus == 0, size > 0 else {
            throw ReportError.plotterFailed(
                "gnuplot failed to draw \(url.path) (status \(process.terminationStatus)): \(messages.trimmingCharacters(in: .whitespacesAndNewlines))"
            )
        }
    }

    /// The lines that start every script: the PNG terminal at `width` x `height` pixels (at
    /// least the default size) writing to `output`.
    static func header(output: URL, width: Int = width, height: Int = height) -> [String] {
        [
            "set terminal pngcairo size \(max(width, Self.width)),\(max(height, Self.height)) noenhanced font 'DejaVu Sans,13' linewidth 1.5",
            "set output \(quoted(output.path))",
        ]
    }

    /// The gnuplot script that draws `plot` into `output`.
    public static func script(for plot: Plot, output: URL) -> String {
        let lines = header(output: output) + panel(plot, title: plot.title + "\n" + plot.subtitle, key: "outside right top box", data: "series")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The lines that draw `plot` as one graph under `title`, its legend placed by `key` and
    /// its points in data blocks named from `data` (unique within a script).
    static func panel(_ plot: Plot, title: String, key: String, data: String) -> [String] {
        var lines = [
            // A graph drawn before this one in a multiplot must leave none of its settings here.
            "unset logscale", "unset offsets", "set autoscale", "set xtics autofreq",
            "set title \(quoted(title))",
            "set xlabel \(quoted(plot.xLabel))",
            "set ylabel \(quoted(plot.yLabel))",
            "set grid",
            "set key \(key)",
        ]
        if plot.logarithmic { lines.append("set logscale xy") }
        if plot.style == .labelledPoints {
            // A margin around the data, so single points and their labels are not on the border.
            lines.append("set offsets graph 0.08, graph 0.08, graph 0.08, graph 0.08")
        }
        let xs = plot.series.flatMap { $0.points.map(\.x) }
        if plot.integerX, let first = xs.min(), let last = xs.max() {
            // Half a step beyond the first and last epoch, and tics on whole epochs only
            // (about twenty at most), so one epoch is not drawn between epochs 0 and 2.
            let step = max(1, ((last - first) / 20).rounded(.up))
            lines += ["set xrange [\(first - 0.5):\(last + 0.5)]", "set xtics \(step)"]
        }
        for (index, series) in plot.series.enumerated() {
            lines.append("$\(data)\(index) << EOD")
            lines += series.points.map { "\($0.x) \($0.y)" }
            lines.append("EOD")
        }
        let clauses = plot.series.enumerated().map { index, series in
            let colour = "rgb '\(Plot.colour(ofSeries: index))'"
            switch plot.style {
            case .lines:
                return
                    "$\(data)\(index) using 1:2 with linespoints linewidth 2 pointtype 7 pointsize 1.5 linecolor \(colour) title \(quoted(series.name))"
            case .labelledPoints:
                // Series at the same place (standard and naive attention: the same MACs and
                // accuracy) share one label, and each later marker is smaller, so the earlier
                // ones show as rings around it.
                let earlier = plot.series[..<index].filter { $0.points == series.points }.count
                let size = 2.5 * pow(0.65, Double(earlier))
                let marker = "$\(data)\(index) using 1:2 with points pointtype 7 pointsize \(size) linecolor \(colour) title \(quoted(series.name))"
                guard earlier == 0 else { return marker }
                let label = plot.series.filter { $0.points == series.points }.map(\.name).joined(separator: ", ")
                return marker + ", $\(data)\(index) using 1:2:(\(quoted(label))) with labels offset character 1.5,1 left textcolor \(colour) notitle"
            }
        }
        lines.append("plot " + clauses.joined(separator: ", \\\n     "))
        return lines
    }

    /// A gnuplot string literal: double quotes, so "\n" breaks a title's lines.
    static func quoted(_ text: String) -> String {
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return "\"\(escaped)\""
    }
}
