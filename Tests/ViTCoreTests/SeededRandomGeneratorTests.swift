import ViTCore
import XCTest

final class SeededRandomGeneratorTests: XCTestCase {
    func testSplitMix64MatchesReferenceValues() {
        var state: UInt64 = 0
        XCTAssertEqual(SeededRandomGenerator.splitMix64(&state), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(SeededRandomGenerator.splitMix64(&state), 0x6E78_9E6A_A1B9_65F4)
    }

    func testSequenceIsFixedBySeed() {
        var first = SeededRandomGenerator(seed: 42)
        var second = SeededRandomGenerator(seed: 42)
        var other = SeededRandomGenerator(seed: 43)
        let a = (0..<16).map { _ in first.next() }
        let b = (0..<16).map { _ in second.next() }
        let c = (0..<16).map { _ in other.next() }
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        // Locked values (checked against an independent xoshiro256** + SplitMix64 implementation):
        // a change here changes every shuffle and augmentation.
        var locked = SeededRandomGenerator(seed: 0)
        XCTAssertEqual((0..<3).map { _ in locked.next() }, SeededRandomGeneratorTests.seedZeroOutputs)
    }

    static let seedZeroOutputs: [UInt64] = [11_091_344_671_253_066_420, 13_793_997_310_169_335_082, 1_900_383_378_846_508_768]

    func testStreamsAreIndependentAndReproducible() {
        var epochZero = SeededRandomGenerator(seed: 7, stream: 0, 0)
        var epochOne = SeededRandomGenerator(seed: 7, stream: 0, 1)
        var epochZeroAgain = SeededRandomGenerator(seed: 7, stream: 0, 0)
        let zero = epochZero.next()
        XCTAssertNotEqual(zero, epochOne.next())
        XCTAssertEqual(zero, epochZeroAgain.next())
    }

    func testBoundedDrawsStayInRangeAndCoverIt() {
        var generator = SeededRandomGenerator(seed: 1)
        var counts = [Int](repeating: 0, count: 9)
        for _ in 0..<9000 {
            let value = generator.next(below: 9)
            XCTAssertTrue((0..<9).contains(value))
            counts[value] += 1
        }
        for count in counts {
            XCTAssertGreaterThan(count, 850)
            XCTAssertLessThan(count, 1150)
        }
        var heads = 0
        for _ in 0..<10000 where generator.nextBool() {
            heads += 1
        }
        XCTAssertGreaterThan(heads, 4800)
        XCTAssertLessThan(heads, 5200)
        let unit = (0..<1000).map { _ in generator.nextUnitFloat() }
        XCTAssertTrue(unit.allSatisfy { $0 >= 0 && $0 < 1 })
    }

    func testPermutationIsAReproduciblePermutation() {
        var generator = SeededRandomGenerator(seed: 2024)
        let order = generator.permutation(count: 1000)
        XCTAssertEqual(order.sorted(), Array(0..<1000))
        XCTAssertNotEqual(order, Array(0..<1000))
        var again = SeededRandomGenerator(seed: 2024)
        XCTAssertEqual(again.permutation(count: 1000), order)
        var different = SeededRandomGenerator(seed: 2025)
        XCTAssertNotEqual(different.permutation(count: 1000), order)
        XCTAssertEqual(generator.permutation(count: 0), [])
        XCTAssertEqual(generator.permutation(count: 1), [0])
    }

    func testPermutationsAreRoughlyUniform() {
        // Every one of the 6 orders of three elements appears about equally often.
        var generator = SeededRandomGenerator(seed: 5)
        var seen: [[Int]: Int] = [:]
        for _ in 0..<6000 {
            seen[generator.permutation(count: 3), default: 0] += 1
        }
        XCTAssertEqual(seen.count, 6)
        for count in seen.values {
            XCTAssertGreaterThan(count, 850)
            XCTAssertLessThan(count, 1150)
        }
    }
}
