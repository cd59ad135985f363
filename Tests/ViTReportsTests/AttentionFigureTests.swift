import Foundation
import ViTBackends
import ViTCore
import ViTNN
import ViTReports
import XCTest

/// Attention rollout on known matrices, the class token's maps read from attention
/// probabilities, and the two figures (attention maps over images, resolution scaling)
/// drawn by gnuplot: each decodes as a PNG of at least 1000 x 700 pixels that is not blank.
final class AttentionFigureTests: TemporaryFolderTestCase {
    private let backend = try! DeviceRegistry.shared.backend(for: .cpu)

    /// Two layers on two tokens, in binary fractions so every value is exact: A1 + I has rows
    /// (1.5, 0.5) and (0, 2), renormalised (0.75, 0.25) and (0, 1); A2 + I is all halves; the
    /// rollout is Â2 Â1, and the other order gives another matrix.
    func testRolloutOfKnownMatrices() {
        let first: [Double] = [0.5, 0.5, 0, 1]
        let second: [Double] = [0, 1, 1, 0]
        XCTAssertEqual(AttentionRollout.rollout([first], tokens: 2), [0.75, 0.25, 0, 1])
        XCTAssertEqual(AttentionRollout.rollout([first, second], tokens: 2), [0.375, 0.625, 0.375, 0.625])
        XCTAssertEqual(AttentionRollout.rollout([second, first], tokens: 2), [0.5, 0.5, 0.5, 0.5])
        XCTAssertEqual(AttentionRollout.rollout([], tokens: 2), [1, 0, 0, 1])
    }

    /// Maps of one image, 2 layers x 2 heads over 3 tokens (the class token and 2 patches):
    /// the class token's rows without its own entry, their head means, and the rollout's row.
    func testClassTokenAttentionFromMaps() throws {
        let layerOne: [Float] = [0.5, 0.25, 0.25, 0, 1, 0, 0, 0, 1] + [0, 0.5, 0.5, 0, 1, 0, 0, 0, 1]
        let layerTwo: [Float] = [1, 0, 0, 0, 1, 0, 0, 0, 1] + [0, 0, 1, 0, 1, 0, 0, 0, 1]
        let maps = try [layerOne, layerTwo].map { try Tensor($0, shape: [1, 2, 3, 3], on: backend) }
        let attention = try ClassTokenAttention(maps: maps)
        XCTAssertEqual(attention.layers, [[[0.25, 0.25], [0.5, 0.5]], [[0, 0], [0, 1]]])
        XCTAssertEqual(attention.headMean(layer: 0), [0.375, 0.375])
        XCTAssertEqual(attention.headMean(layer: 1), [0, 0.5])
        let means: [[Double]] = [[0.25, 0.375, 0.375, 0, 1, 0, 0, 0, 1], [0.5, 0, 0.5, 0, 1, 0, 0, 0, 1]]
        XCTAssertEqual(attention.rollout, Array(AttentionRollout.rollout(means, tokens: 3)[1..<3]))
        // Layer 1's class row: (1.25, 0.375, 0.375) / 2; layer 2's: (1.5, 0, 0.5) / 2; their product's row.
        XCTAssertEqual(attention.rollout[0], 0.75 * 0.1875 + 0.25 * 0, accuracy: 1e-15)
        XCTAssertEqual(attention.rollout[1], 0.75 * 0.1875 + 0.25 * 1, accuracy: 1e-15)
        XCTAssertEqual(attention.maps().map(\.title), ["layer 1, head mean", "layer 2, head mean", "rollout, all layers"])
        XCTAssertEqual(
            attention.maps(layer: 1).map(\.title), ["layer 2, head 1", "layer 2, head 2", "layer 2, head mean", "rollout, all layers"])
        XCTAssertThrowsError(try ClassTokenAttention(maps: [try Tensor.zeros([2, 2, 3, 3], on: backend)])) {
            XCTAssertTrue("\($0)".contains("one [1, heads, tokens, tokens] map per layer"), "\($0)")
        }
    }

