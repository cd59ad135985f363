import COpenCL
import ViTCore

/// The flash-attention family (Kernels/flash_attention.cl): the head size and the tile
/// sizes are build options chosen per device, so each (device, head size) gets a program
/// specialised with private arrays of exactly D floats.
extension OpenCLBackend {
    /// Work-items per group (one row each) and rows staged per tile, for head size `headSize`.
    func flashTiling(headSize: Int) -> (group: Int, tile: Int) {
        let group = min(64, maximumWorkGroupSize)
        // Two tiles of `tile` x D floats in local memory: at most 16 KiB and at most half the
        // device's local memory.
        let localFloats = min(16384, localMemoryBytes / 2) / MemoryLayout<Float>.size
        let tile = max(4, min(32, localFloats / (2 * max(headSize, 1))))
        return (group, tile)
    }

    private func flashOptions(headSize: Int) -> String {
        let (group, tile) = flashTiling(headSize: headSize)
        return "-DHEAD_SIZE=\(headSize) -DFLASH_GROUP=\(group) -DFLASH_TILE=\(tile)"
    }

    public func flashAttentionForward(
        query: DeviceStorage, key: DeviceStorage, value: DeviceStorage, bias: DeviceStorage?, output: DeviceStorage,
        logSumExp: DeviceStorage, batch: Int, heads: Int, tokens: Int, headSize: Int, scale: Float
    ) throws {
        let group = flashTiling(headSize: headSize).group
        try launch(
            "flash_attention", "flash_attention_forward", global: [tokens, batch * heads], local: [group, 1],
            options: flashOptions(headSize: headSize),
            [
                .buffer(query), .buffer(key), .buffer(value), .buffer(bias ?? query), .int(bias == nil ? 0 : 1), .buffer(output),
                .buffer(logSumExp), .int(tokens), .int(heads), .float(scale),
            ])
    }

    public func flashAttentionBackward(
        query: DeviceStorage, key: DeviceStorage, value: DeviceStorage, bias: DeviceStorage?, output: DeviceStorage,
        logSumExp: DeviceStorage, outputGradient: DeviceStorage, queryGradient: DeviceStorage, keyGradient: DeviceStorage,
        valueGradient: DeviceStorage, batch: Int, heads: Int, tokens: Int, headSize: Int, scale: Float
    ) throws {
        let group = flashTiling(headSize: headSize).group
        let options = flashOptions(headSize: headSize)
        let rows = batch * heads * tokens
        let rowDots = try allocate(count: rows)
        let (biasBuffer, hasBias) = (bias ?? query, bias == nil ? 0 : 1)
        try launch(
            "flash_attention", "flash_attention_backward_dot", global: [rows], options: options,
            [.buffer(output), .buffer(outputGradient), .buffer(rowDots), .int(rows)])
        try launch(
            "flash_attention", "flash_attention_backward_key_value", global: [tokens, batch * heads], local: [group, 1], options: options,
            [
                .buffer(query), .buffer(key), .buffer(value), .buffer(biasBuffer), .int(hasBias), .buffer(logSumExp), .buffer(rowDots),
                .buffer(outputGradient), .buffer(keyGradient), .buffer(valueGradient), .int(tokens), .int(heads), .float(scale),
            ])
        try launch(
            "flash_attention", "flash_attention_backward_query", global: [tokens, batch * heads], local: [group, 1], options: options,
            [
                .buffer(query), .buffer(key), .buffer(value), .buffer(biasBuffer), .int(hasBias), .buffer(logSumExp), .buffer(rowDots),
                .buffer(outputGradient), .buffer(queryGradient), .int(tokens), .int(heads), .float(scale),
            ])
    }
}
