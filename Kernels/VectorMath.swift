// Shared by every kernel variant (see Package.swift): vector exp and friends.
// glibc expf costs 3-16 ns; this polynomial costs well under 1 ns per lane (Sources/TinyLM.docc/Kernels.md, "Vector math").
// Only + - * vfma, pointwiseMin/Max and bit casts: other SIMD operations compile to scalar code.

/// `e^x` per lane, relative error below 2e-7 on [-87, 88]; inputs outside are clamped
/// (so the result is never inf or 0, which keeps softmax sums finite). NaN stays NaN.
@inline(__always)
func vexp(_ x: Vec) -> Vec {
    let xcl = pointwiseMin(pointwiseMax(x, Vec(repeating: -87)), Vec(repeating: 88))
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
        var s = 0
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
        vstore((a0 + a1) + (a2 + a3), out + j)
        j &+= w
    }
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
            vm = pointwiseMax(vm, vload(x + i))
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
    var s = acc.sum()
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
