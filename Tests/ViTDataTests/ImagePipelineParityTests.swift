import Foundation
import XCTest

@testable import ViTData

/// The image pipeline against Pillow and torchvision, on the files and tensors that
/// Tools/make_image_fixture.py wrote into Fixtures/images.
final class ImagePipelineParityTests: XCTestCase {
    private struct Manifest: Decodable {
        struct Case: Decodable {
            let image: String
            let channels: Int
            let interpolation: String
            let crop: [Int]?
            let flip: Bool
            let tensor: String
        }
        let size: Int
        let images: [String]
        let cases: [Case]
    }

    private let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/images")

    private func manifest() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: folder.appendingPathComponent("manifest.json")))
    }

    /// Decoding is exact: every colour type gives Pillow's `convert("RGB")` bytes.
    func testDecodingGivesPillowsPixels() throws {
        let decoder = try ImageDecoder()
        for name in try manifest().images {
            let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
            let expected = [UInt8](try Data(contentsOf: folder.appendingPathComponent(name + ".rgb")))
            let image = try bytes.withUnsafeBytes { bytes in
                let header = try decoder.header(of: bytes, path: name)
                return try decoder.decode(bytes, header: header, path: name, channels: 3)
            }
            XCTAssertEqual(image.pixels.count, expected.count, name)
            let differing = zip(image.pixels, expected).filter { $0 != $1 }.count
            XCTAssertEqual(differing, 0, "\(name): \(differing) of \(expected.count) bytes differ from Pillow's")
        }
    }

    /// The train (given crop and flip) and eval pipelines give torchvision's tensors. The
    /// pixels before normalisation are exact (Pillow 13's fixed-point resampling is reproduced,
    /// its choice of which pass runs first included; Pillow 12 and earlier always start
    /// horizontally and differ by one level at some sizes),
    /// so the only difference is the normalisation's rounding: torchvision computes
    /// (x / 255 - mean) / std in float32, three roundings of values below 2.7 in magnitude,
    /// each at most half an ulp (1.2e-7 there), against one rounding of the exact value here.
    func testTrainAndEvalPipelinesMatchTorchvision() throws {
        let manifest = try manifest()
        let decoder = try ImageDecoder()
        let tolerance: Float = 5e-7
        for (index, fixture) in manifest.cases.enumerated() {
            var preprocessing = ImagePreprocessing(channels: fixture.channels)
            preprocessing.interpolation = try XCTUnwrap(Interpolation(rawValue: fixture.interpolation))
            preprocessing.dctScaling = false
            let output = try render(fixture, preprocessing: preprocessing, size: manifest.size, decoder: decoder)
            let expected = try Data(contentsOf: folder.appendingPathComponent(fixture.tensor)).withUnsafeBytes {
                Array($0.bindMemory(to: Float.self))
            }
            XCTAssertEqual(output.count, expected.count, "case \(index)")
            let worst = zip(output, expected).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(worst, tolerance, "case \(index) (\(fixture.image), \(fixture.interpolation), crop \(fixture.crop ?? []))")
        }
    }

    /// DCT scaling decodes large JPEGs at a fraction of their size: not torchvision's pixels,
    /// but close to them. The fixture's 97 x 73 photo, whose eval resize to 36 x 27 is covered
    /// at 3/8 scale, is the hard case: its pixel noise is averaged by the scaled IDCT instead
    /// of the antialiasing filter. Measured there: 5.1 grey levels mean absolute difference
    /// (0.089 in normalised units); the bound is 6 levels (BENCHMARKS.md gives the figure on
    /// photo-sized JPEGs at 224 px).
    func testDCTScalingStaysCloseToTheExactPipeline() throws {
        let manifest = try manifest()
        let decoder = try ImageDecoder()
        let fixture = try XCTUnwrap(manifest.cases.first { $0.image == "photo.jpg" && $0.crop == nil && $0.channels == 3 })
        var preprocessing = ImagePreprocessing()
        let exact = try { () -> [Float] in
            preprocessing.dctScaling = false
            return try render(fixture, preprocessing: preprocessing, size: manifest.size, decoder: decoder)
        }()
        preprocessing.dctScaling = true
        let samples = try makeSamples(fixture, preprocessing: preprocessing, size: manifest.size)
        let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(fixture.image)))
        let factor = try bytes.withUnsafeBytes { bytes in
            let header = try decoder.header(of: bytes, path: fixture.image)
            return samples.scalingFactor(
                for: header, crop: nil,
                evaluation: ResizeAndCenterCrop(width: header.width, height: header.height, shorter: 27, size: manifest.size))
        }
        XCTAssertLessThan(Double(factor.numerator) / Double(factor.denominator), 1, "the photo decodes scaled down")
        let scaled = try render(fixture, preprocessing: preprocessing, size: manifest.size, decoder: decoder)
        // In grey levels: normalised units times 255 times the channel's deviation.
        let deviations = ImagePreprocessing.imageNetStandardDeviation
        let plane = exact.count / 3
        let meanLevels =
            zip(exact, scaled).enumerated().map { Double(abs($1.0 - $1.1)) * 255 * deviations[$0 / plane] }.reduce(0, +) / Double(exact.count)
        XCTAssertGreaterThan(meanLevels, 0, "scaled decoding is an approximation")
        XCTAssertLessThan(meanLevels, 6)
    }

    private func makeSamples(_ fixture: Manifest.Case, preprocessing: ImagePreprocessing, size: Int) throws -> ImageFileSamples {
        let path = folder.appendingPathComponent(fixture.image).path
        let split = ImageFolderSplit(name: "fixture", folder: folder.path, files: [path], labels: [0], classNames: ["only"], ignoredFiles: 0)
        return try ImageFileSamples(split: split, preprocessing: preprocessing, size: size, channels: fixture.channels, training: false)
    }

    /// The fixture case through the pipeline: decoded, cropped or resized, normalised, CHW.
    private func render(_ fixture: Manifest.Case, preprocessing: ImagePreprocessing, size: Int, decoder: ImageDecoder) throws -> [Float] {
        let samples = try makeSamples(fixture, preprocessing: preprocessing, size: size)
        let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(fixture.image)))
        let pixels = try bytes.withUnsafeBytes { bytes in
            let header = try decoder.header(of: bytes, path: fixture.image)
            let crop = fixture.crop.map { CropBox(top: $0[0], left: $0[1], height: $0[2], width: $0[3]) }
            return try samples.render(bytes, header: header, crop: crop, path: fixture.image, decoder: decoder)
        }
        let table = Normalizer(statistics: preprocessing.statistics).table
        var output = [Float](repeating: .nan, count: pixels.count)
        table.withUnsafeBufferPointer { table in
            output.withUnsafeMutableBufferPointer { output in
                ImageFileSamples.normalize(
                    pixels, flip: fixture.flip, size: size, channels: fixture.channels, table: table.baseAddress!, into: output.baseAddress!)
            }
        }
        return output
    }
}
