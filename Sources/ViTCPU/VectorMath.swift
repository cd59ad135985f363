/// Vectorisable float32 math for the CPU kernels.
///
/// libm's `expf` and `erff` are calls, so loops around them stay scalar. `exp` and `erf`
/// here are branch-free scalar formulas (polynomials, bit manipulation, selects) meant to be
/// inlined into plain loops over pointers, which LLVM's loop vectoriser turns into SIMD code
/// (AVX2, eight lanes, where Package.swift finds it; SSE2, four lanes, otherwise). They are
/// deliberately not written on Swift's SIMD types: the standard library implements SIMD
/// arithmetic lane by lane and leaves re-vectorising to LLVM's SLP pass, which in functions
/// this size leaves some lanes scalar. Reductions, which the loop vectoriser may not
/// reorder, use `FloatVector` accumulators (further below), where that pass does well.
///
/// Accuracy, measured on every float against double precision: `exp` within 1.28 ulp on
/// [-87.3, 88] and `erf` (with e^(-z^2) from `exp`) within 1.10 ulp with FMA; 1.31 and
/// 1.31 ulp without (libm: 0.5 and 0.97); the kernel checks allow 3-16 ulp.
enum VectorMath {
    /// e^x for x up to 88, the domain of every caller: softmax arguments (x - max, or a
    /// score minus its row's log-sum-exp, at most a rounding error above 0), -z^2 / 2 and the
    /// negative branch of ELU. Cephes' expf: x = n ln2 + r (`reducedExponential`), then times
    /// 2^n built from the exponent bits in one step. Arguments are clamped at -87.9, where n
    /// is -127: its 2^n has exponent bits 0, so the result is exactly 0 below about -87.68
    /// (e^x would be under 1.2e-38, a subnormal) with no select. exp(-inf) = 0; NaN stays NaN.
    @inline(__always)
    static func exp(_ input: Float) -> Float {
        let x = input < -87.9 ? -87.9 : input
        let (shifted, y) = reducedExponential(x)
        // 2^n from the shifted float's bits, (bits - 0x4B40_0000 + 127) << 23, the constant folded.
        let scale = Float(bitPattern: shifted.bitPattern &<< 23 &+ UInt32(truncatingIfNeeded: (127 - 0x4B40_0000) << 23))
        return y * scale
    }

    /// 1.5 * 2^23: adding it rounds a float below 2^22 in magnitude to an integer and leaves
    /// that integer in the low bits.
    static var shifter: Float { 12_582_912 }

    /// x = n ln2 + r with |r| <= ln2 / 2 (Cody-Waite, ln2 split in two so n ln2 is exact):
    /// n offset by `shifter`, and e^r by Cephes' degree-7 polynomial.
    @inline(__always)
    static func reducedExponential(_ x: Float) -> (shifted: Float, y: Float) {
        let shifted = multiplyAdd(x, 1.442_695_04, shifter)
        let n = shifted - shifter
        let r = multiplyAdd(n, 2.121_944_4e-4, multiplyAdd(n, -0.693_359_375, x))
        // Estrin's scheme: the terms are independent, so the multiplications overlap instead
        // of forming Horner's chain of dependent steps.
        let r2 = r * r
        let p = multiplyAdd(
            r2 * r2, line(1.398_199_95e-3, 1.987_569_15e-4, r),
            multiplyAdd(r2, line(4.166_579_59e-2, 8.333_451_9e-3, r), line(5.000_000_12e-1, 1.666_666_55e-1, r)))
        return (shifted, multiplyAdd(p, r2, r + 1))
    }

    /// erf(z), given e = e^(-z^2), which GELU needs anyway. Below `erfSeriesBound` in
    /// magnitude: `erfNearZero`. Above: 1 - e R(|z|) with the sign of z, R of degree 8 in
    /// |z| - 1.5 approximating erfc(t) e^(t^2) on [0.921875, 4] (erf rounds to 1 past 4).
    /// Coefficients: float32-rounded minimax fits (Lawson's algorithm), weighted by the
    /// error they cause in erf.
    @inline(__always)
    static func erf(_ z: Float, expMinusSquare e: Float) -> Float {
        let magnitude = z.magnitude
        let u = (magnitude > 4 ? 4 : magnitude) - 1.5
        let u2 = u * u
        let u4 = u2 * u2
        let low = multiplyAdd(u2, line(7.615_398e-2, -3.293_160_7e-2, u), line(3.215_853_9e-1, -1.636_227_2e-1, u))
        let high = multiplyAdd(u2, line(1.983_250_3e-3, -6.862_543_5e-4, u), line(1.334_646_7e-2, -5.148_18e-3, u))
        let r = multiplyAdd(u4 * u4, 1.280_082_2e-4, multiplyAdd(u4, high, low))
        let large = Float(signOf: z, magnitudeOf: multiplyAdd(-e, r, 1))
        return magnitude < erfSeriesBound ? erfNearZero(z) : large
    }

