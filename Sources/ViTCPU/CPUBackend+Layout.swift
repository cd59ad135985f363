import Foundation
import ViTCore

/// Kernels that move or reduce along axes: sum, its adjoint broadcast, and permute.
extension CPUBackend {
    public func sum(_ input: DeviceStorage, output: DeviceStorage, outer: Int, axis: Int, inner: Int) throws {
        let (x, y) = (host(input), host(output))
        profiler.measure("sum") {
            if outer >= Parallel.coreCount || outer * axis * inner < Self.elementGrain {
                Parallel.forEachChunk(outer, grain: max(1, Self.elementGrain / max(axis * inner, 1))) { range in
                    for o in range { Self.sumSlice(x + o * axis * inner, y + o * inner, axis: 0..<axis, inner: inner, accumulate: false) }
                }
                return
            }
            // Few outer slices (a bias gradient: outer 1, axis = all rows): split the summed
            // axis over the cores and add the partial sums.
            for o in 0..<outer {
                let chunks = Parallel.chunkCount(axis, grain: max(1, Self.elementGrain / max(inner, 1)))
                let partials = UnsafeMutablePointer<Float>.allocate(capacity: chunks * inner)
                defer { partials.deallocate() }
                Parallel.forEachChunk(axis, grain: max(1, Self.elementGrain / max(inner, 1))) { range in
                    let chunk = range.lowerBound * chunks / axis
                    Self.sumSlice(x + o * axis * inner, partials + chunk * inner, axis: range, inner: inner, accumulate: false)
                }
                Self.sumSlice(partials, y + o * inner, axis: 0..<chunks, inner: inner, accumulate: false)
            }
        }
    }

    /// target[i] = sum over a in `axis` of source[a * inner + i].
    @inline(__always)
    private static func sumSlice(_ source: UnsafeMutablePointer<Float>, _ target: UnsafeMutablePointer<Float>, axis: Range<Int>, inner: Int, accumulate: Bool) {
        if !accumulate { target.update(repeating: 0, count: inner) }
        for a in axis {
            let row = source + a * inner
            for i in 0..<inner { target[i] += row[i] }
        }
    }

    public func broadcast(_ input: DeviceStorage, output: DeviceStorage, outer: Int, axis: Int, inner: Int) throws {
        let (x, y) = (host(input), host(output))
        profiler.measure("broadcast") {
            Parallel.forEachChunk(outer * axis, grain: max(1, Self.elementGrain / max(inner, 1))) { range in
                for slice in range {
                    (y + slice * inner).update(from: x + (slice / axis) * inner, count: inner)
                }
            }
        }
    }

    public func permute(_ input: DeviceStorage, output: DeviceStorage, shape: [Int], permutation: [Int]) throws {
        let (x, y) = (host(input), host(output))
        let rank = shape.count
        var inputStrides = [Int](repeating: 1, count: rank)
        for axis in stride(from: rank - 2, through: 0, by: -1) { inputStrides[axis] = inputStrides[axis + 1] * shape[axis + 1] }
        let outputShape = permutation.map { shape[$0] }
        // Stride in the input of each output axis.
        let strides = permutation.map { inputStrides[$0] }
        let innerLength = outputShape[rank - 1]
        let innerStride = strides[rank - 1]
        let outerCount = outputShape.dropLast().reduce(1, *)
        profiler.measure("permute") {
            Parallel.forEachChunk(outerCount, grain: max(1, Self.elementGrain / max(innerLength, 1))) { range in
                for outerIndex in range {
                    // Decompose the outer index into output coordinates, innermost first.
                    var remainder = outerIndex
                    var source = 0
                    for axis in stride(from: rank - 2, through: 0, by: -1) {
                        source += (remainder % outputShape[axis]) * strides[axis]
                        remainder /= outputShape[axis]
                    }
                    let target = y + outerIndex * innerLength
                    if innerStride == 1 {
                        target.update(from: x + source, count: innerLength)
                    } else {
                        for i in 0..<innerLength { target[i] = x[source + i * innerStride] }
                    }
                }
            }
        }
    }
}
