import ViTCore
import XCTest

@testable import ViTNN

/// Fibottention's masks against the official code's values, and the dilated and axial patterns.
final class SparsePatternTests: XCTestCase {
    func testPythonShuffleMatchesCPython() {
        // random.seed(s); x = list(range(H)); random.shuffle(x) in CPython.
        XCTAssertEqual(Fibottention.headOrder(heads: 12, layer: 0), [1, 9, 8, 5, 10, 2, 3, 7, 4, 0, 11, 6])
        XCTAssertEqual(Fibottention.headOrder(heads: 12, layer: 1), [7, 11, 0, 8, 5, 6, 3, 10, 4, 1, 9, 2])
        XCTAssertEqual((0..<4).map { Fibottention.headOrder(heads: 4, layer: $0) }, [[2, 0, 1, 3], [3, 0, 2, 1], [1, 2, 3, 0], [3, 0, 2, 1]])
    }

    func testMersenneTwisterFirstOutputs() {
        // CPython: random.seed(0); [random.getrandbits(32) for _ in range(3)].
        var random = PythonRandom(seed: 0)
        XCTAssertEqual((0..<3).map { _ in random.nextUInt32() }, [3_626_764_237, 1_654_615_998, 3_255_389_356])
    }

    func testOffsetsWindowsAndDensityForN196() throws {
        let offsets = Fibottention.headOffsets(patches: 196, heads: 12, minimumWindow: 5, maximumWindow: nil, modified: false)
        XCTAssertEqual(
            offsets,
            [[1, 2, 3, 5], [4, 7], [6, 10], [9, 15], [12, 20], [14, 23], [17, 28], [19, 31], [22, 36], [25, 41], [27, 44], [30, 49]])
        // As Python computes them: 60 / 11 * 11 rounds to 59.99..., so the last window is 64, not 65.
        XCTAssertEqual(
            (1...12).map { Fibottention.window(head: $0, heads: 12, minimum: 5, maximum: 65) },
            [5, 10, 15, 21, 26, 32, 37, 43, 48, 54, 59, 64])
        // Density over the patches (the paper's figure): the kept pairs less the class token's dense row and column.
        let pattern = try Fibottention.pattern(tokens: 197, heads: 12, layer: 0, minimumWindow: 5, maximumWindow: nil, modified: false)
        let patchPairs = pattern.nonzeroCount - 12 * (2 * 196 + 1)
        XCTAssertEqual(Double(patchPairs) / Double(12 * 196 * 196), 0.01994, accuracy: 0.00001)
        // The head holding offsets {1, 2, 3, 5}: 2 diagonals per offset, clipped at the ends: 2 (195 + 194 + 193 + 191).
        let head = Fibottention.headOrder(heads: 12, layer: 0).firstIndex(of: 0)!
        XCTAssertEqual(pattern.keys[head].reduce(0) { $0 + $1.count } - (2 * 196 + 1), 1546)
    }

    func testLayerShufflePermutesTheHeads() throws {
        let offsets = Fibottention.headOffsets(patches: 196, heads: 12, minimumWindow: 5, maximumWindow: nil, modified: false)
        let pattern = try Fibottention.pattern(tokens: 197, heads: 12, layer: 1, minimumWindow: 5, maximumWindow: nil, modified: false)
        for (head, source) in [7, 11, 0, 8, 5, 6, 3, 10, 4, 1, 9, 2].enumerated() {
            // Patch 100 (token 101) attends to the class token and to 100 +- each offset of its source head.
            let expected = Set([0] + offsets[source].flatMap { [101 - $0, 101 + $0] })
            XCTAssertEqual(Set(pattern.keys[head][101]), expected, "head \(head)")
        }
    }

    func testClassTokenRowAndColumnAreDenseAndEndsAreClipped() throws {
        let pattern = try Fibottention.pattern(tokens: 65, heads: 4, layer: 2, minimumWindow: 5, maximumWindow: nil, modified: false)
        for head in 0..<4 {
            XCTAssertEqual(pattern.keys[head][0], Array(0..<65))
            for query in 0..<65 { XCTAssertEqual(pattern.keys[head][query].first, 0) }
            // The first patch has no patch to its left; every key is a valid token.
            XCTAssertTrue(pattern.keys[head][1].allSatisfy { (0..<65).contains($0) })
        }
    }

