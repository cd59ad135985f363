import Foundation

/// Attention maps drawn over their images: one row per image, the image first, then one
/// map per column, each the patch grid's weights scaled to that map's largest, shown on the
/// image patch by patch (each patch's pixels take its weight) as red to yellow over the
/// darkened image.
public struct AttentionMapFigure: Equatable, Sendable {
    /// An image as drawn: channels x height x width values in 0...1 (one channel: grey).
    public struct Image: Equatable, Sendable {
        public var channels: Int
        public var height: Int
        public var width: Int
        public var pixels: [Double]

        public init(channels: Int, height: Int, width: Int, pixels: [Double]) {
            precondition(channels == 1 || channels == 3, "grey or RGB images")
            precondition(pixels.count == channels * height * width, "channels x height x width pixels")
            (self.channels, self.height, self.width, self.pixels) = (channels, height, width, pixels)
        }

        /// Pixel (row, column) as red, green and blue in 0...1.
        func colour(row: Int, column: Int) -> [Double] {
            let offset = row * width + column
            return channels == 1 ? Array(repeating: pixels[offset], count: 3) : (0..<3).map { pixels[$0 * height * width + offset] }
        }
    }

    /// A map and the heading of its column.
    public struct Map: Equatable, Sendable {
        public var title: String
        /// Weights over a square patch grid, row by row.
        public var weights: [Double]

        public init(title: String, weights: [Double]) {
            self.title = title
            self.weights = weights
        }
    }

    /// One image and its maps.
    public struct Row: Equatable, Sendable {
        /// The image's heading (which test image, its class).
        public var label: String
        public var image: Image
        public var maps: [Map]

        public init(label: String, image: Image, maps: [Map]) {
            self.label = label
            self.image = image
            self.maps = maps
        }
    }

    /// The title's lines: what is shown, the data set, checkpoint and mechanism, how it is computed.
    public var title: [String]
    public var rows: [Row]

    public init(title: [String], rows: [Row]) {
        precondition(!rows.isEmpty && Set(rows.map(\.maps.count)).count == 1, "rows with the same number of maps")
        self.title = title
        self.rows = rows
    }

    /// Pixels per column and row: room for a readable image and its heading.
    static let cellWidth = 190
    static let cellHeight = 200
    /// Pixels per title line.
    static let lineHeight = 22

    /// Pixels of the first row's headings, between the title and the images.
    static let headingHeight = 40
    /// About the width of a title character in pixels (DejaVu Sans at 13 points), a little
    /// generous so that lines of wide letters fit too.
    static let characterWidth = 10

    /// The image size in pixels (at least gnuplot's default).
    public var size: (width: Int, height: Int) {
        let width = max(Gnuplot.width, Self.cellWidth * (rows[0].maps.count + 1))
        return (width, max(Gnuplot.height, Self.cellHeight * rows.count + titleHeight(width: width)))
    }

    /// The title's lines broken at spaces to fit `width` pixels.
    func titleLines(width: Int) -> [String] {
        let limit = width / Self.characterWidth
        return title.flatMap { line -> [String] in
            var broken: [String] = []
            for word in line.split(separator: " ") {
                if let last = broken.last, last.count + 1 + word.count <= limit {
                    broken[broken.count - 1] = last + " " + word
                } else {
                    broken.append(String(word))
                }
            }
            return broken
        }
    }

    /// Pixels above the images: the title's lines and the first row's headings.
    func titleHeight(width: Int) -> Int {
        Self.lineHeight * titleLines(width: width).count + Self.headingHeight
    }

    /// The gnuplot script that draws the figure into `output`.
    public func script(output: URL) -> String {
        let (width, height) = size
        let top = 1 - Double(titleHeight(width: width)) / Double(height)
        var lines = Gnuplot.header(output: output, width: width, height: height)
        lines += [
            "set multiplot layout \(rows.count),\(rows[0].maps.count + 1) title \(Gnuplot.quoted(titleLines(width: width).joined(separator: "\n")))"
                + " margins 0.01,0.99,0.01,\(top) spacing 0.01,0.06",
            "unset key", "unset tics", "unset border", "set size ratio -1",
        ]
        var cell = 0
        for row in rows {
            let image = row.image
            lines += ["set xrange [-0.5:\(Double(image.width) - 0.5)]", "set yrange [-0.5:\(Double(image.height) - 0.5)]"]
            let cells = [(row.label, nil as [Double]?)] + row.maps.map { ($0.title, $0.weights as [Double]?) }
            for (heading, weights) in cells {
                lines.append("$cell\(cell) << EOD")
                lines += raster(image, weights: weights)
                lines += ["EOD", "set title \(Gnuplot.quoted(heading))", "plot $cell\(cell) using 1:2:3:4:5 with rgbimage"]
                cell += 1
            }
        }
        lines.append("unset multiplot")
        return lines.joined(separator: "\n") + "\n"
    }

    /// "x y red green blue" (0-255) for every pixel of `image`, row 0 at the top, with
    /// `weights` over its patch grid overlaid when given.
    func raster(_ image: Image, weights: [Double]?) -> [String] {
        let side = weights.map { Int(Double($0.count).squareRoot().rounded()) } ?? 1
        let largest = weights?.max() ?? 0
        var lines: [String] = []
        lines.reserveCapacity(image.height * image.width)
        for row in 0..<image.height {
            for column in 0..<image.width {
                var colour = image.colour(row: row, column: column)
                if let weights {
                    let patch = (row * side / image.height) * side + column * side / image.width
                    // Relative to the map's largest weight; Nystromformer's slightly negative weights count as none.
                    let level = largest > 0 ? min(max(weights[patch] / largest, 0), 1) : 0
                    let opacity = 0.8 * level
                    colour = zip(colour, [1, level, 0]).map { (1 - opacity) * 0.7 * $0 + opacity * $1 }
                }
                let bytes = colour.map { String(Int((min(max($0, 0), 1) * 255).rounded())) }
                lines.append("\(column) \(image.height - 1 - row) " + bytes.joined(separator: " "))
            }
        }
        return lines
    }
}

extension Gnuplot {
    /// Writes `figure` to `url` as a PNG.
    public func render(_ figure: AttentionMapFigure, to url: URL) throws {
        try render(script: figure.script(output: url), to: url)
    }
}
