import ViTCore
import ViTNN
import XCTest

/// A configuration decoded from JSON text, as a config file or checkpoint is read.
func decodeConfiguration(_ json: String) throws -> ViTConfiguration {
    try JSONDecoder().decode(ViTConfiguration.self, from: Data(json.utf8))
}

final class ConfigurationTests: XCTestCase {
    /// A config file in the flat layout the configuration had before its settings were
    /// typed, with every key and no default value: each key reaches its typed field, and
    /// encoding writes the same keys with the same values.
    func testFlatJSONWithEveryKeyDecodesToTypedValuesAndEncodesTheSameKeys() throws {
        let json = """
            {"patch_size": 8, "hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 8, "intermediate_size": 256,
             "hidden_dropout_prob": 0.25, "attention_probs_dropout_prob": 0.125, "initializer_range": 0.5, "image_size": 64,
             "num_classes": 100, "num_channels": 1, "qkv_bias": false, "attention_type": "hybrid", "position_embedding": "sincos2d",
             "global_pool": "avg", "weight_init": "mimetic", "image_fit": "resize", "fib_wmin": 3, "fib_wmax": 9, "fib_modified": true,
             "fib_mask_mode": "neg-inf", "dilated_window": 5, "dilation_rates": [1, 3], "performer_features": 40, "performer_redraw": 100,
             "linformer_k": 16, "nystrom_landmarks": 8, "nystrom_conv": 33, "hybrid_local_heads": 2, "hybrid_local": "fibottention",
             "hybrid_global": "performer", "patch_embedding": "conv-stem"}
            """
        let configuration = try decodeConfiguration(json)
        XCTAssertEqual(
            [
                configuration.patchSize, configuration.hiddenSize, configuration.numHiddenLayers, configuration.numAttentionHeads,
                configuration.intermediateSize, configuration.imageSize, configuration.numClasses, configuration.numChannels,
            ],
            [8, 64, 3, 8, 256, 64, 100, 1])
        XCTAssertEqual(
            [configuration.hiddenDropoutProb, configuration.attentionProbsDropoutProb, configuration.initializerRange], [0.25, 0.125, 0.5])
        XCTAssertFalse(configuration.qkvBias)
        XCTAssertEqual(configuration.attention.kind, .hybrid)
        XCTAssertEqual(configuration.positionEmbedding, .sinusoidal2D)
        XCTAssertEqual(configuration.globalPool, .avg)
        XCTAssertEqual(configuration.weightInit, .mimetic)
        XCTAssertEqual(configuration.imageFit, .resize)
        XCTAssertEqual(configuration.patchEmbedding, .convolutionalStem)
        let fibottention = configuration.attention.fibottention
        XCTAssertEqual(fibottention.minimumWindow, 3)
        XCTAssertEqual(fibottention.maximumWindow, 9)
        XCTAssertTrue(fibottention.modified)
        XCTAssertEqual(fibottention.maskMode, .negativeInfinity)
        XCTAssertEqual(configuration.attention.dilated.window, 5)
        XCTAssertEqual(configuration.attention.dilated.rates, [1, 3])
        XCTAssertEqual(configuration.attention.performer.features, 40)
        XCTAssertEqual(configuration.attention.performer.redrawInterval, 100)
        XCTAssertEqual(configuration.attention.linformer.projectedLength, 16)
        XCTAssertEqual(configuration.attention.nystromformer.landmarks, 8)
        XCTAssertEqual(configuration.attention.nystromformer.convolutionTaps, 33)
        XCTAssertEqual(configuration.attention.hybrid.localHeads, 2)
        XCTAssertEqual(configuration.attention.hybrid.local, .fibottention)
        XCTAssertEqual(configuration.attention.hybrid.global, .performer)

        let original = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? NSDictionary)
        let encoded = try XCTUnwrap(JSONSerialization.jsonObject(with: configuration.jsonData()) as? NSDictionary)
        XCTAssertEqual(encoded, original)
        XCTAssertEqual(Set(ViTConfiguration.keys), Set(original.allKeys.compactMap { $0 as? String }), "every key is in the test")
        XCTAssertEqual(ViTConfiguration.keys.count, Set(ViTConfiguration.keys).count, "no key belongs to two fields")
    }

    /// Fields left out take the defaults; optional ones are left out again when encoding.
    func testMissingFieldsTakeTheDefaults() throws {
        XCTAssertEqual(try decodeConfiguration("{}"), ViTConfiguration())
        let encoded = try XCTUnwrap(JSONSerialization.jsonObject(with: ViTConfiguration().jsonData()) as? [String: Any])
        XCTAssertEqual(
            Set(encoded.keys), Set(ViTConfiguration.keys).subtracting(["fib_wmax", "performer_features", "nystrom_conv", "hybrid_local_heads"]))
    }

    /// An unknown name names the field, the name and the names there are; in a file, the file too.
    func testUnknownNamesAreRejectedWithTheChoices() throws {
        XCTAssertThrowsError(try decodeConfiguration(#"{"position_embedding": "rope"}"#)) {
            XCTAssertTrue("\($0)".contains("unknown position_embedding 'rope'; choose one of learned, learned-sincos2d, sincos1d, sincos2d"), "\($0)")
        }
        XCTAssertThrowsError(try decodeConfiguration(#"{"hybrid_global": "nystromformer"}"#)) {
            XCTAssertTrue("\($0)".contains("unknown hybrid_global (--hybrid-global) 'nystromformer'; choose one of linear, performer"), "\($0)")
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString).json")
        try Data(#"{"attention_type": "magic"}"#.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try ViTConfiguration.load(from: url)) {
            XCTAssertTrue("\($0)".contains("\(url.path): unknown attention_type 'magic'; choose one of standard, standard-separate"), "\($0)")
        }
    }

    /// A config file from before `patch_embedding` existed keeps timm's patchify projection.
    func testAConfigurationWithoutPatchEmbeddingKeepsThePatchProjection() throws {
        XCTAssertEqual(try decodeConfiguration(#"{"patch_size": 8, "hidden_size": 64}"#).patchEmbedding, .patch)
        XCTAssertThrowsError(try decodeConfiguration(#"{"patch_embedding": "conv"}"#)) {
            XCTAssertTrue("\($0)".contains("unknown patch_embedding (--patch-embedding) 'conv'; choose one of patch, conv-stem"), "\($0)")
        }
    }

    /// The stem halves the grid per convolution, so only a power of two of at least 2 ends on
    /// the patch grid; the error names the field, the value and what is allowed.
    func testTheConvolutionalStemNeedsAPowerOfTwoPatchSize() throws {
        for patch in [1, 3, 6] {
            var configuration = ViTConfiguration()
            configuration.patchEmbedding = .convolutionalStem
            (configuration.patchSize, configuration.imageSize) = (patch, 12 * patch)
            XCTAssertThrowsError(try configuration.validate()) {
                XCTAssertTrue(
                    "\($0)".contains("patch_embedding (--patch-embedding) 'conv-stem'")
                        && "\($0)".contains("needs a patch_size that is a power of two of at least 2, got \(patch)"), "\($0)")
            }
            configuration.patchEmbedding = .patch
            XCTAssertNoThrow(try configuration.validate())
        }
    }

    /// Found by fuzzing (Tools/fuzz, target config): an image of 2^34 pixels a side made
    /// `patchCount` overflow, a trap in the Fibottention check, instead of an error.
    func testTooManyPatchesIsAnErrorNotATrap() throws {
        for json in [#"{"image_size": 17179869184}"#, #"{"image_size": 9223372036854775807, "patch_size": 1}"#] {
            let configuration = try ViTConfiguration.decode(Data(json.utf8), source: "big.json")
            XCTAssertThrowsError(try configuration.validate()) {
                XCTAssertTrue("\($0)".contains("image_size must be at most 16384"), "\($0)")
            }
        }
    }
}
