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

    /// The blocks of the tiled forward kernel for `tokens` tokens of head size `headSize`, or
    /// nil when even the smallest do not fit the device's local memory. Output tiles are 8 rows
    /// by up to 16 head columns and score tiles 8 rows by 16 (8 beside 16-column output tiles),
    /// so a work-item's two tiles hold at most 192 floats, within a GPU's register budget; a
    /// head's rows are cut into blocks of at most 64 sized to N, so 65 tokens make two blocks of
    /// 40 rows rather than one of 64 and one of 1.
    func flashForwardBlocking(tokens: Int, headSize: Int) -> FlashForwardBlocking? {
        func roundedUp(_ value: Int, _ multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }
        let outputColumns = headSize <= 12 ? headSize : [16, 8, 4, 2, 1].first { headSize % $0 == 0 } ?? 1
        let scoreColumns = outputColumns > 12 ? 8 : 16
        let blocksPerHead = (tokens + 63) / 64
        var rows = roundedUp((tokens + blocksPerHead - 1) / max(blocksPerHead, 1), 8)
        var columns = min(64, roundedUp(tokens, scoreColumns))
        let budget = min(localMemoryBytes, 48 * 1024)
        func localBytes() -> Int {
            MemoryLayout<Float>.size * (rows * headSize + columns * headSize + rows * columns + rows * (columns / scoreColumns) + 3 * rows)
        }
        while localBytes() > budget && columns > scoreColumns { columns -= scoreColumns }
        while localBytes() > budget && rows > 8 { rows -= 8 }
        let outputTiles = rows / 8 * (headSize / outputColumns)
        let group = min(max(outputTiles, rows / 8 * (columns / scoreColumns)), min(256, maximumWorkGroupSize))
        guard localBytes() <= budget, outputTiles <= group else { return nil }
        return FlashForwardBlocking(rows: rows, columns: columns, scoreColumns: scoreColumns, outputColumns: outputColumns, group: group)
    }

    public func flashAttentionForward(
        query: DeviceStorage, key: DeviceStorage, value: DeviceStorage, bias: DeviceStorage?, output: DeviceStorage,
        logSumExp: DeviceStorage, batch: Int, heads: Int, tokens: Int, headSize: Int, scale: Float
    ) throws {
        let arguments: [KernelArgument] = [
            .buffer(query), .buffer(key), .buffer(value), .buffer(bias ?? query), .int(bias == nil ? 0 : 1), .buffer(output),
            .buffer(logSumExp), .int(tokens), .int(heads), .float(scale),
        ]
        if flashForwardKernel == .tiled, let blocking = flashForwardBlocking(tokens: tokens, headSize: headSize) {
            let blocks = (tokens + blocking.rows - 1) / blocking.rows
            try launch(
                "flash_attention", "flash_attention_forward_tiled", global: [blocks * blocking.group, batch * heads],
                local: [blocking.group, 1], options: flashOptions(headSize: headSize) + " " + blocking.buildOptions, arguments)
            return
        }
        let group = flashTiling(headSize: headSize).group
        try launch(
            "flash_attention", "flash_attention_forward", global: [tokens, batch * heads], local: [group, 1],
            options: flashOptions(headSize: headSize), arguments)
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

/// Which forward kernel of the flash family runs.
public enum FlashForwardKernel: String, CaseIterable, Sendable {
    /// Version 2: register tiles of scores and outputs (`flash_attention_forward_tiled`).
    case tiled
    /// Version 1: one query row per work-item (`flash_attention_forward`), the reference of
    /// version 2 until the backward pass has a tiled version too.
    case rowPerItem = "row-per-item"
}

/// The blocks and tiles of `flash_attention_forward_tiled` (its build options).
struct FlashForwardBlocking: Equatable {
    /// Query rows per group (a multiple of 8) and keys per block (a multiple of `scoreColumns`).
    let rows: Int
    let columns: Int
    /// Keys per score tile and head columns per output tile.
    let scoreColumns: Int
    let outputColumns: Int
    /// Work-items per group.
    let group: Int

    var buildOptions: String {
        "-DBLOCK_ROWS=\(rows) -DBLOCK_COLUMNS=\(columns) -DSCORE_COLUMNS=\(scoreColumns) -DOUTPUT_COLUMNS=\(outputColumns) -DTILED_GROUP=\(group)"
    }
}
