import Foundation
import ViTCore

/// Block copies (concatenation, slicing) and the patch layout of patch embedding.
extension CPUBackend {
    public func copyBlocks(
        from source: DeviceStorage, offset sourceOffset: Int, stride sourceStride: Int,
        to destination: DeviceStorage, offset destinationOffset: Int, stride destinationStride: Int, length: Int, count: Int
    ) throws {
        let (x, y) = (host(source) + sourceOffset, host(destination) + destinationOffset)
        profiler.measure("copy_blocks") {
            Parallel.forEachChunk(count, grain: max(1, Self.elementGrain / max(length, 1))) { range in
                for block in range {
                    (y + block * destinationStride).update(from: x + block * sourceStride, count: length)
                }
            }
        }
    }
}

/// The patch layout of patch embedding (Kernels/patchify.cl).
extension CPUBackend: PatchifyKernels {
    public func patchify(_ images: DeviceStorage, output: DeviceStorage, batch: Int, channels: Int, height: Int, width: Int, patch: Int) throws {
        let (x, y) = (host(images), host(output))
        profiler.measure("patchify_forward") {
            Self.forEachPatchRow(batch: batch, channels: channels, height: height, width: width, patch: patch) { pixel, patchValue in
                (y + patchValue).update(from: x + pixel, count: patch)
            }
        }
    }

    public func unpatchify(_ patches: DeviceStorage, output: DeviceStorage, batch: Int, channels: Int, height: Int, width: Int, patch: Int) throws {
        let (x, y) = (host(patches), host(output))
        profiler.measure("patchify_backward") {
            Self.forEachPatchRow(batch: batch, channels: channels, height: height, width: width, patch: patch) { pixel, patchValue in
                (y + pixel).update(from: x + patchValue, count: patch)
            }
        }
    }

    /// Calls `body(pixelOffset, patchOffset)` for every run of `patch` pixels that are
    /// contiguous in both layouts (one row of one channel of one patch).
    @inline(__always)
    private static func forEachPatchRow(batch: Int, channels: Int, height: Int, width: Int, patch: Int, _ body: (Int, Int) -> Void) {
        let (rows, columns) = (height / patch, width / patch)
        let patchSize = channels * patch * patch
        Parallel.forEachChunk(batch * rows, grain: max(1, elementGrain / max(width * patch * channels, 1))) { range in
            for item in range {
                let (image, gridRow) = (item / rows, item % rows)
                for gridColumn in 0..<columns {
                    let patchBase = ((image * rows + gridRow) * columns + gridColumn) * patchSize
                    for channel in 0..<channels {
                        for row in 0..<patch {
                            let pixel = ((image * channels + channel) * height + gridRow * patch + row) * width + gridColumn * patch
                            body(pixel, patchBase + (channel * patch + row) * patch)
                        }
                    }
                }
            }
        }
    }
}
