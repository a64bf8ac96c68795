// Shared by every kernel variant (see Package.swift): the transformer's non-GEMM layers.
// Each layer is a forward/backward pair; the shapes are in the comment line above each.
// All tensors are row-major Float buffers; `rows` = B·T positions. Backward functions
// *accumulate* into parameter gradients and say whether they overwrite or accumulate input
// gradients.

import Foundation

public enum Ops {
    // MARK: embeddings

    /// out[r, :] = wte[tokens[r], :] + wpe[r % t, :]        out [B·T, C], tokens [B·T]
    public static func encoderForward(
        out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>,
        wte: UnsafePointer<Float>, wpe: UnsafePointer<Float>, rows: Int, t: Int, c: Int
    ) {
        for r in 0..<rows {
            let o = out + r &* c
            let e = wte + Int(tokens[r]) &* c
            let p = wpe + (r % t) &* c
            for i in 0..<c { o[i] = e[i] + p[i] }
        }
    }

    /// dwte[tokens[r]] += dout[r]; dwpe[r % t] += dout[r]   (accumulates)
    public static func encoderBackward(
        dwte: UnsafeMutablePointer<Float>, dwpe: UnsafeMutablePointer<Float>,
        dout: UnsafePointer<Float>, tokens: UnsafePointer<Int32>, rows: Int, t: Int, c: Int
    ) {
        for r in 0..<rows {
            let d = dout + r &* c
            axpy(1, d, dwte + Int(tokens[r]) &* c, c)
            axpy(1, d, dwpe + (r % t) &* c, c)
        }
    }

    // MARK: layer norm

    /// out = (x - mean) · rstd · weight + bias per row; saves mean and rstd.   x, out [rows, C]
    public static func layerNormForward(
        out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        rows: Int, c: Int, threads: Int
    ) {
        let w = Vec.scalarCount
        parallelRanges(rows, threads: threads, minPerChunk: 256) { lo, hi in
            for r in lo..<hi {
                let x = inp + r &* c
                let o = out + r &* c
                let m = vsum(x, c) / Float(c)
                var acc = Vec(repeating: 0)
                let vm = Vec(repeating: m)
                var i = 0
                while i &+ w <= c {
                    let d = vload(x + i) - vm
                    acc = vfma(acc, d, d)
                    i &+= w
                }
                var v = acc.sum()
                while i < c { let d = x[i] - m; v += d * d; i &+= 1 }
                let rs = 1 / (v / Float(c) + 1e-5).squareRoot()
                let vr = Vec(repeating: rs)
                i = 0
                while i &+ w <= c {
                    let n = (vload(x + i) - vm) * vr
                    vstore(vfma(vload(bias + i), n, vload(weight + i)), o + i)
                    i &+= w
                }
                while i < c { o[i] = (x[i] - m) * rs * weight[i] + bias[i]; i &+= 1 }
                mean[r] = m
                rstd[r] = rs
            }
        }
    }

    /// Backward of `layerNormForward`: dinp += ...; dweight += Σ_r norm·dout; dbias += Σ_r dout.
    public static func layerNormBackward(
        dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
        dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, c: Int, threads: Int
    ) {
        let w = Vec.scalarCount
        parallelRanges(rows, threads: threads, minPerChunk: 256) { lo, hi in
            for r in lo..<hi {
                let x = inp + r &* c, d = dout + r &* c, dx = dinp + r &* c
                let vm = Vec(repeating: mean[r]), vr = Vec(repeating: rstd[r])
                var sa = Vec(repeating: 0), sb = Vec(repeating: 0)
                var i = 0
                while i &+ w <= c {
                    let n = (vload(x + i) - vm) * vr
                    let dn = vload(weight + i) * vload(d + i)
                    sa += dn
                    sb = vfma(sb, dn, n)
                    i &+= w
                }
                var dnMean = sa.sum(), dnNormMean = sb.sum()
                while i < c {
                    let n = (x[i] - mean[r]) * rstd[r]
                    let dn = weight[i] * d[i]
                    dnMean += dn; dnNormMean += dn * n
                    i &+= 1
                }
                dnMean /= Float(c); dnNormMean /= Float(c)
                let va = Vec(repeating: dnMean), vb = Vec(repeating: dnNormMean)
                i = 0
                while i &+ w <= c {
                    let n = (vload(x + i) - vm) * vr
                    let dn = vload(weight + i) * vload(d + i)
                    vstore(vload(dx + i) + (dn - va - n * vb) * vr, dx + i)
                    i &+= w
                }
                while i < c {
                    let n = (x[i] - mean[r]) * rstd[r]
                    dx[i] += (weight[i] * d[i] - dnMean - n * dnNormMean) * rstd[r]
                    i &+= 1
                }
            }
        }
        // Parameter gradients: each thread owns a range of columns, so no reduction is needed.
        parallelRanges(c, threads: rows * c >= 1 << 16 ? threads : 1, minPerChunk: w) { lo, hi in
            for r in 0..<rows {
                let x = inp + r &* c, d = dout + r &* c
                let m = mean[r], rs = rstd[r]
                for i in lo..<hi {
                    dweight[i] += (x[i] - m) * rs * d[i]
                    dbias[i] += d[i]
                }
            }
        }
    }

