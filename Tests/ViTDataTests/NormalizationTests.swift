import ViTCore
import ViTData
import XCTest

final class NormalizationTests: XCTestCase {
    /// A two-channel data set with different value ranges per channel.
    private func makeDataset(count: Int = 20) throws -> Dataset {
        var generator = SeededRandomGenerator(seed: 3)
        var pixels: [UInt8] = []
        for _ in 0..<count {
            pixels += (0..<16).map { _ in UInt8(generator.next(below: 100)) }  // channel 0: 0..<100
            pixels += (0..<16).map { _ in UInt8(150 + generator.next(below: 106)) }  // channel 1: 150...255
        }
        return try Dataset(
            name: "synthetic", images: pixels, labels: (0..<count).map { Int32($0 % 3) }, channels: 2, height: 4,
            width: 4, classCount: 3)
    }

    func testStatisticsMatchADirectComputation() throws {
        let dataset = try makeDataset()
        let statistics = ChannelStatistics(computedOver: dataset)
        XCTAssertEqual(statistics.channels, 2)
        for channel in 0..<2 {
            var values: [Double] = []
            for image in 0..<dataset.count {
                let start = image * 32 + channel * 16
                values += dataset.images[start..<(start + 16)].map { Double($0) / 255 }
            }
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
            XCTAssertEqual(Double(statistics.mean[channel]), mean, accuracy: 1e-6)
            XCTAssertEqual(Double(statistics.standardDeviation[channel]), variance.squareRoot(), accuracy: 1e-6)
        }
        XCTAssertLessThan(statistics.mean[0], statistics.mean[1])
    }

    func testNormalisedDataHasZeroMeanAndUnitDeviationPerChannel() throws {
        let dataset = try makeDataset()
        let normalizer = Normalizer(statistics: ChannelStatistics(computedOver: dataset))
        let values = normalizer.normalize(dataset)
        XCTAssertEqual(values.count, dataset.images.count)
        for channel in 0..<2 {
            var sum = 0.0
            var sumOfSquares = 0.0
            var count = 0.0
            for image in 0..<dataset.count {
                for offset in 0..<16 {
                    let value = Double(values[image * 32 + channel * 16 + offset])
                    sum += value
                    sumOfSquares += value * value
                    count += 1
                }
            }
            let mean = sum / count
            XCTAssertEqual(mean, 0, accuracy: 1e-5)
            XCTAssertEqual((sumOfSquares / count - mean * mean).squareRoot(), 1, accuracy: 1e-4)
        }
    }

    func testNormalizerTableValues() {
        let normalizer = Normalizer(statistics: ChannelStatistics(mean: [0.5, 0.25], standardDeviation: [0.5, 0]))
        XCTAssertEqual(normalizer.value(of: 255, channel: 0), 1, accuracy: 1e-6)
        XCTAssertEqual(normalizer.zeroValue(channel: 0), -1, accuracy: 1e-6)
        // A zero deviation centres without scaling.
        XCTAssertEqual(normalizer.zeroValue(channel: 1), -0.25, accuracy: 1e-6)
    }

    func testPadToSizeCentresTheImage() throws {
        let pixels = FileContent.imagePixels(count: 2, rows: 28, columns: 28).map { $0 | 1 }  // no zero pixels
        let dataset = try Dataset(
            name: "small", images: pixels, labels: [1, 2], channels: 1, height: 28, width: 28, classCount: 3)
        let padded = try dataset.padded(toHeight: 32, width: 32)
        XCTAssertEqual(padded.height, 32)
        XCTAssertEqual(padded.width, 32)
        XCTAssertEqual(padded.labels, [1, 2])
        XCTAssertEqual(padded.images.count, 2 * 32 * 32)
        for image in 0..<2 {
            for row in 0..<32 {
                for column in 0..<32 {
                    let value = padded.images[image * 1024 + row * 32 + column]
                    if (2..<30).contains(row) && (2..<30).contains(column) {
                        XCTAssertEqual(value, pixels[image * 784 + (row - 2) * 28 + (column - 2)])
                    } else {
                        XCTAssertEqual(value, 0)
                    }
                }
            }
        }
        // Odd remainder goes to the bottom/right; same size is a no-op; smaller is an error.
        let odd = try dataset.padded(toHeight: 29, width: 31)
        XCTAssertEqual(odd.images[0 * 31 + 1], pixels[0])
        XCTAssertEqual(odd.images[28 * 31 + 1], 0)
        XCTAssertEqual(try dataset.padded(toHeight: 28, width: 28).images, pixels)
        assertDataError(["smaller"]) { _ = try dataset.padded(toHeight: 27, width: 32) }
    }

    /// 2x2 to 4x4 as PyTorch's bilinear interpolate with align_corners=False gives it
    /// (worked by hand: target centres map to 0, 0.25, 0.75 and 1 in source pixels).
    func testResizeIsBilinearWithAlignedPixelCentres() throws {
        let dataset = try Dataset(name: "tiny", images: [0, 100, 200, 255], labels: [4], channels: 1, height: 2, width: 2, classCount: 5)
        let resized = try dataset.resized(toHeight: 4, width: 4)
        XCTAssertEqual(
            resized.images,
            [
                0, 25, 75, 100,
                50, 72, 117, 139,
                150, 167, 200, 216,
                200, 214, 241, 255,
            ])
        XCTAssertEqual(resized.labels, [4])
        let flat = try Dataset(
            name: "flat", images: [UInt8](repeating: 37, count: 2 * 3 * 28 * 28), labels: [0, 1], channels: 3,
            height: 28, width: 28, classCount: 2)
        let enlarged = try flat.resized(toHeight: 32, width: 32)
        XCTAssertEqual(enlarged.images, [UInt8](repeating: 37, count: 2 * 3 * 32 * 32))
        XCTAssertEqual(try flat.resized(toHeight: 28, width: 28).images, flat.images)
        assertDataError(["not a positive size"]) { _ = try flat.resized(toHeight: 0, width: 32) }
    }

    func testDatasetValidatesItsArrays() {
        assertDataError(["bad", "labels"]) {
            _ = try Dataset(name: "bad", images: [0, 0, 0], labels: [0, 0], channels: 1, height: 1, width: 1, classCount: 2)
        }
        assertDataError(["bad", "label 5"]) {
            _ = try Dataset(name: "bad", images: [0], labels: [5], channels: 1, height: 1, width: 1, classCount: 2)
        }
    }

    func testSubsetAndPrefix() throws {
        let dataset = try makeDataset(count: 5)
        let subset = try dataset.subset([4, 0, 4])
        XCTAssertEqual(subset.labels, [dataset.labels[4], dataset.labels[0], dataset.labels[4]])
        XCTAssertEqual(Array(subset.image(at: 1)), Array(dataset.image(at: 0)))
        XCTAssertEqual(try dataset.prefix(2).count, 2)
        XCTAssertEqual(try dataset.prefix(50).count, 5)
        assertDataError(["index 5"]) { _ = try dataset.subset([5]) }
    }
}
