import Foundation
import ViTCore
import ViTOpenCL

extension KernelFamilies {
    /// The patchify family: Kernels/patchify.cl, its checks and its benchmark rows.
    enum Patchify: KernelFamilyDeclaration {
        static let name = "patchify"

        static func checks(_ scope: CheckScope) -> [KernelCheck] {
            scope.sizes([(1, 1, 1, 1), (3, 3, 14, 7)], large: [(256, 1, 32, 4), (8, 3, 224, 16)]).map { batch, channels, side, patch in
                let count = batch * channels * side * side
                return KernelCheck(
                    kernel: "patchify", size: "\(batch)x\(channels)x\(side)x\(side) p\(patch)", absoluteTolerance: 0, relativeTolerance: 0
                ) { backend in
                    let images = try upload(values(count, seed: 25), to: backend)
                    let (patches, restored) = (try backend.allocate(count: count), try backend.allocate(count: count))
                    try backend.kernels(PatchifyKernels.self).patchify(
                        images, output: patches, batch: batch, channels: channels, height: side, width: side, patch: patch)
                    try backend.kernels(PatchifyKernels.self).unpatchify(
                        patches, output: restored, batch: batch, channels: channels, height: side, width: side, patch: patch)
                    return [try download(patches, count, from: backend), try download(restored, count, from: backend)]
                }
            }
        }
    }
}

extension OpenCLBackend: PatchifyKernels {
    public func patchify(_ images: DeviceStorage, output: DeviceStorage, batch: Int, channels: Int, height: Int, width: Int, patch: Int) throws {
        let count = batch * channels * (height / patch) * patch * (width / patch) * patch
        try launch(
            "patchify", "patchify_forward", global: [count],
            [.buffer(images), .buffer(output), .int(count), .int(channels), .int(height), .int(width), .int(patch)])
    }

    public func unpatchify(_ patches: DeviceStorage, output: DeviceStorage, batch: Int, channels: Int, height: Int, width: Int, patch: Int) throws {
        let count = batch * channels * (height / patch) * patch * (width / patch) * patch
        try launch(
            "patchify", "patchify_backward", global: [count],
            [.buffer(patches), .buffer(output), .int(count), .int(channels), .int(height), .int(width), .int(patch)])
    }
}
