// Shared by every kernel variant (see Package.swift): vector exp and friends.
// glibc expf costs 3-16 ns; this polynomial costs well under 1 ns per lane (Sources/TinyLM.docc/Kernels.md, "Vector math").
// Only + - * vfma, vminimum/vmaximum, integer masks and bit casts: other SIMD operations
// (pointwiseMin/Max, .clamped, .rounded, mask logic, float-int conversions) compile to scalar code.

/// `Float.maximum(x, y)` lane by lane (the larger; x where y is NaN, y where only x is), as
/// `pointwiseMax` defines it, but as compares and a select by bit masks: `pointwiseMax` is a
/// generic loop over the lanes that the optimizer does not inline into large functions, and then
/// it runs lane by lane through memory, ~100 cycles a call (measured in vexp, attention and the
/// softmax); `replacing(with:where:)` kept `vexp` itself from being inlined (its SIMD16 argument
/// then travels as four xmm halves: the softmax gradient ran three times slower).
@inline(__always)
func vmaximum(_ x: Vec, _ y: Vec) -> Vec { vselect(vbits(x .> y) | vbits(y .!= y), x, y) }

/// `Float.minimum(x, y)` lane by lane, as `pointwiseMin` defines it (see `vmaximum`).
@inline(__always)
func vminimum(_ x: Vec, _ y: Vec) -> Vec { vselect(vbits(x .<= y) | vbits(y .!= y), x, y) }

/// A comparison's lanes as integers: all ones where true, zero where false (combine masks this
/// way: `.|` on masks also compiles lane by lane).
@inline(__always)
func vbits(_ mask: SIMDMask<IVec>) -> IVec { unsafeBitCast(mask, to: IVec.self) }

/// `a` where `mask` is all ones, `b` where it is zero.
@inline(__always)
func vselect(_ mask: IVec, _ a: Vec, _ b: Vec) -> Vec {
    unsafeBitCast((unsafeBitCast(a, to: IVec.self) & mask) | (unsafeBitCast(b, to: IVec.self) & ~mask), to: Vec.self)
}

/// `e^x` per lane, relative error below 2e-7 on [-87, 88]; inputs outside are clamped
/// (so the result is never inf or 0, which keeps softmax sums finite). The clamp takes NaN to
/// -87 (Float.maximum's rule), so NaN gives e^-87.
@inline(__always)
func vexp(_ x: Vec) -> Vec {
    let xcl = vminimum(vmaximum(x, Vec(repeating: -87)), Vec(repeating: 88))
    let magic = Vec(repeating: 12_582_912)                       // 1.5 * 2^23: rounds to integer
    let t = vfma(magic, xcl, Vec(repeating: 1.442_695_040_888_963_4))
    let n = t - magic                                           // round(x / ln 2)
    var r = vfma(xcl, n, Vec(repeating: -0.693_359_375))         // Cody-Waite: ln 2 = hi + lo
    r = vfma(r, n, Vec(repeating: 2.121_944_400_546_905_8e-4))
    var p = Vec(repeating: 1.987_569_150_0e-4)
    p = vfma(Vec(repeating: 1.398_199_950_7e-3), p, r)
    p = vfma(Vec(repeating: 8.333_451_907_3e-3), p, r)
    p = vfma(Vec(repeating: 4.166_579_589_4e-2), p, r)
    p = vfma(Vec(repeating: 1.666_666_545_9e-1), p, r)
    p = vfma(Vec(repeating: 5.000_000_120_1e-1), p, r)
    p = vfma(r + 1, p, r * r)                                   // 1 + r + r^2 * poly
    let bits = unsafeBitCast(t, to: IVec.self) &- IVec(repeating: 0x4B40_0000)
    let scale = unsafeBitCast((bits &+ 127) &<< 23, to: Vec.self)
    return p * scale
}

/// `tanh(x)` per lane as `1 - 2 / (e^{2x} + 1)` (absolute error ~1e-7).
@inline(__always)
func vtanh(_ x: Vec) -> Vec {
    let e = vexp(x + x)
    return 1 - 2 / (e + 1)
}

