import Foundation

/// Several graphs in one image, in rows of `columns`, under one title naming what they show
/// and the data set or setup; each graph keeps its own title, axes and legend.
public struct PlotGrid: Equatable, Sendable {
    /// The PNG's file name.
    public var fileName: String
    public var title: String
    public var subtitle: String
    /// The graphs, row by row; each `Plot`'s title heads its graph (its subtitle is not drawn).
    public var panels: [Plot]
    public var columns: Int
    /// The image size in pixels.
    public var width: Int
    public var height: Int

    public init(fileName: String, title: String, subtitle: String, panels: [Plot], columns: Int, width: Int, height: Int) {
        precondition(columns > 0, "a grid has at least one column")
        self.fileName = fileName
        self.title = title
        self.subtitle = subtitle
        self.panels = panels
        self.columns = columns
        self.width = width
        self.height = height
    }

    /// Whether no graph has anything to draw.
    public var isEmpty: Bool { panels.allSatisfy(\.isEmpty) }

    /// The gnuplot script that draws the grid into `output`; graphs without points are left out.
    public func script(output: URL) -> String {
        let drawn = panels.filter { !$0.isEmpty }
        let rows = (drawn.count + columns - 1) / columns
        var lines = Gnuplot.header(output: output, width: width, height: height)
        lines.append("set multiplot layout \(rows),\(columns) title \(Gnuplot.quoted(title + "\n" + subtitle))")
        for (index, panel) in drawn.enumerated() {
            lines += Gnuplot.panel(panel, title: panel.title, key: "top left box opaque", data: "panel\(index)series")
        }
        lines.append("unset multiplot")
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Gnuplot {
    /// Writes `grid`, which must have something to draw, to `url` as a PNG.
    public func render(_ grid: PlotGrid, to url: URL) throws {
        precondition(!grid.isEmpty, "a grid without points (the caller checks)")
        try render(script: grid.script(output: url), to: url)
    }
}
