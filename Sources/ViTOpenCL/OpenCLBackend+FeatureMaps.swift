import COpenCL
import ViTCore

/// The feature maps of linear attention (Kernels/feature_map.cl).
extension OpenCLBackend {
    public func favorFeaturesForward(
        projection: DeviceStorage, input: DeviceStorage, output: DeviceStorage, rows: Int, features: Int, inputSize: Int,
        scale: Float, blockRows: Int
    ) throws {
        let norms = try allocate(count: rows)
        try launch(
            "feature_map", "favor_norms_forward", global: [rows],
            [.buffer(input), .buffer(norms), .int(rows), .int(inputSize), .float(scale * scale / 2)])
        let group = rowGroupSize(columns: blockRows * features)
        try launch(
            "feature_map", "favor_forward", global: [rows / max(blockRows, 1) * group], local: [group],
            [.buffer(projection), .buffer(norms), .buffer(output), .int(blockRows), .int(features), .local(floats: group)])
    }

    public func favorFeaturesBackward(
        output: DeviceStorage, outputGradient: DeviceStorage, input: DeviceStorage, projectionGradient: DeviceStorage,
        inputGradient: DeviceStorage, rows: Int, features: Int, inputSize: Int, scale: Float
    ) throws {
        let group = rowGroupSize(columns: max(features, inputSize))
        try launch(
            "feature_map", "favor_backward", global: [rows * group], local: [group],
            [
                .buffer(output), .buffer(outputGradient), .buffer(input), .buffer(projectionGradient), .buffer(inputGradient),
                .int(features), .int(inputSize), .float(scale * scale), .local(floats: group),
            ])
    }

    public func eluFeaturesForward(_ input: DeviceStorage, output: DeviceStorage, count: Int) throws {
        try launch("feature_map", "elu_features_forward", global: [count], [.buffer(input), .buffer(output), .int(count)])
    }

    public func eluFeaturesBackward(_ input: DeviceStorage, outputGradient: DeviceStorage, inputGradient: DeviceStorage, count: Int) throws {
        try launch(
            "feature_map", "elu_features_backward", global: [count],
            [.buffer(input), .buffer(outputGradient), .buffer(inputGradient), .int(count)])
    }
}