/// Loads `Vec.scalarCount` floats from `p` (no alignment needed).
@inline(__always)
func vload(_ p: UnsafePointer<Float>) -> Vec {
    UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

@inline(__always)
func vstore(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
}

/// Σ a[i]·b[i] over `n` floats.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    let w = Vec.scalarCount
    var acc = Vec(repeating: 0)
    var i = 0
    while i &+ w <= n {
        acc = vfma(acc, vload(a + i), vload(b + i))
        i &+= w
    }
    var s = acc.sum()
    while i < n {
        s += a[i] * b[i]
        i &+= 1
    }
    return s
}

/// y[i] += alpha·x[i] over `n` floats.
@inline(__always)
func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let w = Vec.scalarCount
    let va = Vec(repeating: alpha)
    var i = 0
    while i &+ w <= n {
        vstore(vfma(vload(y + i), va, vload(x + i)), y + i)
        i &+= w
    }
    while i < n {
        y[i] += alpha * x[i]
        i &+= 1
    }
}

/// y[i] += alpha·x[i] for `n` a multiple of the vector width (no scalar tail).
@inline(__always)
func axpyVectors(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let w = Vec.scalarCount
    let va = Vec(repeating: alpha)
    var i = 0
    while i < n {
        vstore(vfma(vload(y + i), va, vload(x + i)), y + i)
        i &+= w
    }
}

/// out[s] = alpha · Σ_i a[i] · mT[i·ld + s] for s in 0..<len (len a multiple of the vector
/// width): a vector–matrix product along rows of a transposed matrix. Four accumulators per
/// output vector keep the FMA chain short (an axpy loop into `out` would serialise on
/// store-to-load forwarding, which was measured 4-5x slower).
@inline(__always)
func vecMatT(_ a: UnsafePointer<Float>, _ alpha: Float, _ mT: UnsafePointer<Float>, ld: Int, k: Int,
             _ out: UnsafeMutablePointer<Float>, _ len: Int) {
    let w = Vec.scalarCount
    var s = 0
    while s < len {
        var a0 = Vec(repeating: 0), a1 = a0, a2 = a0, a3 = a0
        var i = 0
        while i &+ 4 <= k {
            a0 = vfma(a0, Vec(repeating: a[i]), vload(mT + (i &* ld &+ s)))
            a1 = vfma(a1, Vec(repeating: a[i &+ 1]), vload(mT + ((i &+ 1) &* ld &+ s)))
            a2 = vfma(a2, Vec(repeating: a[i &+ 2]), vload(mT + ((i &+ 2) &* ld &+ s)))
            a3 = vfma(a3, Vec(repeating: a[i &+ 3]), vload(mT + ((i &+ 3) &* ld &+ s)))
            i &+= 4
        }
        while i < k {
            a0 = vfma(a0, Vec(repeating: a[i]), vload(mT + (i &* ld &+ s)))
            i &+= 1
        }
        vstore(((a0 + a1) + (a2 + a3)) * Vec(repeating: alpha), out + s)
        s &+= w
    }
}

/// out[0..<n] = Σ_{s<count} coef[s] · rows[s·stride + 0..<n] (overwrites out): a weighted sum
/// of rows, with four accumulators per output vector.
@inline(__always)
func combineRows(_ coef: UnsafePointer<Float>, _ rows: UnsafePointer<Float>, stride: Int, count: Int,
                 n: Int, _ out: UnsafeMutablePointer<Float>) {
    let w = Vec.scalarCount
    var j = 0
    while j &+ w <= n {
        var a0 = Vec(repeating: 0), a1 = a0, a2 = a0, a3 = a0
        vstore(combineChains(coef, rows, stride: stride, column: j, from: 0, count: count, &a0, &a1, &a2, &a3), out + j)
        j &+= w
    }
    combineRowsTail(coef, rows, stride: stride, count: count, from: j, n: n, out)
}

