/// CPython's `random` module for what Fibottention's head shuffle needs: `random.seed(n)` for
/// a non-negative integer n (MT19937 seeded by `init_by_array` with n's 32-bit words) and
/// `random.shuffle`, bit for bit, so per-layer masks equal the official code's.
public struct PythonRandom {
    private var state = [UInt32](repeating: 0, count: 624)
    private var position = 624

    /// `random.seed(seed)`.
    public init(seed: UInt64) {
        // CPython splits |seed| into 32-bit words, least significant first; 0 gives [0].
        var key: [UInt32] = [UInt32(truncatingIfNeeded: seed)]
        if seed >> 32 != 0 { key.append(UInt32(truncatingIfNeeded: seed >> 32)) }
        initialize(by: key)
    }

    private mutating func initialize(seed: UInt32) {
        state[0] = seed
        for i in 1..<624 {
            state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i)
        }
        position = 624
    }

    /// MT19937's `init_by_array`.
    private mutating func initialize(by key: [UInt32]) {
        initialize(seed: 19_650_218)
        var (i, j) = (1, 0)
        for _ in 0..<max(624, key.count) {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1
            j += 1
            if i >= 624 {
                state[0] = state[623]
                i = 1
            }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<623 {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= 624 {
                state[0] = state[623]
                i = 1
            }
        }
        state[0] = 0x8000_0000
    }

    /// MT19937's `genrand_uint32`.
    public mutating func nextUInt32() -> UInt32 {
        if position >= 624 {
            for k in 0..<624 {
                let y = (state[k] & 0x8000_0000) | (state[(k + 1) % 624] & 0x7fff_ffff)
                state[k] = state[(k + 397) % 624] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_b0df)
            }
            position = 0
        }
        var y = state[position]
        position += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    /// `random._randbelow(n)` for 0 < n < 2^32: draws of `n.bit_length()` bits until one is below n.
    public mutating func below(_ n: Int) -> Int {
        let bits = UInt32(Int.bitWidth - n.leadingZeroBitCount)
        while true {
            let candidate = Int(nextUInt32() >> (32 - bits))
            if candidate < n { return candidate }
        }
    }

    /// `random.shuffle(elements)`: Fisher-Yates from the end.
    public mutating func shuffle<Element>(_ elements: inout [Element]) {
        for i in stride(from: elements.count - 1, to: 0, by: -1) {
            elements.swapAt(i, below(i + 1))
        }
    }
}
