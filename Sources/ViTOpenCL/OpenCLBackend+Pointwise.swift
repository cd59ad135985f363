import COpenCL
import ViTCore

/// The operations every device has (Kernels/elementwise.cl and gelu.cl): fill, block copies
/// and the pointwise operations.
extension OpenCLBackend {
    public func fill(_ storage: DeviceStorage, count: Int, value: Float) throws {
        try launch("elementwise", "fill_forward", global: [count], [.buffer(storage), .int(count), .float(value)])
    }

    public func pointwise(_ operation: PointwiseOperation, _ input: DeviceStorage, output: DeviceStorage, count: Int) throws {
        let family = operation.kernelName.hasPrefix("gelu") ? "gelu" : "elementwise"
        switch operation {
        case .add(let other), .subtract(let other), .multiply(let other):
            try launch(family, operation.kernelName, global: [count], [.buffer(input), .buffer(other), .buffer(output), .int(count)])
        case .scale(let alpha):
            try launch(family, operation.kernelName, global: [count], [.buffer(input), .buffer(output), .int(count), .float(alpha)])
        case .addBias(let bias, let columns):
            let rows = count / max(columns, 1)
            try launch(
                family, operation.kernelName, global: [columns, rows], [.buffer(input), .buffer(bias), .buffer(output), .int(rows), .int(columns)])
        case .scaleByNorm(let squaredNorms, let block, let numerator, let epsilon, let atMostOne):
            try launch(
                family, operation.kernelName, global: [count],
                [
                    .buffer(input), .buffer(output), .int(count), .buffer(squaredNorms), .int(max(block, 1)), .float(numerator), .float(epsilon),
                    .int(atMostOne ? 1 : 0),
                ])
        case .gelu:
            try launch(family, operation.kernelName, global: [count], [.buffer(input), .buffer(output), .int(count)])
        case .geluGradient(let outputGradient):
            try launch(family, operation.kernelName, global: [count], [.buffer(input), .buffer(outputGradient), .buffer(output), .int(count)])
        }
    }

    public func copyBlocks(
        from source: DeviceStorage, offset sourceOffset: Int, stride sourceStride: Int,
        to destination: DeviceStorage, offset destinationOffset: Int, stride destinationStride: Int, length: Int, count: Int
    ) throws {
        try launch(
            "elementwise", "copy_blocks", global: [length, count],
            [
                .buffer(source), .int(sourceOffset), .int(sourceStride), .buffer(destination), .int(destinationOffset),
                .int(destinationStride), .int(length), .int(count),
            ])
    }
}