    // MARK: bias, residual

    /// out[r, :] += bias     out [rows, n]
    public static func addBias(out: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, n: Int) {
        for r in 0..<rows { axpy(1, bias, out + r &* n, n) }
    }

    /// dbias += Σ_r dout[r, :]     (accumulates)
    public static func biasBackward(dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, rows: Int, n: Int) {
        for r in 0..<rows { axpy(1, dout + r &* n, dbias, n) }
    }

    /// out = a + b    (n floats; out may alias a or b)
    public static func add(out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, n: Int) {
        let w = Vec.scalarCount
        var i = 0
        while i &+ w <= n { vstore(vload(a + i) + vload(b + i), out + i); i &+= w }
        while i < n { out[i] = a[i] + b[i]; i &+= 1 }
    }

    // MARK: GELU (tanh approximation)

    /// out = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))     n floats
    public static func geluForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, n: Int, threads: Int) {
        let w = Vec.scalarCount
        parallelRanges(n / w, threads: threads, minPerChunk: 4096) { lo, hi in
            for j in lo..<hi {
                let x = vload(inp + j &* w)
                let u = Vec(repeating: geluK) * vfma(x, Vec(repeating: 0.044715) * x * x, x)
                vstore(0.5 * x * (1 + vtanh(u)), out + j &* w)
            }
        }
        for i in (n / w) &* w ..< n {
            let x = inp[i]
            out[i] = 0.5 * x * (1 + tanhf(geluK * (x + 0.044715 * x * x * x)))
        }
    }

    /// dinp = dout · gelu'(x)     (overwrites dinp; dinp may alias dout)
    public static func geluBackward(
        dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, dout: UnsafePointer<Float>, n: Int, threads: Int
    ) {
        let w = Vec.scalarCount
        parallelRanges(n / w, threads: threads, minPerChunk: 4096) { lo, hi in
            for j in lo..<hi {
                let x = vload(inp + j &* w)
                let x2 = x * x
                let u = Vec(repeating: geluK) * vfma(x, Vec(repeating: 0.044715) * x2, x)
                let th = vtanh(u)
                let du = Vec(repeating: geluK) * vfma(Vec(repeating: 1), Vec(repeating: 3 * 0.044715), x2)
                let g = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * du
                vstore(g * vload(dout + j &* w), dinp + j &* w)
            }
        }
        for i in (n / w) &* w ..< n {
            let x = inp[i]
            let th = tanhf(geluK * (x + 0.044715 * x * x * x))
            let g = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * geluK * (1 + 3 * 0.044715 * x * x)
            dinp[i] = g * dout[i]
        }
    }

    static let geluK: Float = 0.797_884_560_802_865_4   // √(2/π)

    // MARK: causal self-attention

    /// Floats of scratch the attention kernels need for sequences of up to `t` positions.
    public static func attentionScratchSize(t: Int, headSize hs: Int, threads: Int) -> Int {
        let w = Vec.scalarCount
        let tp = (t + w - 1) / w * w, hp = (hs + w - 1) / w * w
        // Per thread: Kᵀ or Vᵀ [hs, tp]; forward: four score rows [tp]; backward: dS [t, tp], dY
        // and Q [t, hp] each, four rows of P and four of dP [tp].
        return threads * (hs * tp + t * tp + 2 * t * hp + 8 * tp)
    }

    /// qkv [B·T, 3C] (q | k | v, head h at columns h·hs..<(h+1)·hs of each) → out [B·T, C];
    /// saves the attention probabilities probs [B, H, T, T] (zero above the diagonal).
    /// Scores are computed against a transposed copy of K, so the inner loops run along the
    /// key positions in full vectors (no horizontal sums); `scratch` holds
    /// `attentionScratchSize` floats.
    public static func attentionForward(
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, b: Int, t: Int, c: Int, h: Int, threads: Int
    ) {
        let hs = c / h, c3 = 3 &* c, w = Vec.scalarCount
        let tp = (t &+ w &- 1) / w &* w
        let scale = 1 / Float(hs).squareRoot()
        let perThread = attentionScratchSize(t: t, headSize: hs, threads: 1)
        let lanes = laneNumbers()
        parallelChunks(b &* h, threads: threads, minPerChunk: 2) { chunk, lo, hi in
            let kt = scratch + chunk &* perThread          // [hs, tp]
            let rows4 = kt + hs &* tp                      // four score rows [tp]
            for bh in lo..<hi {
                let bi = bh / h, head = bh % h
                let base = qkv + bi &* t &* c3
                let pm = probs + bh &* t &* t
                let v = base + 2 &* c + head &* hs
                transposeHead(base + c + head &* hs, stride: c3, rows: t, hs: hs, into: kt, tp: tp)
                // prow = row · inv up to the diagonal (n entries), zero after it.
                @inline(__always) func softmaxRow(_ row: UnsafeMutablePointer<Float>, _ n: Int, _ prow: UnsafeMutablePointer<Float>) {
                    let m = maxOfPadded(row, n, lanes: lanes)
                    let inv = 1 / expShiftedPadded(row, n, m, lanes: lanes)
                    let vinv = Vec(repeating: inv), zero = Vec(repeating: 0)
                    var s = 0
                    while s &+ w <= t {
                        vstore(vkeep(vload(row + s) * vinv, below: n &- s, lanes: lanes, else: zero), prow + s)
                        s &+= w
                    }
                    while s < t { prow[s] = s < n ? row[s] * inv : 0; s &+= 1 }
                }
                // Four query rows at a time (the scores share the loads of Kᵀ, the weighted sums
                // the loads of V), the last few one by one.
                var ti = 0
                while ti &+ 4 <= t {
                    let q = base + ti &* c3 + head &* hs
                    vecMatT4(q, lda: c3, scale, kt, ld: tp, k: hs, rows4, ldo: tp, (ti &+ 4 &+ w &- 1) / w &* w)
                    for r in 0..<4 { softmaxRow(rows4 + r &* tp, ti &+ r &+ 1, pm + (ti &+ r) &* t) }
                    combineRows4(pm + ti &* t, ldc: t, v, stride: c3, count: ti &+ 1, n: hs,
                                 out + (bi &* t + ti) &* c + head &* hs, ldo: c)
                    ti &+= 4
                }
                while ti < t {
                    let q = base + ti &* c3 + head &* hs
                    let n = ti &+ 1
                    vecMatT(q, scale, kt, ld: tp, k: hs, rows4, (ti &+ w) / w &* w)
                    softmaxRow(rows4, n, pm + ti &* t)
                    combineRows(pm + ti &* t, v, stride: c3, count: n, n: hs, out + (bi &* t + ti) &* c + head &* hs)
                    ti &+= 1
                }
            }
        }
    }

    /// Backward of `attentionForward`: dqkv [B·T, 3C] is overwritten; `scratch` holds
    /// `attentionScratchSize` floats. Per query row t: dp = dy·Vᵀ, dS = P ⊙ (dp − P·dp)·scale,
    /// dq = dS·K; then per key s: dv = Σ_t P[t, s]·dy_t and dk = Σ_t dS[t, s]·q_t, four keys at a
    /// time with every accumulator in a register (each sum in the order of t, as a row-by-row
    /// accumulation would add it).
    public static func attentionBackward(
        dqkv: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
        qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>, b: Int, t: Int, c: Int, h: Int, threads: Int
    ) {
        let hs = c / h, c3 = 3 &* c, w = Vec.scalarCount
        let tp = (t &+ w &- 1) / w &* w, hp = (hs &+ w &- 1) / w &* w
        let scale = 1 / Float(hs).squareRoot()
        let perThread = attentionScratchSize(t: t, headSize: hs, threads: 1)
        parallelChunks(b &* h, threads: threads, minPerChunk: 2) { chunk, lo, hi in
            let vt = scratch + chunk &* perThread          // Vᵀ  [hs, tp]
            let dsm = vt + hs &* tp                        // dS [t, tp], zero past each row's vectors
            let dyp = dsm + t &* tp                        // this head's dy rows [t, hp], zero padded
            let qp = dyp + t &* hp                         // this head's q rows [t, hp], zero padded
            let prow = qp + t &* hp, dp = prow + 4 &* tp  // four rows [tp] each
            for bh in lo..<hi {
                let bi = bh / h, head = bh % h
                let base = qkv + bi &* t &* c3
                let dbase = dqkv + bi &* t &* c3
                let pm = probs + bh &* t &* t
                let k = base + c + head &* hs
                transposeHead(base + 2 &* c + head &* hs, stride: c3, rows: t, hs: hs, into: vt, tp: tp)
                // Row ti's P (zero padded to whole vectors) into `pr`; after dp = dy·Vᵀ is in
                // `dpr`: dS = P ⊙ (dp − P·dp)·scale into its row of dsm, and this head's dy and q
                // rows into dyp and qp.
                @inline(__always) func loadP(_ ti: Int, _ pr: UnsafeMutablePointer<Float>) {
                    let n = ti &+ 1, len = (ti &+ w) / w &* w
                    let src = pm + ti &* t
                    var s = 0
                    while s &+ w <= n { vstore(vload(src + s), pr + s); s &+= w }
                    while s < n { pr[s] = src[s]; s &+= 1 }
                    while s < len { pr[s] = 0; s &+= 1 }
                }
                @inline(__always) func rowGradients(_ ti: Int, _ pr: UnsafePointer<Float>, _ dpr: UnsafePointer<Float>,
                                                    pdp: Float) {
                    let len = (ti &+ w) / w &* w
                    let ds = dsm + ti &* tp
                    let vpdp = Vec(repeating: pdp), vscale = Vec(repeating: scale)
                    var s = 0
                    while s < len { vstore(vload(pr + s) * (vload(dpr + s) - vpdp) * vscale, ds + s); s &+= w }
                    while s < tp { vstore(Vec(repeating: 0), ds + s); s &+= w }
                    let dy = dout + (bi &* t + ti) &* c + head &* hs, q = base + ti &* c3 + head &* hs
                    let dyRow = dyp + ti &* hp, qRow = qp + ti &* hp
                    var i = 0
                    while i &+ w <= hs { vstore(vload(dy + i), dyRow + i); vstore(vload(q + i), qRow + i); i &+= w }
                    while i < hp {
                        dyRow[i] = i < hs ? dy[i] : 0
                        qRow[i] = i < hs ? q[i] : 0
                        i &+= 1
                    }
                }
                // Four query rows at a time (dp shares the loads of Vᵀ, dq = dS·K the loads of K),
                // the last few one by one.
                var ti = 0
                while ti &+ 4 <= t {
                    for r in 0..<4 { loadP(ti &+ r, prow + r &* tp) }
                    vecMatT4(dout + (bi &* t + ti) &* c + head &* hs, lda: c, 1, vt, ld: tp, k: hs, dp, ldo: tp,
                             (ti &+ 4 &+ w &- 1) / w &* w)
                    // P·dp of the four rows, each summed in order, the four sums interleaved.
                    let p0 = prow, p1 = prow + tp, p2 = prow + 2 &* tp, p3 = prow + 3 &* tp
                    let d0 = dp, d1 = dp + tp, d2 = dp + 2 &* tp, d3 = dp + 3 &* tp
                    var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
                    for s in 0...ti {
                        s0 += p0[s] * d0[s]; s1 += p1[s] * d1[s]; s2 += p2[s] * d2[s]; s3 += p3[s] * d3[s]
                    }
                    s1 += p1[ti &+ 1] * d1[ti &+ 1]
                    s2 += p2[ti &+ 1] * d2[ti &+ 1]; s2 += p2[ti &+ 2] * d2[ti &+ 2]
                    s3 += p3[ti &+ 1] * d3[ti &+ 1]; s3 += p3[ti &+ 2] * d3[ti &+ 2]; s3 += p3[ti &+ 3] * d3[ti &+ 3]
                    rowGradients(ti, p0, d0, pdp: s0)
                    rowGradients(ti &+ 1, p1, d1, pdp: s1)
                    rowGradients(ti &+ 2, p2, d2, pdp: s2)
                    rowGradients(ti &+ 3, p3, d3, pdp: s3)
                    combineRows4(dsm + ti &* tp, ldc: tp, k, stride: c3, count: ti &+ 1, n: hs,
                                 dbase + ti &* c3 + head &* hs, ldo: c3)
                    ti &+= 4
                }
                while ti < t {
                    loadP(ti, prow)
                    vecMatT(dout + (bi &* t + ti) &* c + head &* hs, 1, vt, ld: tp, k: hs, dp, (ti &+ w) / w &* w)
                    var pdp: Float = 0
                    for s in 0...ti { pdp += prow[s] * dp[s] }
                    rowGradients(ti, prow, dp, pdp: pdp)
                    combineRows(dsm + ti &* tp, k, stride: c3, count: ti &+ 1, n: hs, dbase + ti &* c3 + head &* hs)
                    ti &+= 1
                }
                keyGradients(probs: pm, ldp: t, ds: dsm, ldds: tp, dy: dyp, q: qp, ld: hp, t: t, hs: hs,
                             dk: dbase + c + head &* hs, dv: dbase + 2 &* c + head &* hs, ldo: c3, tmp: prow)
            }
        }
    }

    /// dv_s = Σ_{t ≥ s} P[t, s]·dy_t and dk_s = Σ_{t ≥ s} dS[t, s]·q_t for every key s < t (rows of
    /// dy and q `ld` apart, zero padded to whole vectors; P and dS zero above the diagonal), into
    /// rows `ldo` apart: four keys by two vectors of head columns per pass, 16 accumulators.
    @inline(__always)
    static func keyGradients(
        probs: UnsafePointer<Float>, ldp: Int, ds: UnsafePointer<Float>, ldds: Int,
        dy: UnsafePointer<Float>, q: UnsafePointer<Float>, ld: Int, t: Int, hs: Int,
        dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>, ldo: Int, tmp: UnsafeMutablePointer<Float>
    ) {
        let w = Vec.scalarCount
        var s0 = 0
        while s0 < t {
            let keys = min(4, t &- s0)
            // Keys past t (the last block of a t not divisible by 4) read a zero at `tmp`.
            tmp[0] = 0
            @inline(__always) func column(_ m: UnsafePointer<Float>, _ ldm: Int, _ key: Int) -> (UnsafePointer<Float>, Int) {
                key < keys ? (m + (s0 &* ldm &+ s0 &+ key), ldm) : (UnsafePointer(tmp), 0)
            }
            let (pc0, ps0) = column(probs, ldp, 0), (pc1, ps1) = column(probs, ldp, 1)
            let (pc2, ps2) = column(probs, ldp, 2), (pc3, ps3) = column(probs, ldp, 3)
            let (dc0, ds0) = column(ds, ldds, 0), (dc1, ds1) = column(ds, ldds, 1)
            let (dc2, ds2) = column(ds, ldds, 2), (dc3, ds3) = column(ds, ldds, 3)
            var i0 = 0
            while i0 < hs {
                let two = i0 &+ w < hs   // a second vector of columns in this pass
                var v00 = Vec(repeating: 0), v01 = v00, v10 = v00, v11 = v00, v20 = v00, v21 = v00, v30 = v00, v31 = v00
                var k00 = v00, k01 = v00, k10 = v00, k11 = v00, k20 = v00, k21 = v00, k30 = v00, k31 = v00
                var tt = s0
                while tt < t {
                    let r = tt &- s0
                    let y0 = vload(dy + (tt &* ld &+ i0)), x0 = vload(q + (tt &* ld &+ i0))
                    let p0 = Vec(repeating: pc0[r &* ps0]), d0 = Vec(repeating: dc0[r &* ds0])
                    let p1 = Vec(repeating: pc1[r &* ps1]), d1 = Vec(repeating: dc1[r &* ds1])
                    let p2 = Vec(repeating: pc2[r &* ps2]), d2 = Vec(repeating: dc2[r &* ds2])
                    let p3 = Vec(repeating: pc3[r &* ps3]), d3 = Vec(repeating: dc3[r &* ds3])
                    v00 = vfma(v00, p0, y0); v10 = vfma(v10, p1, y0); v20 = vfma(v20, p2, y0); v30 = vfma(v30, p3, y0)
                    k00 = vfma(k00, d0, x0); k10 = vfma(k10, d1, x0); k20 = vfma(k20, d2, x0); k30 = vfma(k30, d3, x0)
                    if two {
                        let y1 = vload(dy + (tt &* ld &+ i0 &+ w)), x1 = vload(q + (tt &* ld &+ i0 &+ w))
                        v01 = vfma(v01, p0, y1); v11 = vfma(v11, p1, y1); v21 = vfma(v21, p2, y1); v31 = vfma(v31, p3, y1)
                        k01 = vfma(k01, d0, x1); k11 = vfma(k11, d1, x1); k21 = vfma(k21, d2, x1); k31 = vfma(k31, d3, x1)
                    }
                    tt &+= 1
                }
                @inline(__always) func put(_ x: Vec, _ row: UnsafeMutablePointer<Float>, _ col: Int) {
                    if col &+ w <= hs {
                        vstore(x, row + col)
                    } else {
                        vstore(x, tmp)
                        for i in col..<hs { row[i] = tmp[i &- col] }
                    }
                }
                for key in 0..<keys {
                    let (a, a2, d, d2): (Vec, Vec, Vec, Vec)
                    switch key {
                    case 0: (a, a2, d, d2) = (v00, v01, k00, k01)
                    case 1: (a, a2, d, d2) = (v10, v11, k10, k11)
                    case 2: (a, a2, d, d2) = (v20, v21, k20, k21)
                    default: (a, a2, d, d2) = (v30, v31, k30, k31)
                    }
                    let vr = dv + (s0 &+ key) &* ldo, kr = dk + (s0 &+ key) &* ldo
                    put(a, vr, i0); put(d, kr, i0)
                    if two { put(a2, vr, i0 &+ w); put(d2, kr, i0 &+ w) }
                }
                i0 &+= two ? 2 &* w : w
            }
            s0 &+= 4
        }
    }

    /// Copies one head's rows x[s, 0..<hs] (row stride `stride`) into xᵀ [hs, tp], zero-padding
    /// columns t..<tp so whole-vector loops over positions read zeros there: square blocks of
    /// one vector through in-register transposes, the ragged edges element by element.
    @inline(__always)
    static func transposeHead(_ x: UnsafePointer<Float>, stride: Int, rows t: Int, hs: Int,
                              into xt: UnsafeMutablePointer<Float>, tp: Int) {
        let w = Vec.scalarCount
        let square = w == 8 || w == 16
        let tb = square ? t / w &* w : 0, hb = square ? hs / w &* w : 0
        var s = 0
        while s < tb {
            var i = 0
            while i < hb { transposeSquare(x + (s &* stride &+ i), ld: stride, xt + (i &* tp &+ s), ldd: tp); i &+= w }
            s &+= w
        }
        for s in 0..<t {
            let r = x + s &* stride
            for i in (s < tb ? hb : 0)..<hs { xt[i &* tp &+ s] = r[i] }
        }
        if tp > t { for i in 0..<hs { for s in t..<tp { xt[i &* tp &+ s] = 0 } } }
    }

    // MARK: output head: softmax statistics and gradients

    /// Per row r of logits [rows, V] with target y_r (rows with y_r < 0 are skipped, outputs 0):
    /// lse_r = log Σ_j e^{z_j}; targetLogp_r = z_{y_r} − lse_r. With `refLogp` [rows, V] (a
    /// reference model's log-softmax) also kl_r = Σ_j p_j (log p_j − ref_j); with `entropy`,
    /// h_r = −Σ_j p_j log p_j. `scratch` holds threads·V floats.
    public static func softmaxStats(
        logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, v: Int,
        lse: UnsafeMutablePointer<Float>, targetLogp: UnsafeMutablePointer<Float>,
        refLogp: UnsafePointer<Float>?, kl: UnsafeMutablePointer<Float>?, entropy: UnsafeMutablePointer<Float>?,
        scratch: UnsafeMutablePointer<Float>, threads: Int
    ) {
        parallelChunks(rows, threads: threads, minPerChunk: 64) { chunk, lo, hi in
            let p = scratch + chunk &* v   // one row of scratch per chunk
            for r in lo..<hi {
                let y = Int(targets[r])
                if y < 0 {
                    lse[r] = 0; targetLogp[r] = 0
                    kl?[r] = 0; entropy?[r] = 0
                    continue
                }
                let z = logits + r &* v
                let m = maxOf(z, v)
                let s = expShifted(z, p, v, m)
                let l = m + logf(s)
                lse[r] = l
                targetLogp[r] = z[y] - l
                if kl != nil || entropy != nil {
                    let inv = 1 / s
                    var klAcc: Float = 0, hAcc: Float = 0
                    for j in 0..<v {
                        let pj = p[j] * inv
                        let lp = z[j] - l
                        hAcc -= pj * lp
                        if let refLogp { klAcc += pj * (lp - refLogp[r &* v &+ j]) }
                    }
                    kl?[r] = klAcc
                    entropy?[r] = hAcc
                }
            }
        }
    }

    /// Overwrites logits [rows, V] with dLoss/dlogits, given per-row coefficients:
    /// a_r = dLoss/d(targetLogp_r), k_r = dLoss/d(kl_r), e_r = dLoss/d(h_r), and the forward
    /// statistics from `softmaxStats`. Rows with y_r < 0 get zero gradient.
    ///   g_j = a_r (1[j = y] − p_j) + k_r p_j (log p_j − ref_j − kl_r) − e_r p_j (log p_j + h_r)
    public static func softmaxBackward(
        logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, v: Int,
        lse: UnsafePointer<Float>, targetCoef: UnsafePointer<Float>,
        refLogp: UnsafePointer<Float>?, kl: UnsafePointer<Float>?, klCoef: UnsafePointer<Float>?,
        entropy: UnsafePointer<Float>?, entropyCoef: UnsafePointer<Float>?, threads: Int
    ) {
        let w = Vec.scalarCount
        parallelRanges(rows, threads: threads, minPerChunk: 64) { lo, hi in
            for r in lo..<hi {
                let z = logits + r &* v
                let y = Int(targets[r])
                if y < 0 {
                    for j in 0..<v { z[j] = 0 }
                    continue
                }
                let a = targetCoef[r]
                let l = lse[r]
                let useKL = refLogp != nil && klCoef != nil && kl != nil && klCoef![r] != 0
                let useH = entropy != nil && entropyCoef != nil && entropyCoef![r] != 0
                if !useKL && !useH {
                    // g_j = -a p_j, then + a at the target.
                    let na = Vec(repeating: -a), vl = Vec(repeating: l)
                    var j = 0
                    while j &+ w <= v { vstore(na * vexp(vload(z + j) - vl), z + j); j &+= w }
                    while j < v { z[j] = -a * expf(z[j] - l); j &+= 1 }
                } else {
                    let k = useKL ? klCoef![r] : 0
                    let klr = useKL ? kl![r] : 0
                    let e = useH ? entropyCoef![r] : 0
                    let hr = useH ? entropy![r] : 0
                    let ref = useKL ? refLogp! + r &* v : nil
                    for j in 0..<v {
                        let lp = z[j] - l
                        let pj = expf(lp)
                        var g = -a * pj
                        if let ref { g += k * pj * (lp - ref[j] - klr) }
                        if useH { g -= e * pj * (lp + hr) }
                        z[j] = g
                    }
                }
                z[y] += a
            }
        }
    }

    /// Replaces each row of logits [rows, V] by its log-softmax. `scratch` holds threads·V floats.
    public static func logSoftmaxRows(logits: UnsafeMutablePointer<Float>, rows: Int, v: Int,
                                      scratch: UnsafeMutablePointer<Float>, threads: Int) {
        parallelChunks(rows, threads: threads, minPerChunk: 64) { chunk, lo, hi in
            let p = scratch + chunk &* v
            for r in lo..<hi {
                let z = logits + r &* v
                let m = maxOf(z, v)
                let l = m + logf(expShifted(z, p, v, m))
                for j in 0..<v { z[j] -= l }
            }
        }
    }

    // MARK: optimizer helpers

    /// Σ x[i]² (accumulated in Double across vector partial sums).
    public static func sumOfSquares(_ x: UnsafePointer<Float>, n: Int) -> Double {
        let w = Vec.scalarCount
        var total: Double = 0
        var i = 0
        while i < n {
            let end = min(n, i &+ 4096)
            var acc = Vec(repeating: 0)
            while i &+ w <= end { let v = vload(x + i); acc = vfma(acc, v, v); i &+= w }
            var s = Double(acc.sum())
            while i < end { s += Double(x[i] * x[i]); i &+= 1 }
            total += s
        }
        return total
    }

    /// One AdamW update of n parameters (decoupled weight decay):
    /// g = grad·gradScale; m = β1 m + (1−β1) g; v = β2 v + (1−β2) g²;
    /// p −= lr (m/bc1 / (√(v/bc2) + ε) + wd·p), with bc1 = 1−β1^t, bc2 = 1−β2^t.
    public static func adamw(
        param: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>,
        m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, n: Int,
        lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float,
        gradScale: Float, bc1: Float, bc2: Float, threads: Int
    ) {
        let w = Vec.scalarCount
        let vb1 = Vec(repeating: beta1), vb2 = Vec(repeating: beta2)
        let va1 = Vec(repeating: 1 - beta1), va2 = Vec(repeating: 1 - beta2)
        let vgs = Vec(repeating: gradScale), vlr = Vec(repeating: lr), vwd = Vec(repeating: weightDecay)
        let vib1 = Vec(repeating: 1 / bc1), vib2 = Vec(repeating: 1 / bc2), veps = Vec(repeating: eps)
        parallelRanges(n / w, threads: threads, minPerChunk: 8192) { lo, hi in
            for j in lo..<hi {
                let o = j &* w
                let g = vload(grad + o) * vgs
                let mm = vfma(vb1 * vload(m + o), va1, g)
                let vv = vfma(vb2 * vload(v + o), va2 * g, g)
                vstore(mm, m + o); vstore(vv, v + o)
                let p = vload(param + o)
                let upd = (mm * vib1) / ((vv * vib2).squareRoot() + veps) + vwd * p
                vstore(p - vlr * upd, param + o)
            }
        }
        for i in (n / w) &* w ..< n {
            let g = grad[i] * gradScale
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            param[i] -= lr * ((m[i] / bc1) / ((v[i] / bc2).squareRoot() + eps) + weightDecay * param[i])
        }
    }
}

