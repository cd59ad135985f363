import ViTBackends
import ViTCore
import ViTNN

/// What the arena and gradient-averaging tests share: the devices they run on, a two-layer
/// model for one-channel images and a batch of four such images.
enum SmallModelFixture {
    /// The CPU backend and, when one is present (PoCL), the first OpenCL device.
    static func backends() throws -> [Backend] {
        let registry = DeviceRegistry.shared
        let cpu = try registry.backend(for: .cpu)
        return registry.openCLDevices.isEmpty ? [cpu] : [cpu, try registry.backend(for: registry.device(for: "opencl"))]
    }

    /// The default width with two layers, for 1 x 32 x 32 images.
    static var configuration: ViTConfiguration {
        var configuration = ViTConfiguration()
        configuration.numHiddenLayers = 2
        configuration.numChannels = 1
        return configuration
    }

    /// Four images of seeded values and their labels on `backend`.
    static func batch(on backend: Backend) throws -> (images: Tensor, labels: Tensor) {
        let images = try Tensor(KernelFamilies.values(4 * 32 * 32, seed: 8, scale: 2), shape: [4, 1, 32, 32], on: backend)
        return (images, try Tensor([0, 3, 5, 9], shape: [4], on: backend))
    }
}
