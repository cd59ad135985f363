import Foundation
import ViTCore

/// The kernel families' declarations (nested in this namespace, one file each under
/// Families/) and the inputs their checks share: odd sizes (1, 7,
/// 33, 129) that exercise the bounds checks of tiled and work-group kernels, and, in the full
/// scope, ViT sizes (256 x 65 x 48: the seed ViT's activations; 8 x 197 x 768: ViT-B/16's).
///
/// Tolerances follow from float32 arithmetic (unit roundoff u = 6e-8):
/// - the same formula evaluated in the same order: a few u, so 1e-6 relative;
/// - transcendental functions (erf, exp, log), where OpenCL allows 3-16 ulp: 1e-5 relative;
/// - sums of L terms evaluated in another order: error grows like sqrt(L) u |terms|,
///   so the absolute part scales with the reduction length.
public enum KernelFamilies {
    /// The activations of the seed ViT (256 images x 65 tokens, width 48) and of ViT-B/16 (8
    /// images x 197 tokens, width 768) as rows x columns, at which the benchmarks run.
    static let activationSizes = [(rows: 16640, columns: 48, label: "256x65x48"), (rows: 1576, columns: 768, label: "8x197x768")]
    /// Bytes of a float.
    static let float = 4.0

    /// `count` floats from `values` on `backend`, the inputs of a benchmark row.
    static func buffer(_ count: Int, _ backend: Backend) throws -> DeviceStorage {
        try upload(values(count, seed: UInt32(count % 1000)), to: backend)
    }

    /// Inputs (fixed values) and outputs of one attention call of `size` on `backend`, for
    /// benchmark rows.
    static func attentionBuffers(_ size: AttentionSize, on backend: Backend) throws -> (AttentionOperands, AttentionGradients) {
        let count = size.rows * size.headSize
        let operands = AttentionOperands(
            query: try buffer(count, backend), key: try buffer(count, backend), value: try buffer(count, backend),
            output: try backend.allocate(count: count), logSumExp: try backend.allocate(count: size.rows))
        let gradients = AttentionGradients(
            output: try buffer(count, backend), query: try backend.allocate(count: count), key: try backend.allocate(count: count),
            value: try backend.allocate(count: count))
        return (operands, gradients)
    }

    /// One forward and backward pass of an attention family on `backend` (`run`), on Q and K
    /// from `seed` and `seed + 1` in [-queryKeyScale, queryKeyScale), V from `seed + 2` in
    /// [-valueScale, valueScale) and dO from `seed + 3`: the values to compare, O, the rows'
    /// log-sum-exp (+inf, which marks a row without keys, as a large finite number), dQ, dK and dV.
    static func attentionPass(
        _ size: AttentionSize, seed: UInt32, queryKeyScale: Float, valueScale: Float, on backend: Backend,
        _ run: (AttentionOperands, AttentionGradients) throws -> Void
    ) throws -> [[Float]] {
        let count = size.rows * size.headSize
        let scales = [queryKeyScale, queryKeyScale, valueScale, 1]
        let inputs = try (0..<4).map { try upload(values(count, seed: seed + UInt32($0), scale: scales[$0]), to: backend) }
        let operands = AttentionOperands(
            query: inputs[0], key: inputs[1], value: inputs[2], output: try backend.allocate(count: count),
            logSumExp: try backend.allocate(count: size.rows))
        let gradients = AttentionGradients(
            output: inputs[3], query: try backend.allocate(count: count), key: try backend.allocate(count: count),
            value: try backend.allocate(count: count))
        try run(operands, gradients)
        let logs = try download(operands.logSumExp, size.rows, from: backend).map { $0.isInfinite ? 1e30 : $0 }
        return try [download(operands.output, count, from: backend), logs]
            + [gradients.query, gradients.key, gradients.value].map { try download($0, count, from: backend) }
    }

    static let oddCounts = [1, 7, 33, 129]
    static let vitCounts = [256 * 65 * 48, 8 * 197 * 768]

    /// A pointwise kernel pair on `count` inputs in [-4, 4) (from `seed`) and output gradients
    /// in [-1, 1): its outputs and input gradients, within exp/erf's error (1e-5 relative).
    /// `forward(backend, input, output)`, `backward(backend, input, outputGradient, inputGradient)`.
    static func pointwiseCheck(
        _ kernel: String, count: Int, seed: UInt32, forward: @escaping (Backend, DeviceStorage, DeviceStorage) throws -> Void,
        backward: @escaping (Backend, DeviceStorage, DeviceStorage, DeviceStorage) throws -> Void
    ) -> KernelCheck {
        KernelCheck(kernel: kernel, size: "\(count)", absoluteTolerance: 1e-6, relativeTolerance: 1e-5) { backend in
            let input = try upload(values(count, seed: seed, scale: 4), to: backend)
            let gradient = try upload(values(count, seed: seed + 1), to: backend)
            let (output, inputGradient) = (try backend.allocate(count: count), try backend.allocate(count: count))
            try forward(backend, input, output)
            try backward(backend, input, gradient, inputGradient)
            return [try download(output, count, from: backend), try download(inputGradient, count, from: backend)]
        }
    }

    /// Deterministic pseudo-random values in [shift - scale, shift + scale).
    public static func values(_ count: Int, seed: UInt32, scale: Float = 1, shift: Float = 0) -> [Float] {
        let key = CounterRandom.key(seed: seed, offset: 0)
        return (0..<count).map { shift + scale * (2 * CounterRandom.uniform(key: key, index: UInt32(truncatingIfNeeded: $0)) - 1) }
    }

    static func upload(_ values: [Float], to backend: Backend) throws -> DeviceStorage {
        let storage = try backend.allocate(count: values.count)
        try values.withUnsafeBufferPointer { try backend.write($0, to: storage) }
        return storage
    }

    static func download(_ storage: DeviceStorage, _ count: Int, from backend: Backend) throws -> [Float] {
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBufferPointer { try backend.read(storage, into: $0) }
        return values
    }
}
