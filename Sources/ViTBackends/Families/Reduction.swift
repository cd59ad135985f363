import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The reduce family: Kernels/reduce.cl, its checks and its benchmark rows.
    enum Reduction: KernelFamilyDeclaration {
        static let name = "reduce"

        /// A bias gradient (column sums of few columns) and a whole gradient arena's sum (the
        /// clipping norm), the sums of a training step.
        static var benchmarks: [BenchmarkRow] {
            [(1, 16640, 48, "bias grad 16640x48"), (1, 119_194, 1, "arena 119194")].map { outer, axis, inner, label in
                BenchmarkRow(name: "sum", size: label, flops: 0, bytes: float * Double(outer * axis * inner)) { backend in
                    let kernels = try backend.kernels(ReductionKernels.self)
                    let (x, y) = (try buffer(outer * axis * inner, backend), try backend.allocate(count: outer * inner))
                    return { try kernels.sum(x, output: y, outer: outer, axis: axis, inner: inner) }
                }
            }
        }

        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            var checks: [KernelCheck] = []
            // (1, 4097, 16) splits the summed axis into two uneven halves on two cores; (1, 17000, 2)
            // is long enough for the OpenCL backend's two-stage sum.
            let shapes = scope.sizes(
                [(1, 1, 1), (7, 33, 1), (1, 129, 7), (129, 7, 33), (1, 4097, 16), (1, 9000, 1), (2, 5000, 3), (1, 17000, 2)],
                large: [(1, 256 * 65, 48), (8, 197, 768)])
            for (outer, axis, inner) in shapes {
                checks.append(
                    KernelCheck(
                        kernel: "sum", size: "\(outer)x\(axis)x\(inner)", absoluteTolerance: 1e-6 * Float(axis).squareRoot() * 8,
                        relativeTolerance: 1e-5
                    ) { backend in
                        let input = try upload(values(outer * axis * inner, seed: 18), to: backend)
                        let output = try backend.allocate(count: outer * inner)
                        try backend.kernels(ReductionKernels.self).sum(input, output: output, outer: outer, axis: axis, inner: inner)
                        return [try download(output, outer * inner, from: backend)]
                    })
                checks.append(
                    KernelCheck(kernel: "broadcast", size: "\(outer)x\(axis)x\(inner)", absoluteTolerance: 0, relativeTolerance: 0) { backend in
                        let input = try upload(values(outer * inner, seed: 19), to: backend)
                        let output = try backend.allocate(count: outer * axis * inner)
                        try backend.kernels(ReductionKernels.self).broadcast(input, output: output, outer: outer, axis: axis, inner: inner)
                        return [try download(output, outer * axis * inner, from: backend)]
                    })
            }
            return checks
        }
    }
}

extension OpenCLBackend: ReductionKernels {
    /// Work-items a launch should have to keep a GPU's lanes busy; fewer outputs than this
    /// make a sum split its axis.
    static let parallelWorkItems = 16384
    /// Terms one work-item adds in a row before the next stage takes over.
    static let serialLength = 16
    /// Terms per work-item up to which a work-group per output sums its whole axis in one
    /// launch (bias gradients over a batch's rows): a second launch costs a GPU more than
    /// these few more serial additions.
    static let singleLaunchSerialLength = 64

    /// Every sum is parallel (Kernels/reduce.cl): one work-item per output when there are
    /// outputs enough; otherwise the axis is cut into chunks whose partial sums are summed
    /// again, by work-items (columns of `inner` > 1) or by work-groups in local memory.
    public func sum(_ input: DeviceStorage, output: DeviceStorage, outer: Int, axis: Int, inner: Int) throws {
        let outputs = outer * inner
        guard outputs > 0 else { return }
        if outputs >= Self.parallelWorkItems || axis <= 1 {
            try launch("reduce", "sum_forward", global: [outputs], [.buffer(input), .buffer(output), .int(outer), .int(axis), .int(inner)])
            return
        }
        let group = rowGroupSize(columns: axis)
        let singleLaunch = axis <= group * Self.singleLaunchSerialLength
        if inner > 1 && !singleLaunch {
            // Work-items over (outer, chunks, inner), then the chunks are summed.
            let chunkLength = max(Self.serialLength, (axis * outputs + Self.parallelWorkItems - 1) / Self.parallelWorkItems)
            let chunks = (axis + chunkLength - 1) / chunkLength
            let partials = try allocate(count: outer * chunks * inner)
            try launch(
                "reduce", "sum_partials_forward", global: [outer * chunks * inner],
                [
                    .buffer(input), .buffer(partials), .int(outer), .int(axis), .int(inner), .int(chunks), .int(chunkLength),
                ])
            try sum(partials, output: output, outer: outer, axis: chunks, inner: inner)
            return
        }
        // One work-group per (output, chunk); a second pass when there is more than one chunk.
        let chunkLength = singleLaunch ? axis : group * Self.serialLength
        let chunks = (axis + chunkLength - 1) / chunkLength
        let result = chunks == 1 ? output : try allocate(count: outputs * chunks)
        try launch(
            "reduce", "sum_group_forward", global: [outputs * chunks * group], local: [group],
            [
                .buffer(input), .buffer(result), .int(axis), .int(inner), .int(chunks), .int(chunkLength), .local(floats: group),
            ])
        if chunks > 1 { try sum(result, output: output, outer: outputs, axis: chunks, inner: 1) }
    }

    public func broadcast(_ input: DeviceStorage, output: DeviceStorage, outer: Int, axis: Int, inner: Int) throws {
        try launch(
            "reduce", "broadcast_forward", global: [outer * axis * inner],
            [.buffer(input), .buffer(output), .int(outer), .int(axis), .int(inner)])
    }
}