    func testModifiedVariantIncludesOffsetZero() throws {
        let offsets = Fibottention.headOffsets(patches: 196, heads: 12, minimumWindow: 5, maximumWindow: nil, modified: true)
        XCTAssertEqual(offsets[0], [0, 1, 1, 2, 3, 5])
        let pattern = try Fibottention.pattern(tokens: 197, heads: 12, layer: 0, minimumWindow: 5, maximumWindow: nil, modified: true)
        let head = Fibottention.headOrder(heads: 12, layer: 0).firstIndex(of: 0)!
        XCTAssertTrue(pattern.keys[head][50].contains(50), "offset 0: a patch attends to itself")
        let plain = try Fibottention.pattern(tokens: 197, heads: 12, layer: 0, minimumWindow: 5, maximumWindow: nil, modified: false)
        XCTAssertFalse(plain.keys[head][50].contains(50))
    }

    func testOneHeadUsesTheSmallestWindow() {
        XCTAssertEqual(Fibottention.window(head: 1, heads: 1, minimum: 5, maximum: 65), 5)
        XCTAssertEqual(Fibottention.headOffsets(patches: 196, heads: 1, minimumWindow: 5, maximumWindow: nil, modified: false), [[1, 2, 3, 5]])
    }

    func testDilatedWindowsFollowTheRates() throws {
        // 5 x 5 grid, window 3: patch (2, 2) = 12 with rate 1 sees its 3 x 3 neighbours, with rate 2 every other one.
        let pattern = try SparsePatterns.dilated(tokens: 26, heads: 2, window: 3, rates: [1, 2])
        XCTAssertEqual(pattern.keys[0][13], [0] + [6, 7, 8, 11, 12, 13, 16, 17, 18].map { $0 + 1 })
        XCTAssertEqual(pattern.keys[1][13], [0] + [0, 2, 4, 10, 12, 14, 20, 22, 24].map { $0 + 1 })
        // The corner (0, 0) with rate 2 keeps the in-grid part only.
        XCTAssertEqual(pattern.keys[1][1], [0] + [0, 2, 10, 12].map { $0 + 1 })
        XCTAssertEqual(pattern.keys[1][0], Array(0..<26))
    }

    func testAxialPassesCoverRowsThenColumns() throws {
        let (rows, columns) = try SparsePatterns.axial(tokens: 10, heads: 1)
        // Patch 4 = (1, 1) on the 3 x 3 grid.
        XCTAssertEqual(rows.keys[0][5], [0, 4, 5, 6])
        XCTAssertEqual(columns.keys[0][5], [0, 2, 5, 8])
        XCTAssertEqual(rows.keys[0][0], Array(0..<10))
    }

    /// Bands on a grid: a band must move whole rows plus its column shift, a bad width is an
    /// error naming it, a band whose shift leaves the grid keeps nothing and is dropped, and the
    /// class token's row and column are dense.
    func testBandsAreCheckedAndExpandToTheirKeys() throws {
        typealias Band = SparseAttentionBands.Band
        XCTAssertThrowsError(try SparseAttentionBands(gridWidth: -1, heads: [[Band(offset: 0)]])) {
            XCTAssertTrue("\($0)".contains("gridWidth -1"), "\($0)")
        }
        XCTAssertThrowsError(try SparseAttentionBands(gridWidth: 3, heads: [[Band(offset: 4, columnShift: 0)]])) {
            XCTAssertTrue("\($0)".contains("band offset 4 is not whole rows of 3 patches"), "\($0)")
        }
        let bands = try SparseAttentionBands(
            gridWidth: 3,
            heads: [[Band(offset: 1, columnShift: 1), Band(offset: 1, columnShift: 1), Band(offset: 3, columnShift: 3), Band(offset: -3)]])
        XCTAssertEqual(bands.heads, [[Band(offset: 1, columnShift: 1), Band(offset: -3)]])
        // A 3 x 3 grid: patch 2 ends its row (no right neighbour), patch 4 has one right and one up.
        let pattern = try SparseAttentionPattern(bands: bands, tokens: 10)
        XCTAssertEqual(pattern.keys[0][0], Array(0..<10))
        XCTAssertEqual(pattern.keys[0][2 + 1], [0])
        XCTAssertEqual(pattern.keys[0][4 + 1], [0, 1 + 1, 5 + 1])
        XCTAssertEqual(pattern.bands, bands)
        XCTAssertEqual(bands.packed, [0, 2, 1, 1, -3, 0])
        XCTAssertEqual(bands.packedCount, bands.packed.count)
    }