/// One vector of `combineRows`' columns at `column`: its four chains (one per s mod 4, the
/// leftover s in the first) continued from s = `from` (a multiple of 4) to `count`, then summed
/// as (a0 + a1) + (a2 + a3).
@inline(__always)
func combineChains(_ coef: UnsafePointer<Float>, _ rows: UnsafePointer<Float>, stride: Int, column j: Int, from: Int,
                   count: Int, _ a0: inout Vec, _ a1: inout Vec, _ a2: inout Vec, _ a3: inout Vec) -> Vec {
    var s = from
    while s &+ 4 <= count {
        a0 = vfma(a0, Vec(repeating: coef[s]), vload(rows + (s &* stride &+ j)))
        a1 = vfma(a1, Vec(repeating: coef[s &+ 1]), vload(rows + ((s &+ 1) &* stride &+ j)))
        a2 = vfma(a2, Vec(repeating: coef[s &+ 2]), vload(rows + ((s &+ 2) &* stride &+ j)))
        a3 = vfma(a3, Vec(repeating: coef[s &+ 3]), vload(rows + ((s &+ 3) &* stride &+ j)))
        s &+= 4
    }
    while s < count {
        a0 = vfma(a0, Vec(repeating: coef[s]), vload(rows + (s &* stride &+ j)))
        s &+= 1
    }
    return (a0 + a1) + (a2 + a3)
}

/// The columns `from ..< n` of `combineRows`, one scalar sum each.
@inline(__always)
func combineRowsTail(_ coef: UnsafePointer<Float>, _ rows: UnsafePointer<Float>, stride: Int, count: Int,
                     from: Int, n: Int, _ out: UnsafeMutablePointer<Float>) {
    var j = from
    while j < n {
        var acc: Float = 0
        for s in 0..<count { acc += coef[s] * rows[s &* stride &+ j] }
        out[j] = acc
        j &+= 1
    }
}

/// Largest of `n` floats (n > 0).
@inline(__always)
func maxOf(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let w = Vec.scalarCount
    var i = 0
    var m = -Float.infinity
    if n >= w {
        var vm = vload(x)
        i = w
        while i &+ w <= n {
            vm = vmaximum(vm, vload(x + i))
            i &+= w
        }
        m = vm.max()
    }
    while i < n {
        m = Swift.max(m, x[i])
        i &+= 1
    }
    return m
}

/// Writes `e^(x[i] - shift)` to `out` (may alias `x`) and returns their sum.
@inline(__always)
func expShifted(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int, _ shift: Float) -> Float {
    var (s, i) = expShiftedVectors(x, out, n, shift)
    if i < n {
        // The tail (fewer than a vector) through one padded vector exp, so every element
        // agrees with the vector path and the tail costs one exp, not one per element.
        var v = Vec(repeating: 0)
        let rem = n &- i
        for k in 0..<rem { v[k] = x[i &+ k] - shift }
        let e = vexp(v)
        for k in 0..<rem {
            out[i &+ k] = e[k]
            s += e[k]
        }
    }
    return s
}

/// The whole vectors of `expShifted`: `out = e^(x − shift)` below n rounded down to vectors;
/// returns the sum of those (a vector sum, then its lanes in order) and where the tail starts.
@inline(__always)
func expShiftedVectors(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int,
                       _ shift: Float) -> (sum: Float, tail: Int) {
    let w = Vec.scalarCount
    let vs = Vec(repeating: shift)
    var acc = Vec(repeating: 0)
    var i = 0
    while i &+ w <= n {
        let e = vexp(vload(x + i) - vs)
        vstore(e, out + i)
        acc += e
        i &+= w
    }
    return (acc.sum(), i)
}

/// `(evens, odds)` of the concatenation `a ++ b`: one two-source permute each (vpermi2ps).
@inline(__always)
func vunzip(_ a: Vec, _ b: Vec) -> (Vec, Vec) {
    (Vec(lowHalf: a.evenHalf, highHalf: b.evenHalf), Vec(lowHalf: a.oddHalf, highHalf: b.oddHalf))
}

