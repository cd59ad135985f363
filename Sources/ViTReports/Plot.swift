/// What one figure shows, independent of the program that draws it: a title, labelled axes
/// and named series of points.
public struct Plot: Equatable, Sendable {
    /// How the series are drawn.
    public enum Style: Equatable, Sendable {
        /// Each point marked and labelled with its series' name (one point per mechanism).
        case labelledPoints
        /// Each series a line through its points, marked (per-epoch curves).
        case lines
    }

    /// One named set of points, one legend entry.
    public struct Series: Equatable, Sendable {
        public var name: String
        public var points: [Point]

        public init(name: String, points: [Point]) {
            self.name = name
            self.points = points
        }
    }

    public struct Point: Equatable, Sendable {
        public var x: Double
        public var y: Double

        public init(x: Double, y: Double) {
            self.x = x
            self.y = y
        }
    }

    /// The PNG's file name.
    public var fileName: String
    /// The title's first line: what is plotted.
    public var title: String
    /// The title's second line: the data set and recipe.
    public var subtitle: String
    /// Axis labels, with units.
    public var xLabel: String
    public var yLabel: String
    public var style: Style
    public var series: [Series]
    /// Whether the x axis counts whole steps (epochs), so its tics are integers.
    public var integerX = false
    /// Whether both axes are logarithmic (quantities that grow as powers of the x value).
    public var logarithmic = false

    public init(
        fileName: String, title: String, subtitle: String, xLabel: String, yLabel: String, style: Style, series: [Series], integerX: Bool = false,
        logarithmic: Bool = false
    ) {
        self.fileName = fileName
        self.title = title
        self.subtitle = subtitle
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.style = style
        // Points that are not finite (a diverged run's), or not positive on logarithmic axes,
        // have no place on an axis; a series left without points has no place in the legend.
        let drawable = { (point: Point) in point.x.isFinite && point.y.isFinite && (!logarithmic || (point.x > 0 && point.y > 0)) }
        self.series = series.map { Series(name: $0.name, points: $0.points.filter(drawable)) }.filter { !$0.points.isEmpty }
        self.integerX = integerX
        self.logarithmic = logarithmic
    }

    /// Whether there is nothing to draw.
    public var isEmpty: Bool { series.isEmpty }

    /// The colour of the series at `index` (#RRGGBB): distinct hues for up to twelve series,
    /// repeated after that. Tests look for these colours in the drawn image.
    public static func colour(ofSeries index: Int) -> String {
        palette[index % palette.count]
    }

    private static let palette = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#000080", "#800000",
    ]
}