    func testGridMechanismsRejectANonSquareGrid() {
        XCTAssertThrowsError(try SparsePatterns.axial(tokens: 20, heads: 2)) { XCTAssertTrue("\($0)".contains("not a square"), "\($0)") }
        XCTAssertThrowsError(try SparsePatterns.dilated(tokens: 16, heads: 2, window: 3, rates: [1])) {
            XCTAssertTrue("\($0)".contains("not a square"))
        }
    }

    func testBadValuesAreRejectedBeforeAnyWork() {
        func rejects(_ fragment: String, _ change: (inout ViTConfiguration) -> Void) {
            var configuration = ViTConfiguration()
            change(&configuration)
            XCTAssertThrowsError(try configuration.validate()) { XCTAssertTrue("\($0)".contains(fragment), "\($0)") }
        }
        rejects("fib_wmin 9 (--fib-wmin) exceeds fib_wmax 7") {
            $0.attention.kind = .fibottention
            $0.attention.fibottention.minimumWindow = 9
            $0.attention.fibottention.maximumWindow = 7
        }
        rejects("fib_wmin (--fib-wmin) must be at least 1, got 0") { $0.attention.fibottention.minimumWindow = 0 }
        rejects("fib_wmax (--fib-wmax) must be at least 1, got -2") { $0.attention.fibottention.maximumWindow = -2 }
        rejects("default largest window N // 3 = 1") {
            $0.attention.kind = .fibottention
            $0.imageSize = 8
        }
        rejects("dilated_window (--dilated-window) must be an odd number of at least 1") { $0.attention.dilated.window = 0 }
        rejects("dilated_window (--dilated-window) must be an odd number") { $0.attention.dilated.window = 4 }
        rejects("dilation_rates (--dilation-rates) must all be at least 1, got 0") { $0.attention.dilated.rates = [1, 0] }
        rejects("attention_probs_dropout_prob must be 0 with axial") {
            $0.attention.kind = .axial
            $0.attentionProbsDropoutProb = 0.1
        }
        rejects("hybrid_local_heads (--hybrid-local-heads) must be between 0 and the 4 heads, got 5") {
            $0.attention.kind = .hybrid
            $0.attention.hybrid.localHeads = 5
        }
        rejects("hybrid_local_heads (--hybrid-local-heads) must be between 0 and the 4 heads, got -1") { $0.attention.hybrid.localHeads = -1 }
        rejects("attention_probs_dropout_prob must be 0 with hybrid") {
            $0.attention.kind = .hybrid
            $0.attentionProbsDropoutProb = 0.1
        }
        for (fragment, json) in [
            ("unknown fib_mask_mode (--fib-mask-mode) 'soft'", #"{"fib_mask_mode": "soft"}"#),
            ("unknown hybrid_local (--hybrid-local) 'axial'", #"{"hybrid_local": "axial"}"#),
            ("unknown hybrid_global (--hybrid-global) 'nystromformer'", #"{"hybrid_global": "nystromformer"}"#),
        ] {
            XCTAssertThrowsError(try decodeConfiguration(json)) { XCTAssertTrue("\($0)".contains(fragment), "\($0)") }
        }
        var valid = ViTConfiguration()
        for kind in [AttentionKind.fibottention, .dilated, .axial, .hybrid] {
            valid.attention.kind = kind
            XCTAssertNoThrow(try valid.validate(), kind.rawValue)
        }
    }

    func testConfigurationFieldsRoundTripThroughJSON() throws {
        var configuration = ViTConfiguration()
        configuration.attention.fibottention.minimumWindow = 3
        configuration.attention.fibottention.maximumWindow = 9
        configuration.attention.fibottention.modified = true
        configuration.attention.fibottention.maskMode = .negativeInfinity
        configuration.attention.dilated.window = 5
        configuration.attention.dilated.rates = [1, 3]
        configuration.attention.hybrid.localHeads = 1
        configuration.attention.hybrid.local = .fibottention
        configuration.attention.hybrid.global = .performer
        let decoded = try JSONDecoder().decode(ViTConfiguration.self, from: configuration.jsonData())
        XCTAssertEqual(decoded, configuration)
        XCTAssertNil(try JSONDecoder().decode(ViTConfiguration.self, from: Data("{}".utf8)).attention.fibottention.maximumWindow)
    }
}