    /// Where `erf` switches from `erfNearZero` to the e^(-z^2) form.
    static var erfSeriesBound: Float { 0.921_875 }

    /// erf(z) for |z| < `erfSeriesBound`: z + z P(z^2), P of degree 5. Callers that know all
    /// their arguments are that small skip the exponential.
    @inline(__always)
    static func erfNearZero(_ z: Float) -> Float {
        let s = z * z
        let s2 = s * s
        let p = multiplyAdd(
            s2 * s2, line(4.993_186_3e-3, -5.990_878_6e-4, s),
            multiplyAdd(s2, line(1.128_181_7e-1, -2.676_662e-2, s), line(1.283_791_5e-1, -3.761_249_5e-1, s)))
        return multiplyAdd(z, p, z)
    }

    /// Whether |source[i] scale| < bound for all `count` floats (false if any is NaN).
    @inline(__always)
    static func magnitudesBelow(_ source: UnsafeMutablePointer<Float>, count: Int, scale: Float, bound: Float) -> Bool {
        // An integer OR instead of a Bool, so that the loop has no early exit and vectorises.
        var outside: Int32 = 0
        for i in 0..<count { outside |= (source[i] * scale).magnitude < bound ? 0 : 1 }
        return outside == 0
    }

    /// c0 + c1 x, the pairs of Estrin's scheme.
    @inline(__always)
    static func line(_ c0: Float, _ c1: Float, _ x: Float) -> Float {
        multiplyAdd(c1, x, c0)
    }

    /// a b + c: one fused instruction where the build targets FMA (`VIT_FMA`, set by
    /// Package.swift with AVX2), since Swift does not contract a * b + c by itself; a
    /// multiply and an add otherwise, where a fused call would go to libm's software fmaf.
    @inline(__always)
    static func multiplyAdd(_ a: Float, _ b: Float, _ c: Float) -> Float {
        #if VIT_FMA
            c.addingProduct(a, b)
        #else
            a * b + c
        #endif
    }
}

/// Eight float lanes: SIMD accumulators for reductions, and whole-vector moves.
typealias FloatVector = SIMD8<Float>

extension VectorMath {
    /// a b + c lane by lane, fused as `multiplyAdd` is.
    @inline(__always)
    static func multiplyAdd(_ a: FloatVector, _ b: FloatVector, _ c: FloatVector) -> FloatVector {
        #if VIT_FMA
            c.addingProduct(a, b)
        #else
            a * b + c
        #endif
    }

    /// Computed, not stored: a stored static is a lazily initialised global, which would
    /// hide the constant from the optimiser.
    static var width: Int { FloatVector.scalarCount }

    /// Calls `body(index, lanes)` for consecutive vectors covering `range`: `lanes` is
    /// `width` except for a shorter last vector. Loads and stores take `lanes` so that one
    /// loop body serves both.
    @inline(__always)
    static func forEachVector(in range: Range<Int>, _ body: (Int, Int) -> Void) {
        var index = range.lowerBound
        while index + width <= range.upperBound {
            body(index, width)
            index += width
        }
        if index < range.upperBound { tail(index, range.upperBound - index, body) }
    }

    /// The last, partial vector, in a function of its own: inlined next to the loop, its copy
    /// of the body gets merged with the loop's, whose `lanes` then stop being a constant and
    /// whose vector code partly turns into scalar code.
    @inline(never)
    static func tail(_ index: Int, _ lanes: Int, _ body: (Int, Int) -> Void) {
        body(index, lanes)
    }

    /// The largest of `count` floats (-inf for none).
    @inline(__always)
    static func maximum(_ source: UnsafeMutablePointer<Float>, count: Int) -> Float {
        let largest = reduce(
            count, initial: -.infinity, { source.loadVector(at: $0, lanes: $1, padding: -.infinity) },
            { a, b in
                var result = a
                result.replace(with: b, where: b .> a)
                return result
            })
        return horizontalMaximum(largest)
    }

