import ViTCore
import ViTData
import XCTest

final class AugmentationTests: XCTestCase {
    private let channels = 2
    private let height = 5
    private let width = 6

    /// Pixels 1... so that zero can only come from padding.
    private var image: [UInt8] { (0..<(2 * 5 * 6)).map { UInt8($0 + 1) } }

    private func pixel(_ values: [UInt8], _ channel: Int, _ row: Int, _ column: Int) -> UInt8 {
        values[(channel * height + row) * width + column]
    }

    func testFlipIsAMirror() {
        let flipped = ImageAugmenter.apply(
            AugmentationParameters(shiftY: 0, shiftX: 0, flip: true), to: image, channels: channels, height: height,
            width: width)
        for channel in 0..<channels {
            for row in 0..<height {
                for column in 0..<width {
                    XCTAssertEqual(pixel(flipped, channel, row, column), pixel(image, channel, row, width - 1 - column))
                }
            }
        }
        let twice = ImageAugmenter.apply(
            AugmentationParameters(shiftY: 0, shiftX: 0, flip: true), to: flipped, channels: channels, height: height,
            width: width)
        XCTAssertEqual(twice, image)
        XCTAssertEqual(
            ImageAugmenter.apply(.identity, to: image, channels: channels, height: height, width: width), image)
    }

    /// The reference: pad by P with zeros, crop at (i, j), then mirror.
    private func reference(_ image: [UInt8], padding: Int, i: Int, j: Int, flip: Bool) -> [UInt8] {
        var output: [UInt8] = []
        for channel in 0..<channels {
            for row in 0..<height {
                for column in 0..<width {
                    let cropColumn = flip ? width - 1 - column : column
                    let sourceRow = row + i - padding
                    let sourceColumn = cropColumn + j - padding
                    if (0..<height).contains(sourceRow) && (0..<width).contains(sourceColumn) {
                        output.append(pixel(image, channel, sourceRow, sourceColumn))
                    } else {
                        output.append(0)
                    }
                }
            }
        }
        return output
    }

    func testCropMatchesPaddedCropReferenceForEveryOffset() {
        for padding in [1, 3, 7] {  // 7 exceeds the width: whole rows and columns of padding
            for i in 0...(2 * padding) {
                for j in 0...(2 * padding) {
                    for flip in [false, true] {
                        let parameters = AugmentationParameters(shiftY: i - padding, shiftX: j - padding, flip: flip)
                        let output = ImageAugmenter.apply(
                            parameters, to: image, channels: channels, height: height, width: width)
                        XCTAssertEqual(output.count, image.count)
                        XCTAssertEqual(
                            output, reference(image, padding: padding, i: i, j: j, flip: flip),
                            "padding \(padding) offset (\(i), \(j)) flip \(flip)")
                    }
                }
            }
        }
    }

    func testDrawsAreDeterministicPerSeedAndCoverTheRange() {
        let augmentation = Augmentation(cropPadding: 2, horizontalFlip: true)
        var first = SeededRandomGenerator(seed: 11)
        var second = SeededRandomGenerator(seed: 11)
        let a = (0..<500).map { _ in augmentation.draw(using: &first) }
        let b = (0..<500).map { _ in augmentation.draw(using: &second) }
        XCTAssertEqual(a, b)
        XCTAssertEqual(Set(a.map(\.shiftY)), Set(-2...2))
        XCTAssertEqual(Set(a.map(\.shiftX)), Set(-2...2))
        let flips = a.filter(\.flip).count
        XCTAssertGreaterThan(flips, 200)
        XCTAssertLessThan(flips, 300)
        var third = SeededRandomGenerator(seed: 12)
        XCTAssertNotEqual((0..<500).map { _ in augmentation.draw(using: &third) }, a)

        var generator = SeededRandomGenerator(seed: 1)
        XCTAssertEqual(Augmentation.none.draw(using: &generator), .identity)
        XCTAssertTrue(Augmentation.none.isIdentity)
        XCTAssertFalse(Augmentation.standard.isIdentity)
    }

    func testNormalisedWriteUsesZeroValueForPadding() {
        let normalizer = Normalizer(statistics: ChannelStatistics(mean: [0.5, 0.1], standardDeviation: [0.25, 0.2]))
        let parameters = AugmentationParameters(shiftY: -1, shiftX: 2, flip: true)
        var output = [Float](repeating: .nan, count: image.count)
        image.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                ImageAugmenter.write(
                    image: source.baseAddress!, channels: channels, height: height, width: width,
                    parameters: parameters, normalizer: normalizer, into: destination.baseAddress!)
            }
        }
        let bytes = ImageAugmenter.apply(parameters, to: image, channels: channels, height: height, width: width)
        for index in 0..<image.count {
            let channel = index / (height * width)
            XCTAssertEqual(output[index], normalizer.value(of: bytes[index], channel: channel))
        }
        // Row 0 comes from the padding: the normalised value of pixel 0.
        XCTAssertEqual(output[0], (0 - 0.5) / 0.25, accuracy: 1e-6)
        XCTAssertEqual(output[height * width], (0 - 0.1) / 0.2, accuracy: 1e-6)
    }
}
