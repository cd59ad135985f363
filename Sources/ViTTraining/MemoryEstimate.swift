import ViTCore
import ViTNN

/// A lower bound on the memory a training step takes, to refuse before allocating a run
/// that cannot fit (an allocation that fails inside a step would end the process): the
/// weights, their gradients and two optimizer moments, and per block the activations a
/// backward pass keeps at the very least (the block's inputs and norms, q, k, v, the
/// attention output and projection: 6 x width, and the MLP's hidden layer before and after
/// GELU: 2 x MLP width, per token). Real use is higher; a run above this bound cannot work.
public enum MemoryEstimate {
    /// Bytes of a training step of `configuration` at `batchSize` images, at least.
    public static func trainingLowerBound(_ configuration: ViTConfiguration, batchSize: Int) -> Double {
        let parameters = configuration.estimatedParameterCount * 4 * 4
        let tokens = Double(configuration.tokenCount)
        let perToken = 6 * Double(configuration.hiddenSize) + 2 * Double(configuration.intermediateSize)
        let activations = Double(batchSize) * tokens * perToken * Double(configuration.numHiddenLayers) * 4
        let inputs = Double(batchSize) * Double(configuration.numChannels) * Double(configuration.imageSize * configuration.imageSize) * 4
        return parameters + activations + inputs
    }

    /// Throws, with both figures, when a step of `configuration` at `batchSize` needs more
    /// than the `backend`'s memory (`flag` names the setting to lower).
    public static func requireFits(_ configuration: ViTConfiguration, batchSize: Int, on backend: Backend, flag: String) throws {
        let needed = trainingLowerBound(configuration, batchSize: batchSize)
        let available = Double(backend.info.memoryBytes)
        guard available <= 0 || needed <= available else {
            throw TrainingError.invalidOption(
                "a training step at \(flag) \(batchSize) needs at least \(size(needed)), but \(backend.info.name) has \(size(available)); "
                    + "lower \(flag) or the image size")
        }
    }

    /// Bytes in GiB, or in MiB below one GiB.
    static func size(_ bytes: Double) -> String {
        bytes >= 1_073_741_824 ? String(format: "%.1f GiB", bytes / 1_073_741_824) : String(format: "%.1f MiB", bytes / 1_048_576)
    }
}