/// `dst[q·ldd + r] = src[r·ld + q]` for a `Vec.scalarCount`² block (8 or 16). Each round
/// unzips row pairs (2i, 2i+1) into rows i and i + n/2, which rotates the bits of the element
/// index (row, column) right by one; log2(n) rounds swap row and column.
@inline(__always)
func transposeSquare(
    _ src: UnsafePointer<Float>, ld: Int, _ dst: UnsafeMutablePointer<Float>, ldd: Int
) {
    let s = UnsafeRawPointer(src), d = UnsafeMutableRawPointer(dst)
    let lb = ld &* 4, db = ldd &* 4
    @inline(__always) func row(_ r: Int) -> Vec { s.loadUnaligned(fromByteOffset: r &* lb, as: Vec.self) }
    @inline(__always) func put(_ v: Vec, _ q: Int) { d.storeBytes(of: v, toByteOffset: q &* db, as: Vec.self) }
    if Vec.scalarCount == 16 {
        var x0 = row(0), x1 = row(1), x2 = row(2), x3 = row(3), x4 = row(4), x5 = row(5)
        var x6 = row(6), x7 = row(7), x8 = row(8), x9 = row(9), x10 = row(10), x11 = row(11)
        var x12 = row(12), x13 = row(13), x14 = row(14), x15 = row(15)
        for _ in 0..<4 {
            let (y0, y8) = vunzip(x0, x1), (y1, y9) = vunzip(x2, x3)
            let (y2, y10) = vunzip(x4, x5), (y3, y11) = vunzip(x6, x7)
            let (y4, y12) = vunzip(x8, x9), (y5, y13) = vunzip(x10, x11)
            let (y6, y14) = vunzip(x12, x13), (y7, y15) = vunzip(x14, x15)
            x0 = y0; x1 = y1; x2 = y2; x3 = y3; x4 = y4; x5 = y5; x6 = y6; x7 = y7
            x8 = y8; x9 = y9; x10 = y10; x11 = y11; x12 = y12; x13 = y13; x14 = y14; x15 = y15
        }
        put(x0, 0); put(x1, 1); put(x2, 2); put(x3, 3); put(x4, 4); put(x5, 5); put(x6, 6)
        put(x7, 7); put(x8, 8); put(x9, 9); put(x10, 10); put(x11, 11); put(x12, 12)
        put(x13, 13); put(x14, 14); put(x15, 15)
    } else if Vec.scalarCount == 8 {
        var x0 = row(0), x1 = row(1), x2 = row(2), x3 = row(3)
        var x4 = row(4), x5 = row(5), x6 = row(6), x7 = row(7)
        for _ in 0..<3 {
            let (y0, y4) = vunzip(x0, x1), (y1, y5) = vunzip(x2, x3)
            let (y2, y6) = vunzip(x4, x5), (y3, y7) = vunzip(x6, x7)
            x0 = y0; x1 = y1; x2 = y2; x3 = y3; x4 = y4; x5 = y5; x6 = y6; x7 = y7
        }
        put(x0, 0); put(x1, 1); put(x2, 2); put(x3, 3); put(x4, 4); put(x5, 5); put(x6, 6); put(x7, 7)
    }
}

// MARK: - Rows with room past their end (attention's scratch rows, padded to whole vectors)

/// Lane numbers 0, 1, …, `Vec.scalarCount` − 1.
@inline(__always)
func laneNumbers() -> IVec {
    var v = IVec()
    for k in 0..<IVec.scalarCount { v[k] = Int32(truncatingIfNeeded: k) }
    return v
}

/// `x` in lanes below `n` (any n ≥ 0), `other` above: by bit masks (a vector compare and blend
/// would compile to scalar code).
@inline(__always)
func vkeep(_ x: Vec, below n: Int, lanes: IVec, else other: Vec) -> Vec {
    let cut = IVec(repeating: Int32(truncatingIfNeeded: Swift.min(n, IVec.scalarCount)))
    let keep = (lanes &- cut) &>> 31   // all ones where lane < n
    let bits = (unsafeBitCast(x, to: IVec.self) & keep) | (unsafeBitCast(other, to: IVec.self) & ~keep)
    return unsafeBitCast(bits, to: Vec.self)
}

/// The largest lane of `v` by a tree: unzip into even and odd lanes and keep the larger of each
/// pair, log2(width) times (`Vec.max()` takes the lanes one by one through memory). The same
/// value as `max()`, but for the sign of a zero maximum.
@inline(__always)
func maxAcross(_ v: Vec) -> Float {
    var m = v
    var k = Vec.scalarCount
    while k > 1 {
        let (evens, odds) = vunzip(m, m)
        m = vmaximum(evens, odds)
        k /= 2
    }
    return m[0]
}

