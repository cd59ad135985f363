import CTileKernels
import Foundation
import ViTBackends
import XCTest

/// The C kernels under the CPU flash attention, against plain double-precision loops:
/// every row remainder of the 6-row block, both column widths, A read transposed, and the
/// accumulate path; the exponentials' masked tail and their -inf and underflow limits.
final class TileKernelTests: XCTestCase {
    func testSmallProductAgainstPlainLoops() {
        for (rows, columns, depth) in [(1, 8, 1), (5, 16, 12), (6, 24, 32), (7, 40, 65), (13, 72, 3)] {
            for transposed in [false, true] {
                for accumulate in [false, true] {
                    let a = KernelFamilies.values(rows * depth, seed: 7)
                    let b = KernelFamilies.values(depth * columns, seed: 8)
                    let start = KernelFamilies.values(rows * columns, seed: 9)
                    var c = start
                    // A(i, l) at a[i rowStride + l depthStride]: row-major, or stored as A^T.
                    let (rowStride, depthStride) = transposed ? (1, rows) : (depth, 1)
                    vit_small_product(rows, columns, depth, 0.5, a, rowStride, depthStride, b, columns, &c, columns, accumulate ? 1 : 0)
                    for row in 0..<rows {
                        for column in 0..<columns {
                            var expected = 0.0
                            var magnitude = 0.0
                            for step in 0..<depth {
                                let term = Double(a[row * rowStride + step * depthStride]) * Double(b[step * columns + column])
                                expected += term
                                magnitude += abs(term)
                            }
                            expected = 0.5 * expected + (accumulate ? Double(start[row * columns + column]) : 0)
                            // A float32 sum of `depth` products errs by at most about depth u sum |terms|
                            // (u = ulpOfOne / 2); twice that, plus the final scaling and addition.
                            let tolerance = Double(Float.ulpOfOne) * (Double(depth) * magnitude + abs(expected)) + 1e-7
                            XCTAssertEqual(
                                Double(c[row * columns + column]), expected, accuracy: tolerance,
                                "rows \(rows) columns \(columns) depth \(depth) transposed \(transposed) accumulate \(accumulate)")
                        }
                    }
                }
            }
        }
    }

    func testExponentiateTailAndLimits() {
        for count in [1, 7, 8, 13, 16, 37] {
            let source = KernelFamilies.values(count, seed: 11, scale: 4)
            var values = source + [42]  // One float past the end that must stay untouched.
            let shift: Float = 3
            let sum = vit_exponentiate(&values, count, shift)
            var expectedSum = 0.0
            for index in 0..<count {
                let expected = Foundation.exp(Double(source[index] - shift))
                expectedSum += expected
                // VectorMath's exp: within 1.28 ulp; 2 allows the argument's rounding.
                XCTAssertEqual(Double(values[index]), expected, accuracy: 2 * Double(Float.ulpOfOne) * expected, "count \(count) index \(index)")
            }
            XCTAssertEqual(values[count], 42, "count \(count): wrote past the end")
            XCTAssertEqual(Double(sum), expectedSum, accuracy: 1e-5 * expectedSum, "count \(count)")
        }
        var limits: [Float] = [-.infinity, -200, -87.9, 0, 88, -.infinity, -.infinity, -.infinity]
        _ = vit_exponentiate(&limits, limits.count, 0)
        XCTAssertEqual(limits[0], 0)
        XCTAssertEqual(limits[1], 0)
        XCTAssertEqual(limits[2], 0)
        XCTAssertEqual(limits[3], 1)
        XCTAssertEqual(Double(limits[4]), Foundation.exp(88.0), accuracy: 2 * Double(Float.ulpOfOne) * Foundation.exp(88.0))
    }
}
