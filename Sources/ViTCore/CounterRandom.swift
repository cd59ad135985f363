/// The counter-based random stream that dropout uses on every backend. A uniform number
/// is a pure function of (seed, offset, index), so a mask can be regenerated for the
/// backward pass instead of stored, and the OpenCL kernel (Kernels/dropout.cl, which
/// implements the same integer arithmetic) gives the same mask as the CPU.
public enum CounterRandom {
    /// A 32-bit integer hash with good avalanche ("lowbias32", Chris Wellons).
    @inline(__always)
    public static func hash(_ value: UInt32) -> UInt32 {
        var x = value
        x ^= x >> 16
        x &*= 0x7feb_352d
        x ^= x >> 15
        x &*= 0x846c_a68b
        x ^= x >> 16
        return x
    }

    /// The key of one stream: mixes the seed and the offset (for example the step number).
    @inline(__always)
    public static func key(seed: UInt32, offset: UInt32) -> UInt32 {
        hash(seed ^ hash(offset &+ 0x9e37_79b9))
    }

    /// A uniform number in [0, 1) with 24 random bits for element `index` of stream `key`.
    @inline(__always)
    public static func uniform(key: UInt32, index: UInt32) -> Float {
        Float(hash(key ^ hash(index)) >> 8) * (1.0 / 16_777_216.0)
    }
}
