import ViTBackends
import ViTCore
import XCTest

/// Finite-difference checks of `sparseAttention`'s backward rule (both mask modes), with the
/// helper and tolerances of GradientCheckTests.
extension GradientCheckTests {
    /// 2 heads over 5 tokens; head 1's query 3 has no key (a fully masked row).
    private func smallPattern() throws -> SparseAttentionPattern {
        try SparseAttentionPattern(
            keys: [
                [[0, 1, 2, 3, 4], [0, 2], [1], [0, 3, 4], [4]],
                [[0, 1], [0, 1, 2], [2, 4], [], [0, 2, 3, 4]],
            ], tokens: 5)
    }

    func testSparseAttentionBothModes() throws {
        let index = try smallPattern().upload(to: backend)
        let (query, key, value) = (
            try tensor([2, 2, 5, 4], seed: 40, scale: 1.5), try tensor([2, 2, 5, 4], seed: 41, scale: 1.5), try tensor([2, 2, 5, 4], seed: 42)
        )
        for mode in SparseAttentionMaskMode.allCases {
            try checkGradients([query, key, value]) { try sparseAttention(query: $0[0], key: $0[1], value: $0[2], index: index, mode: mode) }
        }
    }
}