/// The largest of `x[0 ..< n]` (n > 0), where `x` is readable up to n rounded up to whole
/// vectors: the last vector is masked instead of scanned. The same value as `maxOf` but for the
/// sign of a zero maximum (which no e^(x − max) can tell apart).
@inline(__always)
func maxOfPadded(_ x: UnsafePointer<Float>, _ n: Int, lanes: IVec) -> Float {
    let w = Vec.scalarCount
    var vm = Vec(repeating: -.infinity)
    var i = 0
    while i &+ w <= n { vm = vmaximum(vm, vload(x + i)); i &+= w }
    if i < n { vm = vmaximum(vm, vkeep(vload(x + i), below: n &- i, lanes: lanes, else: Vec(repeating: -.infinity))) }
    return maxAcross(vm)
}

/// `expShifted(x, x, n, shift)` for a row with room up to n rounded up to whole vectors: the same
/// values and the same sum, in the same order, with the tail's vector made by a mask (the lanes
/// past n are overwritten with e^0).
@inline(__always)
func expShiftedPadded(_ x: UnsafeMutablePointer<Float>, _ n: Int, _ shift: Float, lanes: IVec) -> Float {
    var (s, i) = expShiftedVectors(x, x, n, shift)
    if i < n {
        let v = vkeep(vload(x + i) - Vec(repeating: shift), below: n &- i, lanes: lanes, else: Vec(repeating: 0))
        vstore(vexp(v), x + i)
        for k in i..<n { s += x[k] }
    }
    return s
}

// MARK: - Four rows at a time (attention): each output element summed exactly as by the one-row
// functions above, so the results are the same bits; the loads of the shared operand are shared.

/// `vecMatT` for four vectors `a + r·lda` (r < 4) into `out + r·ldo`, over `len` columns.
@inline(__always)
func vecMatT4(_ a: UnsafePointer<Float>, lda: Int, _ alpha: Float, _ mT: UnsafePointer<Float>, ld: Int, k: Int,
              _ out: UnsafeMutablePointer<Float>, ldo: Int, _ len: Int) {
    let w = Vec.scalarCount
    let a0p = a, a1p = a + lda, a2p = a + 2 &* lda, a3p = a + 3 &* lda
    let va = Vec(repeating: alpha)
    var s = 0
    while s < len {
        var acc = Chains4x4()
        var i = 0
        while i &+ 4 <= k {
            acc.add(vload(mT + (i &* ld &+ s)), vload(mT + ((i &+ 1) &* ld &+ s)), vload(mT + ((i &+ 2) &* ld &+ s)),
                    vload(mT + ((i &+ 3) &* ld &+ s)), times: a0p, a1p, a2p, a3p, at: i)
            i &+= 4
        }
        while i < k {
            let m0 = vload(mT + (i &* ld &+ s))
            acc.x0 = vfma(acc.x0, Vec(repeating: a0p[i]), m0); acc.y0 = vfma(acc.y0, Vec(repeating: a1p[i]), m0)
            acc.z0 = vfma(acc.z0, Vec(repeating: a2p[i]), m0); acc.u0 = vfma(acc.u0, Vec(repeating: a3p[i]), m0)
            i &+= 1
        }
        vstore(((acc.x0 + acc.x1) + (acc.x2 + acc.x3)) * va, out + s)
        vstore(((acc.y0 + acc.y1) + (acc.y2 + acc.y3)) * va, out + (ldo &+ s))
        vstore(((acc.z0 + acc.z1) + (acc.z2 + acc.z3)) * va, out + (2 &* ldo &+ s))
        vstore(((acc.u0 + acc.u1) + (acc.u2 + acc.u3)) * va, out + (3 &* ldo &+ s))
        s &+= w
    }
}

/// Four rows (x, y, z, u) by four chains of accumulators, for the four-row kernels: each row's
/// chain c takes the terms whose index is c mod 4, as the one-row kernels' chains do.
struct Chains4x4 {
    var x0 = Vec(repeating: 0), x1 = Vec(repeating: 0), x2 = Vec(repeating: 0), x3 = Vec(repeating: 0)
    var y0 = Vec(repeating: 0), y1 = Vec(repeating: 0), y2 = Vec(repeating: 0), y3 = Vec(repeating: 0)
    var z0 = Vec(repeating: 0), z1 = Vec(repeating: 0), z2 = Vec(repeating: 0), z3 = Vec(repeating: 0)
    var u0 = Vec(repeating: 0), u1 = Vec(repeating: 0), u2 = Vec(repeating: 0), u3 = Vec(repeating: 0)