    /// A small random ViT's maps of two synthetic images: one row per image, the image and
    /// every layer's head mean and the rollout, drawn with the attention in red to yellow.
    func testAttentionMapFigureOfATinyModelIsDrawn() throws {
        var configuration = ViTConfiguration()
        configuration.imageSize = 16
        configuration.patchSize = 4
        configuration.numChannels = 1
        configuration.numHiddenLayers = 3
        configuration.attention.kind = .linear
        let model = try VisionTransformer(configuration: configuration, on: backend)
        let rows = try (0..<2).map { index in
            // A bright square on a dark ground, in a different corner per image.
            let pixels = (0..<256).map { pixel -> Double in ((pixel / 16 < 8) == (index == 0) && pixel % 16 < 8) ? 0.9 : 0.1 }
            let maps = try model.attentionMaps(Tensor(pixels.map(Float.init), shape: [1, 1, 16, 16], on: backend))
            return AttentionMapFigure.Row(
                label: "test image \(index)", image: AttentionMapFigure.Image(channels: 1, height: 16, width: 16, pixels: pixels),
                maps: try ClassTokenAttention(maps: maps).maps())
        }
        let figure = AttentionMapFigure(title: ["Class token attention", "synthetic, random linear-attention ViT"], rows: rows)
        XCTAssertEqual(rows[0].maps.count, 4)
        let url = folder.appendingPathComponent("attention_maps.png")
        try plotter().render(figure, to: url)
        let image = try drawnImage(url)
        XCTAssertEqual([image.width, image.height], [figure.size.width, figure.size.height])
        // The overlay: pixels much redder than blue, which the grey images alone never give.
        let overlaid = image.pixels.filter { ($0 >> 16) & 0xff >= 150 && $0 & 0xff <= 80 }.count
        XCTAssertGreaterThan(overlaid, 1000, "no attention overlay drawn")
    }

    /// Benchmark rows of three mechanisms (naive stops at the quadratic limit): one line per
    /// mechanism in each of the four log-log graphs, in milliseconds and MiB.
    func testScalingPlotOfBenchmarkFigures() throws {
        func row(_ mechanism: String, _ tokens: Int, _ milliseconds: Double, _ mebibytes: Double) -> AttentionMeasurement {
            AttentionMeasurement(
                device: "cpu", mechanism: mechanism, tokens: tokens, forwardMilliseconds: milliseconds, forwardBackwardMilliseconds: 3 * milliseconds,
                forwardPeakBytes: Int(mebibytes * 1_048_576), forwardBackwardPeakBytes: Int(4 * mebibytes * 1_048_576))
        }
        let measurements = [
            row("standard", 65, 0.5, 1), row("standard", 257, 4, 4), row("standard", 1025, 50, 16),
            row("naive", 65, 0.75, 2), row("naive", 257, 8, 30),
            row("linear", 65, 0.3, 1), row("linear", 257, 1.2, 4), row("linear", 1025, 5, 16),
        ]
        let grid = AttentionScalingPlot.grid(for: measurements, setup: "random Q, K, V: batch 8, 8 heads, head size 32, cpu", fileName: "scaling.png")
        XCTAssertEqual(
            grid.panels.map(\.title), ["Forward time", "Forward + backward time", "Forward peak memory", "Forward + backward peak memory"])
        XCTAssertTrue(grid.panels.allSatisfy { $0.logarithmic && $0.series.map(\.name) == ["standard", "naive", "linear"] })
        XCTAssertEqual(grid.panels[1].series[1].points, [Plot.Point(x: 65, y: 2.25), Plot.Point(x: 257, y: 24)])
        XCTAssertEqual(grid.panels[3].series[0].points.map(\.y), [4, 16, 64])
        var other = row("linear", 65, 1, 1)
        other.device = "opencl:0"
        let twoDevices = AttentionScalingPlot.grid(for: [row("linear", 65, 1, 1), other], setup: "", fileName: "x.png")
        XCTAssertEqual(twoDevices.panels[0].series.map(\.name), ["linear (cpu)", "linear (opencl:0)"])
        let url = folder.appendingPathComponent(grid.fileName)
        try plotter().render(grid, to: url)
        let image = try drawnImage(url)
        for index in 0..<3 {
            XCTAssertGreaterThan(image.count(ofColour: Plot.colour(ofSeries: index)), 20, "series \(index) is not drawn")
        }
    }
}
