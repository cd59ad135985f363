import ViTBackends
import ViTCore
import ViTNN
import ViTTraining
import XCTest

/// The same training steps on the OpenCL device (PoCL in CI) and on the CPU backend give
/// the same losses: same initial weights (drawn on the host), same data, same dropout masks.
final class BackendParityTests: XCTestCase {
    /// Losses of `steps` steps of a two-block ViT on a fixed batch: AdamW (or `optimizer`)
    /// from timm's start, or `vit train`'s default recipe (Muon, mimetic start, its label
    /// smoothing and decay).
    private func losses(
        on backend: Backend, steps: Int, attentionDropout: Float, defaultRecipe: Bool = false, optimizer name: String = "adamw",
        patchEmbedding: PatchEmbeddingKind = .patch
    ) throws -> [Float] {
        var recipe = TrainingOptions()
        var configuration = defaultRecipe ? ViTConfiguration.trainingDefault(for: .fashionMNIST) : ViTConfiguration()
        configuration.numHiddenLayers = 2
        configuration.numChannels = 1
        configuration.hiddenDropoutProb = 0.1
        configuration.attentionProbsDropoutProb = attentionDropout
        configuration.patchEmbedding = patchEmbedding
        let model = try VisionTransformer(configuration: configuration, on: backend, seed: 3)
        if !defaultRecipe { recipe.optimizer = name }
        let optimizer =
            defaultRecipe || name != "adamw"
            ? try recipe.makeOptimizer(for: model.optimizedParameters) : try AdamW(parameters: model.optimizedParameters)
        let labelSmoothing = defaultRecipe ? recipe.labelSmoothing : 0.1
        let batch = 8
        let images = try Tensor(KernelFamilies.values(batch * 32 * 32, seed: 7, scale: 2), shape: [batch, 1, 32, 32], on: backend)
        let labels = try Tensor((0..<batch).map { Float($0 % 10) }, shape: [batch], on: backend)
        var result: [Float] = []
        for step in 0..<steps {
            let logits = try model(images, context: ForwardContext(training: true, seed: 11, step: step))
            let loss = try crossEntropy(logits: logits, labels: labels, labelSmoothing: labelSmoothing)
            try optimizer.zeroGradients()
            try loss.backward()
            try clipGradientNorm(optimizer.arena, maximumNorm: 1)
            try optimizer.step(learningRate: 1e-3)
            result.append(try loss.item())
        }
        return result
    }

    /// With attention dropout, drawn inside the flash attention kernels.
    func testTwentyStepsMatchTheCPU() throws {
        try compare(steps: 20, attentionDropout: 0.1)
    }

    /// Without it, the flash attention kernels.
    func testTenStepsWithFlashAttentionMatchTheCPU() throws {
        try compare(steps: 10, attentionDropout: 0)
    }

    /// `vit train`'s default recipe: Muon's Newton-Schulz products run through CLBlast on the
    /// device, from the mimetic start (factored on the host).
    func testTwentyStepsOfTheDefaultRecipeMatchTheCPU() throws {
        try compare(steps: 20, attentionDropout: 0, defaultRecipe: true)
    }

    /// SGD with momentum (its L2 decay and velocity in the arena), dropout and clipping.
    func testTwentyStepsOfSGDMatchTheCPU() throws {
        try compare(steps: 20, attentionDropout: 0.1, optimizer: "sgd")
    }

    /// The convolutional stem: im2col, col2im and their GEMMs on the device, with the default recipe.
    func testTwentyStepsWithTheConvolutionalStemMatchTheCPU() throws {
        try compare(steps: 20, attentionDropout: 0, defaultRecipe: true, patchEmbedding: .convolutionalStem)
    }

    private func compare(
        steps: Int, attentionDropout: Float, defaultRecipe: Bool = false, optimizer: String = "adamw", patchEmbedding: PatchEmbeddingKind = .patch
    ) throws {
        let device = try openCLDevice()
        let reference = try losses(
            on: DeviceRegistry.shared.backend(for: .cpu), steps: steps, attentionDropout: attentionDropout,
            defaultRecipe: defaultRecipe, optimizer: optimizer, patchEmbedding: patchEmbedding)
        let measured = try losses(
            on: device, steps: steps, attentionDropout: attentionDropout, defaultRecipe: defaultRecipe, optimizer: optimizer,
            patchEmbedding: patchEmbedding)
        print("CPU losses:    \(reference)")
        print("OpenCL losses: \(measured)")
        XCTAssertLessThan(reference.last!, reference.first!, "the model does not learn on the CPU")
        for (step, (expected, actual)) in zip(reference, measured).enumerated() {
            // Kernels agree to ~1e-6 relative per step; AdamW's normalised updates can carry
            // a rounding difference into the weights, so the bound grows slowly with steps.
            XCTAssertEqual(actual, expected, accuracy: 2e-6 * Float(step + 1), "step \(step)")
        }
    }

    private func openCLDevice() throws -> Backend {
        guard !DeviceRegistry.shared.openCLDevices.isEmpty else {
            throw XCTSkip("no OpenCL platform found: backend parity skipped")
        }
        return try DeviceRegistry.shared.backend(for: DeviceRegistry.shared.device(for: "opencl"))
    }
}