    /// The sum of `count` floats, in interleaved partial sums.
    @inline(__always)
    static func sum(_ source: UnsafeMutablePointer<Float>, count: Int) -> Float {
        horizontalSum(reduce(count, initial: 0, { source.loadVector(at: $0, lanes: $1) }, +))
    }

    /// `combine` folded over the vectors `load(index, lanes)` covering 0..<count, from
    /// `initial` in every lane. Four accumulators, not one: with one, every step waits for
    /// the one before (3-4 cycles for an add), and the reduction runs at a fraction of the
    /// load rate.
    @inline(__always)
    static func reduce(
        _ count: Int, initial: Float, _ load: (Int, Int) -> FloatVector,
        _ combine: (FloatVector, FloatVector) -> FloatVector
    ) -> FloatVector {
        var (first, second, third, fourth) = (
            FloatVector(repeating: initial), FloatVector(repeating: initial),
            FloatVector(repeating: initial), FloatVector(repeating: initial)
        )
        var index = 0
        while index + 4 * width <= count {
            first = combine(first, load(index, width))
            second = combine(second, load(index + width, width))
            third = combine(third, load(index + 2 * width, width))
            fourth = combine(fourth, load(index + 3 * width, width))
            index += 4 * width
        }
        forEachVector(in: index..<count) { start, lanes in first = combine(first, load(start, lanes)) }
        return combine(combine(first, second), combine(third, fourth))
    }

    /// The sum of the lanes (the standard library's `sum()` is an opaque call).
    @inline(__always)
    static func horizontalSum(_ x: FloatVector) -> Float {
        var total = x[0]
        for lane in 1..<width { total += x[lane] }
        return total
    }

    /// The largest lane (NaN lanes are skipped, like `fmax`).
    @inline(__always)
    static func horizontalMaximum(_ x: FloatVector) -> Float {
        var largest = x[0]
        for lane in 1..<width where x[lane] > largest { largest = x[lane] }
        return largest
    }

    /// The sum of a[c] b[c] over `count` floats.
    @inline(__always)
    static func dot(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, count: Int) -> Float {
        horizontalSum(reduce(count, initial: 0, { a.loadVector(at: $0, lanes: $1) * b.loadVector(at: $0, lanes: $1) }, +))
    }

    /// Copies `count` floats. Short runs (rows of a permute, often 12 or 64 floats) are
    /// moved with vector loads and stores in line, instead of a call to memmove each.
    @inline(__always)
    static func copy(_ source: UnsafeMutablePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
        if count > 64 { return target.update(from: source, count: count) }
        var index = 0
        while index + width <= count {
            target.storeVector(source.loadVector(at: index), at: index)
            index += width
        }
        if index + 4 <= count {
            UnsafeMutableRawPointer(target + index).storeBytes(
                of: UnsafeRawPointer(source + index).loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
            index += 4
        }
        while index < count {
            target[index] = source[index]
            index += 1
        }
    }
}

/// Vector loads and stores at any float offset (rows of 65 or 197 floats are not aligned).
/// With `lanes` < width they touch only the first `lanes` floats; a load fills the other
/// lanes with `padding`, chosen so that they do not change a reduction.
extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always)
    func loadVector(at index: Int) -> FloatVector {
        UnsafeRawPointer(self + index).loadUnaligned(as: FloatVector.self)
    }

    @inline(__always)
    func storeVector(_ vector: FloatVector, at index: Int) {
        UnsafeMutableRawPointer(self + index).storeBytes(of: vector, as: FloatVector.self)
    }

    @inline(__always)
    func loadVector(at index: Int, lanes: Int, padding: Float = 0) -> FloatVector {
        if lanes == FloatVector.scalarCount { return loadVector(at: index) }
        var vector = FloatVector(repeating: padding)
        for lane in 0..<lanes { vector[lane] = self[index + lane] }
        return vector
    }

    @inline(__always)
    func storeVector(_ vector: FloatVector, at index: Int, lanes: Int) {
        if lanes == FloatVector.scalarCount { return storeVector(vector, at: index) }
        for lane in 0..<lanes { self[index + lane] = vector[lane] }
    }
}
