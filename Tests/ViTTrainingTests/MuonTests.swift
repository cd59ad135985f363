import ViTBackends
import ViTCore
import ViTNN
import ViTTraining
import XCTest

final class MuonTests: XCTestCase {
    private let cpu = try! DeviceRegistry.shared.backend(for: .cpu)

    /// The Newton-Schulz iteration in double precision on the host, for reference.
    private func referenceOrthogonalize(_ values: [Float], rows: Int, columns: Int) -> [Double] {
        let tall = rows > columns
        // Work on the wide orientation: X [side, long].
        let (side, long) = (min(rows, columns), max(rows, columns))
        var x = [Double](repeating: 0, count: rows * columns)
        for row in 0..<rows {
            for column in 0..<columns {
                x[tall ? column * rows + row : row * columns + column] = Double(values[row * columns + column])
            }
        }
        let norm = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
        x = x.map { $0 / (norm + 1e-7) }
        let (a, b, c) = (3.4445, -4.7750, 2.0315)
        for _ in 0..<5 {
            var gram = [Double](repeating: 0, count: side * side)
            for i in 0..<side {
                for j in 0..<side { gram[i * side + j] = (0..<long).reduce(0) { $0 + x[i * long + $1] * x[j * long + $1] } }
            }
            var polynomial = gram.map { b * $0 }
            for i in 0..<side {
                for j in 0..<side { polynomial[i * side + j] += c * (0..<side).reduce(0) { $0 + gram[i * side + $1] * gram[$1 * side + j] } }
            }
            var next = x.map { a * $0 }
            for i in 0..<side {
                for j in 0..<long { next[i * long + j] += (0..<side).reduce(0) { $0 + polynomial[i * side + $1] * x[$1 * long + j] } }
            }
            x = next
        }
        var result = [Double](repeating: 0, count: rows * columns)
        for row in 0..<rows {
            for column in 0..<columns { result[row * columns + column] = x[tall ? column * rows + row : row * columns + column] }
        }
        return result
    }

    /// Wide and tall matrices match the double-precision iteration, and come out nearly
    /// orthogonal: the smaller Gram matrix is close to the identity (the quintic leaves
    /// singular values in about [0.7, 1.2], so its diagonal lies in about [0.5, 1.45]).
    func testOrthogonalizeMatchesTheReferenceAndFlattensTheSpectrum() throws {
        for (rows, columns) in [(12, 40), (40, 12), (16, 16)] {
            let values = KernelFamilies.values(rows * columns, seed: UInt32(rows), scale: 1)
            let matrix = try Tensor(values, shape: [rows, columns], on: cpu)
            let result = try Muon.orthogonalize(matrix, rows: rows, columns: columns).toArray()
            let reference = referenceOrthogonalize(values, rows: rows, columns: columns)
            // Five rounds of products over at most 40 terms in float32: errors of order
            // 40 x 6e-8 per product, amplified by the polynomial's slope (at most about 5).
            for (actual, expected) in zip(result, reference) {
                XCTAssertEqual(Double(actual), expected, accuracy: 1e-4, "\(rows) x \(columns)")
            }
            let (side, long) = (min(rows, columns), max(rows, columns))
            for i in 0..<side {
                let diagonal = (0..<long).reduce(Double(0)) { sum, index in
                    let value = rows > columns ? reference[index * columns + i] : reference[i * columns + index]
                    return sum + value * value
                }
                XCTAssertGreaterThan(diagonal, 0.45, "\(rows) x \(columns) row \(i)")
                XCTAssertLessThan(diagonal, 1.5, "\(rows) x \(columns) row \(i)")
            }
        }
    }

    /// One step: the blocks' matrices move by the scaled orthogonal factor of the gradient
    /// (after decoupled weight decay); every other parameter moves exactly as AdamW moves it.
    func testStepUpdatesBlockMatricesByTheOrthogonalFactorAndTheRestByAdamW() throws {
        var configuration = ViTConfiguration()
        configuration.numHiddenLayers = 1
        configuration.numChannels = 1
        let images = try Tensor(KernelFamilies.values(4 * 32 * 32, seed: 5, scale: 1), shape: [4, 1, 32, 32], on: cpu)
        let labels = try Tensor([0, 1, 2, 3], shape: [4], on: cpu)
        func trainedModel(_ makeOptimizer: ([OptimizedParameter]) throws -> Optimizer) throws -> (
            VisionTransformer, [String: [Float]], [String: [Float]]
        ) {
            let model = try VisionTransformer(configuration: configuration, on: cpu, seed: 2)
            let before = Dictionary(uniqueKeysWithValues: try model.namedParameters.map { ($0.name, try $0.tensor.toArray()) })
            let optimizer = try makeOptimizer(model.optimizedParameters)
            let loss = try crossEntropy(logits: model(images, context: ForwardContext(training: true, seed: 1, step: 0)), labels: labels)
            try loss.backward()
            let gradients = Dictionary(uniqueKeysWithValues: try model.namedParameters.map { ($0.name, try $0.tensor.gradient!.toArray()) })
            try optimizer.step(learningRate: 0.01)
            return (model, before, gradients)
        }
        let (muonModel, start, gradients) = try trainedModel { try Muon(parameters: $0, weightDecay: 0.1) }
        let (adamModel, _, _) = try trainedModel { try AdamW(parameters: $0, weightDecay: 0.1) }
        for ((name, muonTensor), (_, adamTensor)) in zip(muonModel.namedParameters, adamModel.namedParameters) {
            let after = try muonTensor.toArray()
            guard name.hasPrefix("blocks.") && muonTensor.shape.rank == 2 else {
                XCTAssertEqual(after, try adamTensor.toArray(), name)
                continue
            }
            let (rows, columns) = (muonTensor.shape[0], muonTensor.shape[1])
            // Step 1: buffer = g, direction = g + 0.95 g, whose orthogonal factor is g's.
            let factor = referenceOrthogonalize(gradients[name]!, rows: rows, columns: columns)
            let scale = 0.2 * Double(max(rows, columns)).squareRoot()
            for (index, value) in after.enumerated() {
                let expected = Double(start[name]![index]) * (1 - 0.01 * 0.1) - 0.01 * scale * factor[index]
                XCTAssertEqual(Double(value), expected, accuracy: 1e-5, "\(name)[\(index)]")
            }
        }
    }
}
