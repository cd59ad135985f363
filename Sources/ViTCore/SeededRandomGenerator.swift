/// A small, fast, seeded pseudo-random generator (xoshiro256**, state filled by SplitMix64)
/// whose output depends only on the seed: the same on every run, platform and Swift
/// version. Shuffling and bounded draws are implemented here too (instead of the standard
/// library's, whose algorithms are not promised to stay fixed), so epoch orders and
/// augmentations are reproducible.
public struct SeededRandomGenerator: RandomNumberGenerator, Sendable {
    private var state0: UInt64
    private var state1: UInt64
    private var state2: UInt64
    private var state3: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        var splitMix = seed
        state0 = Self.splitMix64(&splitMix)
        state1 = Self.splitMix64(&splitMix)
        state2 = Self.splitMix64(&splitMix)
        state3 = Self.splitMix64(&splitMix)
    }

    /// A generator for one independent stream of `seed`, named by any number of integers
    /// (for example epoch and batch index), so that each part of the work gets its own
    /// reproducible sequence regardless of the order in which the parts are computed.
    public init(seed: UInt64, stream: UInt64...) {
        var key = Self.mix(seed)
        for part in stream {
            key = Self.mix(key ^ Self.mix(part &+ 0x9E37_79B9_7F4A_7C15))
        }
        self.init(seed: key)
    }

    /// One SplitMix64 step: advances `state` and returns the next output.
    public static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mix(state)
    }

    /// SplitMix64's output function, a 64-bit hash with good avalanche.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotateLeft(state1 &* 5, 7) &* 9
        let shifted = state1 << 17
        state2 ^= state0
        state3 ^= state1
        state1 ^= state2
        state0 ^= state3
        state2 ^= shifted
        state3 = rotateLeft(state3, 45)
        return result
    }

    /// A uniform integer in `0..<bound` without modulo bias (Lemire's method); `bound` > 0.
    @inline(__always)
    public mutating func next(below bound: Int) -> Int {
        precondition(bound > 0, "SeededRandomGenerator.next(below:) needs a positive bound")
        let limit = UInt64(bound)
        var product = next().multipliedFullWidth(by: limit)
        if product.low < limit {
            let threshold = (0 &- limit) % limit
            while product.low < threshold {
                product = next().multipliedFullWidth(by: limit)
            }
        }
        return Int(product.high)
    }

    /// A fair coin.
    @inline(__always)
    public mutating func nextBool() -> Bool {
        next() >> 63 == 1
    }

    /// A uniform float in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A uniformly random permutation of `0..<count` (Fisher-Yates).
    public mutating func permutation(count: Int) -> [Int] {
        var order = Array(0..<count)
        shuffle(&order)
        return order
    }

    /// Shuffles `elements` in place, uniformly (Fisher-Yates).
    public mutating func shuffle<Element>(_ elements: inout [Element]) {
        guard elements.count > 1 else { return }
        for index in stride(from: elements.count - 1, to: 0, by: -1) {
            let other = next(below: index + 1)
            if other != index {
                elements.swapAt(index, other)
            }
        }
    }

    @inline(__always)
    private func rotateLeft(_ value: UInt64, _ amount: UInt64) -> UInt64 {
        (value << amount) | (value >> (64 - amount))
    }
}
