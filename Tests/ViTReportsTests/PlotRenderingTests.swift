import Foundation
import ViTReports
import XCTest

/// The plots of known results, drawn by gnuplot: each decodes as a PNG of at least
/// 1000 x 700 pixels, is not blank, and holds every series' colour.
final class PlotRenderingTests: TemporaryFolderTestCase {

    /// Draws `plots` and checks each image against its series.
    private func checkDrawn(_ plots: [Plot], file: StaticString = #filePath, line: UInt = #line) throws {
        let written = try plotter().render(plots, into: folder)
        XCTAssertEqual(written.map(\.lastPathComponent), plots.map(\.fileName), file: file, line: line)
        for (plot, url) in zip(plots, written) {
            let image = try drawnImage(url, file: file, line: line)
            for index in plot.series.indices {
                // A marker's inside is its series' colour exactly (edges are blended).
                XCTAssertGreaterThan(
                    image.count(ofColour: Plot.colour(ofSeries: index)), 20,
                    "\(plot.fileName) does not show series \(plot.series[index].name)", file: file, line: line)
            }
        }
    }

    func testComparisonPlotsShowEveryMechanismThatHasFigures() throws {
        let plots = ComparisonPlots.plots(
            for: [Fixtures.standard, Fixtures.linear, Fixtures.performer], recipe: "fashion-mnist, 2 epochs, muon lr 0.004")
        XCTAssertEqual(
            plots.map(\.fileName),
            [
                "accuracy_vs_training_time.png", "accuracy_vs_macs.png", "accuracy_vs_peak_memory.png", "test_top1_per_epoch.png",
                "epoch_seconds.png",
            ])
        // The diverged mechanism has no final accuracy, so no point; its epoch still has a curve.
        XCTAssertEqual(plots[0].series.map(\.name), ["standard", "performer"])
        XCTAssertEqual(plots[0].series[0].points, [Plot.Point(x: 210, y: 90.55)])
        XCTAssertEqual(plots[1].series[1].points, [Plot.Point(x: 5, y: 85.126)])
        XCTAssertEqual(plots[3].series.map(\.name), ["standard", "linear", "performer"])
        XCTAssertTrue(plots[0].subtitle.hasSuffix("(not shown, diverged: linear)"))
        XCTAssertFalse(plots[3].subtitle.contains("diverged"))
        try checkDrawn(plots)
    }

    func testEpochCurvesOfTwoRuns() throws {
        let runs = [Fixtures.standard, Fixtures.performer].map { (name: $0.mechanism, epochs: $0.epochs) }
        let plots = [EpochCurve.loss, .top1, .learningRate, .epochSeconds].map { $0.plot(runs: runs, subtitle: "fashion-mnist") }
        XCTAssertEqual(plots[0].series.map(\.name), ["standard train", "standard test", "performer train", "performer test"])
        XCTAssertEqual(plots[2].series[0].points, [Plot.Point(x: 1, y: Double(Float(0.004))), Plot.Point(x: 2, y: Double(Float(0.002)))])
        try checkDrawn(plots)
    }

    func testMechanismsAtTheSamePointShareALabelAndBothShow() throws {
        let point = [Plot.Point(x: 4.07, y: 20.7)]
        let plot = Plot(
            fileName: "same_point.png", title: "Test top-1 accuracy against MACs per image", subtitle: "fashion-mnist",
            xLabel: "multiply-accumulates per image (millions)", yLabel: "test top-1 accuracy (%)", style: .labelledPoints,
            series: [
                Plot.Series(name: "standard", points: point), Plot.Series(name: "linear", points: [Plot.Point(x: 2.77, y: 22.7)]),
                Plot.Series(name: "naive", points: point),
            ])
        let script = Gnuplot.script(for: plot, output: folder.appendingPathComponent("same_point.png"))
        XCTAssertEqual(script.components(separatedBy: "with labels").count - 1, 2, script)
        XCTAssertTrue(script.contains("(\"standard, naive\")"), script)
        try checkDrawn([plot])
    }

    func testAPlotWithoutFinitePointsIsNotDrawn() throws {
        let plot = Plot(
            fileName: "empty.png", title: "t", subtitle: "s", xLabel: "x", yLabel: "y", style: .lines,
            series: [Plot.Series(name: "diverged", points: [Plot.Point(x: 1, y: .nan)])])
        XCTAssertTrue(plot.isEmpty)
        XCTAssertEqual(try plotter().render([plot], into: folder), [])
    }

    func testAMissingGnuplotNamesThePackage() {
        XCTAssertThrowsError(try Gnuplot(environment: ["PATH": folder.path])) { error in
            XCTAssertTrue("\(error)".contains("gnuplot-nox"), "\(error)")
        }
    }
}