    /// Row r's chain c += p_r[i + c] · m_c (c < 4), for the rows' scalars p0 ... p3.
    @inline(__always)
    mutating func add(_ m0: Vec, _ m1: Vec, _ m2: Vec, _ m3: Vec, times p0: UnsafePointer<Float>, _ p1: UnsafePointer<Float>,
                      _ p2: UnsafePointer<Float>, _ p3: UnsafePointer<Float>, at i: Int) {
        x0 = vfma(x0, Vec(repeating: p0[i]), m0); x1 = vfma(x1, Vec(repeating: p0[i &+ 1]), m1)
        x2 = vfma(x2, Vec(repeating: p0[i &+ 2]), m2); x3 = vfma(x3, Vec(repeating: p0[i &+ 3]), m3)
        y0 = vfma(y0, Vec(repeating: p1[i]), m0); y1 = vfma(y1, Vec(repeating: p1[i &+ 1]), m1)
        y2 = vfma(y2, Vec(repeating: p1[i &+ 2]), m2); y3 = vfma(y3, Vec(repeating: p1[i &+ 3]), m3)
        z0 = vfma(z0, Vec(repeating: p2[i]), m0); z1 = vfma(z1, Vec(repeating: p2[i &+ 1]), m1)
        z2 = vfma(z2, Vec(repeating: p2[i &+ 2]), m2); z3 = vfma(z3, Vec(repeating: p2[i &+ 3]), m3)
        u0 = vfma(u0, Vec(repeating: p3[i]), m0); u1 = vfma(u1, Vec(repeating: p3[i &+ 1]), m1)
        u2 = vfma(u2, Vec(repeating: p3[i &+ 2]), m2); u3 = vfma(u3, Vec(repeating: p3[i &+ 3]), m3)
    }
}

/// `combineRows` for four coefficient rows `coef + r·ldc` with counts `count + r` (r < 4) into
/// `out + r·ldo`: the quads of s the four rows share run together (one load of each row of
/// `rows` for all four), each row's last quads and tail then run alone, in `combineRows`' order.
@inline(__always)
func combineRows4(_ coef: UnsafePointer<Float>, ldc: Int, _ rows: UnsafePointer<Float>, stride: Int, count: Int,
                  n: Int, _ out: UnsafeMutablePointer<Float>, ldo: Int) {
    let w = Vec.scalarCount
    let shared = count / 4 &* 4        // quads every row has
    var j = 0
    while j &+ w <= n {
        var acc = Chains4x4()
        let c0 = coef, c1 = coef + ldc, c2 = coef + 2 &* ldc, c3 = coef + 3 &* ldc
        var s = 0
        while s < shared {
            acc.add(vload(rows + (s &* stride &+ j)), vload(rows + ((s &+ 1) &* stride &+ j)),
                    vload(rows + ((s &+ 2) &* stride &+ j)), vload(rows + ((s &+ 3) &* stride &+ j)),
                    times: c0, c1, c2, c3, at: s)
            s &+= 4
        }
        @inline(__always) func finish(_ c: UnsafePointer<Float>, _ cnt: Int, _ a0: inout Vec, _ a1: inout Vec,
                                      _ a2: inout Vec, _ a3: inout Vec, _ o: UnsafeMutablePointer<Float>) {
            vstore(combineChains(c, rows, stride: stride, column: j, from: shared, count: cnt, &a0, &a1, &a2, &a3), o + j)
        }
        finish(c0, count, &acc.x0, &acc.x1, &acc.x2, &acc.x3, out)
        finish(c1, count &+ 1, &acc.y0, &acc.y1, &acc.y2, &acc.y3, out + ldo)
        finish(c2, count &+ 2, &acc.z0, &acc.z1, &acc.z2, &acc.z3, out + 2 &* ldo)
        finish(c3, count &+ 3, &acc.u0, &acc.u1, &acc.u2, &acc.u3, out + 3 &* ldo)
        j &+= w
    }
    if j < n {
        for r in 0..<4 {
            combineRowsTail(coef + r &* ldc, rows, stride: stride, count: count &+ r, from: j, n: n, out + r &* ldo)
        }
    }
}