/// Σ x[i] over n floats.
@inline(__always)
func vsum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let w = Vec.scalarCount
    var acc = Vec(repeating: 0)
    var i = 0
    while i &+ w <= n { acc += vload(x + i); i &+= w }
    var s = acc.sum()
    while i < n { s += x[i]; i &+= 1 }
    return s
}

extension Ops {
    /// One decoding step of causal self-attention with a KV cache, for `rows` sequences each at
    /// its own position `pos[r]`: stores the new k, v (from qkv [rows, 3C]) into the caches
    /// kCache, vCache [rows, ctx, C] at pos[r], then out[r] = attention of q over 0...pos[r].
    /// `scratch` holds ctx floats.
    public static func attentionDecode(
        out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
        kCache: UnsafeMutablePointer<Float>, vCache: UnsafeMutablePointer<Float>,
        positions: UnsafePointer<Int32>, rows: Int, ctx: Int, c: Int, h: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let hs = c / h
        let scale = 1 / Float(hs).squareRoot()
        for r in 0..<rows {
            let pos = Int(positions[r])
            let q = qkv + r &* 3 &* c
            let kc = kCache + r &* ctx &* c, vc = vCache + r &* ctx &* c
            (kc + pos &* c).update(from: q + c, count: c)
            (vc + pos &* c).update(from: q + 2 &* c, count: c)
            for head in 0..<h {
                let qh = q + head &* hs
                var m = -Float.infinity
                for s in 0...pos {
                    let a = dot(qh, kc + s &* c + head &* hs, hs) * scale
                    scratch[s] = a
                    if a > m { m = a }
                }
                let inv = 1 / expShifted(scratch, scratch, pos &+ 1, m)
                let o = out + r &* c + head &* hs
                for i in 0..<hs { o[i] = 0 }
                for s in 0...pos { axpy(scratch[s] * inv, vc + s &* c + head &* hs, o, hs) }
            }
        }
    }
}
