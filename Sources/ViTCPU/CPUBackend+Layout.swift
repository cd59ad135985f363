import Foundation
import ViTCore

/// Kernels that move or reduce along axes: sum, its adjoint broadcast, and permute.
extension CPUBackend: ReductionKernels, PermuteKernels {
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
                Parallel.forEachIndexedChunk(axis, grain: max(1, Self.elementGrain / max(inner, 1))) { chunk, range in
                    Self.sumSlice(x + o * axis * inner, partials + chunk * inner, axis: range, inner: inner, accumulate: false)
                }
                Self.sumSlice(partials, y + o * inner, axis: 0..<chunks, inner: inner, accumulate: false)
            }
        }
    }

    /// target[i] = sum over a in `axis` of source[a * inner + i], added in order of a.
    @inline(__always)
    private static func sumSlice(
        _ source: UnsafeMutablePointer<Float>, _ target: UnsafeMutablePointer<Float>, axis: Range<Int>, inner: Int, accumulate: Bool
    ) {
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
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        var inputStrides = [Int](repeating: 1, count: shape.count)
        for axis in stride(from: shape.count - 2, through: 0, by: -1) { inputStrides[axis] = inputStrides[axis + 1] * shape[axis + 1] }
        // The output's axes as (size, stride in the input), without axes of size 1, and with
        // neighbours merged where they are contiguous in the input too: fewer, longer loops
        // (an identity permutation becomes one copy).
        var sizes: [Int] = []
        var strides: [Int] = []
        for axis in permutation where shape[axis] > 1 {
            if let last = sizes.indices.last, strides[last] == inputStrides[axis] * shape[axis] {
                sizes[last] *= shape[axis]
                strides[last] = inputStrides[axis]
            } else {
                sizes.append(shape[axis])
                strides.append(inputStrides[axis])
            }
        }
        let rowLength = sizes.last ?? 1
        let rowStride = strides.last ?? 1
        // The other axes index rows, which are independent: loop over them in the input's
        // order (largest input stride outermost), so that reads run front to back and writes
        // form a few sequential streams; in the output's order, reads jump by whole tokens
        // (twice as slow for the attention head split).
        var loops: [PermuteLoop] = []
        var rowsInside = 1
        for axis in stride(from: sizes.count - 2, through: 0, by: -1) {
            loops.append(PermuteLoop(size: sizes[axis], source: strides[axis], target: rowsInside * rowLength))
            rowsInside *= sizes[axis]
        }
        loops.sort { $0.source > $1.source }
        let rowCount = count / rowLength
        profiler.measure("permute") {
            Parallel.forEachChunk(rowCount, grain: max(1, Self.elementGrain / rowLength)) { range in
                Self.permuteRows(x, y, range: range, rowLength: rowLength, rowStride: rowStride, loops: loops)
            }
        }
    }

    /// One loop of a permute over rows: its size and its strides in the input and output.
    private struct PermuteLoop {
        var size: Int
        var source: Int
        var target: Int
    }

    /// Copies rows `range` (numbered in the order of `loops`, outermost first). The offsets
    /// follow the loop coordinates like an odometer: one division per loop to find the first
    /// row, then additions and a rare carry per row.
    private static func permuteRows(
        _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, range: Range<Int>,
        rowLength: Int, rowStride: Int, loops: [PermuteLoop]
    ) {
        let rank = loops.count
        let coordinates = UnsafeMutablePointer<Int>.allocate(capacity: max(rank, 1))
        defer { coordinates.deallocate() }
        var (source, target) = (0, 0)
        var remainder = range.lowerBound
        for axis in stride(from: rank - 1, through: 0, by: -1) {
            coordinates[axis] = remainder % loops[axis].size
            remainder /= loops[axis].size
            source += coordinates[axis] * loops[axis].source
            target += coordinates[axis] * loops[axis].target
        }
        loops.withUnsafeBufferPointer { loops in
            for _ in range {
                if rowStride == 1 {
                    VectorMath.copy(x + source, to: y + target, count: rowLength)
                } else {
                    for i in 0..<rowLength { y[target + i] = x[source + i * rowStride] }
                }
                // Next row: advance the innermost coordinate, carrying outwards.
                var axis = rank - 1
                while axis >= 0 {
                    coordinates[axis] += 1
                    source += loops[axis].source
                    target += loops[axis].target
                    if coordinates[axis] < loops[axis].size { break }
                    source -= loops[axis].size * loops[axis].source
                    target -= loops[axis].size * loops[axis].target
                    coordinates[axis] = 0
                    axis -= 1
                }
            }
        }
    }
}
