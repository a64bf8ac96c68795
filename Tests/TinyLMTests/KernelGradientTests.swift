import Foundation
import Testing
@testable import TinyLM

/// Finite-difference checks of every layer kernel's backward, on every kernel path.
/// The loss is L = Σ out ⊙ R for a fixed random R, so dL/dout = R.
@Suite("layer kernels: backward matches finite differences")
struct KernelGradientTests {
    /// Central difference of `f` with respect to x[i], in Double.
    func fd(_ x: inout [Float], _ i: Int, eps: Float, _ f: ([Float]) -> Double) -> Double {
        let old = x[i]
        x[i] = old + eps
        let fp = f(x)
        x[i] = old - eps
        let fm = f(x)
        x[i] = old
        return (fp - fm) / Double(2 * eps)
    }

    func weighted(_ out: [Float], _ r: [Float]) -> Double {
        zip(out, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    @Test(arguments: allComputes)
    func layerNorm(_ compute: Compute) {
        let rows = 5, c = 19
        var x = randomFloats(rows * c, seed: 1, scale: 2)
        var w = randomFloats(c, seed: 2)
        var b = randomFloats(c, seed: 3)
        let r = randomFloats(rows * c, seed: 4)
        func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
            var out = [Float](repeating: 0, count: rows * c)
            var mean = [Float](repeating: 0, count: rows), rstd = mean
            compute.ops.layerNormForward(out: &out, mean: &mean, rstd: &rstd, inp: x, weight: w, bias: b,
                                         rows: rows, c: c, threads: compute.threads)
            return weighted(out, r)
        }
        var out = [Float](repeating: 0, count: rows * c)
        var mean = [Float](repeating: 0, count: rows), rstd = mean
        compute.ops.layerNormForward(out: &out, mean: &mean, rstd: &rstd, inp: x, weight: w, bias: b,
                                     rows: rows, c: c, threads: compute.threads)
        var dx = [Float](repeating: 0.5, count: rows * c)   // accumulates onto 0.5
        var dw = [Float](repeating: 0, count: c), db = dw
        compute.ops.layerNormBackward(dinp: &dx, dweight: &dw, dbias: &db, dout: r, inp: x, weight: w,
                                      mean: mean, rstd: rstd, rows: rows, c: c, threads: compute.threads)
        let xs = x, ws = w, bs = b
        let fx = (0..<x.count).map { fd(&x, $0, eps: 1e-2) { loss($0, ws, bs) } }
        let fw = (0..<c).map { fd(&w, $0, eps: 1e-2) { loss(xs, $0, bs) } }
        let fb = (0..<c).map { fd(&b, $0, eps: 1e-2) { loss(xs, ws, $0) } }
        #expect(relativeError(dx.map { Double($0) - 0.5 }, fx) < 1e-3)
        #expect(relativeError(dw.map(Double.init), fw) < 1e-3)
        #expect(relativeError(db.map(Double.init), fb) < 1e-3)
    }

    @Test(arguments: allComputes)
    func gelu(_ compute: Compute) {
        let n = 37   // not a multiple of any vector width: exercises the scalar tail too
        var x = randomFloats(n, seed: 5, scale: 2)
        let r = randomFloats(n, seed: 6)
        func loss(_ x: [Float]) -> Double {
            var out = [Float](repeating: 0, count: n)
            compute.ops.geluForward(out: &out, inp: x, n: n, threads: compute.threads)
            return weighted(out, r)
        }
        var dx = [Float](repeating: 0, count: n)
        compute.ops.geluBackward(dinp: &dx, inp: x, dout: r, n: n, threads: compute.threads)
        let f = (0..<n).map { fd(&x, $0, eps: 1e-2) { loss($0) } }
        #expect(relativeError(dx.map(Double.init), f) < 1e-3)
        // And the forward against the formula in Double.
        var out = [Float](repeating: 0, count: n)
        compute.ops.geluForward(out: &out, inp: x, n: n, threads: compute.threads)
        for i in 0..<n {
            let v = Double(x[i])
            let u: Double = 0.7978845608028654 * (v + 0.044715 * v * v * v)
            let ref: Double = 0.5 * v * (1 + tanh(u))
            #expect(abs(Double(out[i]) - ref) < 1e-5 * max(1, abs(ref)))
        }
    }

    /// t = 5 fits in one vector; t = 19 spans vectors and exercises the zero padding.
    @Test(arguments: allComputes, [5, 19])
    func attention(_ compute: Compute, _ t: Int) {
        let b = 2, h = 2, hs = 3, c = h * hs
        var qkv = randomFloats(b * t * 3 * c, seed: 7)
        var scratch = [Float](repeating: .nan, count: compute.ops.attentionScratchSize(t: t, headSize: hs, threads: compute.threads))
        let r = randomFloats(b * t * c, seed: 8)
        func run(_ qkv: [Float]) -> ([Float], [Float]) {
            var out = [Float](repeating: .nan, count: b * t * c)
            var probs = [Float](repeating: .nan, count: b * h * t * t)
            compute.ops.attentionForward(out: &out, probs: &probs, qkv: qkv, scratch: &scratch, b: b, t: t, c: c, h: h,
                                         threads: compute.threads)
            return (out, probs)
        }
        let (out, probs) = run(qkv)
        // Forward against a direct Double computation.
        for bi in 0..<b {
            for hi in 0..<h {
                for ti in 0..<t {
                    var scores: [Double] = []
                    for s in 0...ti {
                        var d = 0.0
                        for i in 0..<hs {
                            d += Double(qkv[(bi * t + ti) * 3 * c + hi * hs + i]) * Double(qkv[(bi * t + s) * 3 * c + c + hi * hs + i])
                        }
                        scores.append(d / Double(hs).squareRoot())
                    }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let z = e.reduce(0, +)
                    for i in 0..<hs {
                        var y = 0.0
                        for s in 0...ti { y += e[s] / z * Double(qkv[(bi * t + s) * 3 * c + 2 * c + hi * hs + i]) }
                        #expect(abs(Double(out[(bi * t + ti) * c + hi * hs + i]) - y) < 1e-5)
                    }
                    for s in (ti + 1)..<t { #expect(probs[((bi * h + hi) * t + ti) * t + s] == 0) }
                }
            }
        }
        var dqkv = [Float](repeating: .nan, count: qkv.count)   // overwritten
        compute.ops.attentionBackward(dqkv: &dqkv, scratch: &scratch, dout: r, qkv: qkv, probs: probs,
                                      b: b, t: t, c: c, h: h, threads: compute.threads)
        let f = (0..<qkv.count).map { fd(&qkv, $0, eps: 1e-2) { weighted(run($0).0, r) } }
        #expect(relativeError(dqkv.map(Double.init), f) < 2e-3)
    }

    /// softmaxStats against Double, and softmaxBackward against finite differences of
    /// L = Σ_r a_r logp_r + k_r KL_r + e_r H_r, including a padded row (target −1).
    @Test(arguments: allComputes)
    func softmaxHead(_ compute: Compute) {
        let rows = 4, v = 21
        var logits = randomFloats(rows * v, seed: 9, scale: 2)
        let refRaw = randomFloats(rows * v, seed: 10, scale: 2)
        var ref = refRaw
        var scratch = [Float](repeating: 0, count: compute.threads * v)
        compute.ops.logSoftmaxRows(logits: &ref, rows: rows, v: v, scratch: &scratch, threads: compute.threads)
        let targets: [Int32] = [3, -1, 0, 20]
        let a: [Float] = [0.7, 0.3, -1.1, 0.4], k: [Float] = [0.5, 0.2, -0.3, 1.2], e: [Float] = [-0.4, 0.9, 0.6, 0.25]
        func stats(_ z: [Float]) -> (lse: [Float], lp: [Float], kl: [Float], h: [Float]) {
            var lse = [Float](repeating: 0, count: rows), lp = lse, kl = lse, h = lse
            var scratch = [Float](repeating: 0, count: compute.threads * v)
            compute.ops.softmaxStats(logits: z, targets: targets, rows: rows, v: v, lse: &lse, targetLogp: &lp,
                                     refLogp: ref, kl: &kl, entropy: &h, scratch: &scratch, threads: compute.threads)
            return (lse, lp, kl, h)
        }
        func loss(_ z: [Float]) -> Double {
            let s = stats(z)
            var L = 0.0
            for r in 0..<rows { L += Double(a[r] * s.lp[r] + k[r] * s.kl[r] + e[r] * s.h[r]) }
            return L
        }
        let s = stats(logits)
        for r in 0..<rows where targets[r] >= 0 {
            let z = (0..<v).map { Double(logits[r * v + $0]) }
            let m = z.max()!
            let lse = m + log(z.map { exp($0 - m) }.reduce(0, +))
            let lp = z.map { $0 - lse }
            let refRow = (0..<v).map { Double(ref[r * v + $0]) }
            let klRef = (0..<v).reduce(0.0) { $0 + exp(lp[$1]) * (lp[$1] - refRow[$1]) }
            let hRef = -(0..<v).reduce(0.0) { $0 + exp(lp[$1]) * lp[$1] }
            #expect(abs(Double(s.lp[r]) - lp[Int(targets[r])]) < 1e-5)
            #expect(abs(Double(s.kl[r]) - klRef) < 1e-5)
            #expect(abs(Double(s.h[r]) - hRef) < 1e-5)
            // The reference rows are proper log-softmaxes.
            #expect(abs(refRow.map { exp($0) }.reduce(0, +) - 1) < 1e-5)
        }
        var g = logits
        compute.ops.softmaxBackward(logits: &g, targets: targets, rows: rows, v: v, lse: s.lse, targetCoef: a,
                                    refLogp: ref, kl: s.kl, klCoef: k, entropy: s.h, entropyCoef: e,
                                    threads: compute.threads)
        let f = (0..<logits.count).map { fd(&logits, $0, eps: 1e-2) { loss($0) } }
        #expect(relativeError(g.map(Double.init), f) < 2e-3)
        for j in 0..<v { #expect(g[v + j] == 0) }   // padded row
        // Without KL and entropy terms (the fast vector path).
        var g2 = logits
        let zeros = [Float](repeating: 0, count: rows)
        compute.ops.softmaxBackward(logits: &g2, targets: targets, rows: rows, v: v, lse: s.lse, targetCoef: a,
                                    refLogp: nil, kl: nil, klCoef: nil, entropy: nil, entropyCoef: zeros,
                                    threads: compute.threads)
        for r in 0..<rows where targets[r] >= 0 {
            for j in 0..<v {
                let p = exp(Double(logits[r * v + j]) - Double(s.lse[r]))
                let want = Double(a[r]) * ((j == Int(targets[r]) ? 1 : 0) - p)
                #expect(abs(Double(g2[r * v + j]) - want) < 1e-5)
            }
        }
    }

    @Test(arguments: allComputes)
    func adamwMatchesScalarFormula(_ compute: Compute) {
        let n = 53
        var p = randomFloats(n, seed: 11), m = randomFloats(n, seed: 12, scale: 0.1)
        var v = randomFloats(n, seed: 13, scale: 0.1).map { $0 * $0 }
        let g = randomFloats(n, seed: 14)
        let (p0, m0, v0) = (p, m, v)
        let lr: Float = 0.01, b1: Float = 0.9, b2: Float = 0.95, eps: Float = 1e-8, wd: Float = 0.1, gs: Float = 0.5
        let bc1 = 1 - pow(b1, 3), bc2 = 1 - pow(b2, 3)
        compute.ops.adamw(param: &p, grad: g, m: &m, v: &v, n: n, lr: lr, beta1: b1, beta2: b2, eps: eps,
                          weightDecay: wd, gradScale: gs, bc1: bc1, bc2: bc2, threads: compute.threads)
        for i in 0..<n {
            let gi = Double(g[i] * gs)
            let mi = 0.9 * Double(m0[i]) + 0.1 * gi
            let vi = 0.95 * Double(v0[i]) + 0.05 * gi * gi
            let pi = Double(p0[i]) - 0.01 * ((mi / Double(bc1)) / ((vi / Double(bc2)).squareRoot() + 1e-8) + 0.1 * Double(p0[i]))
            #expect(abs(Double(m[i]) - mi) < 1e-6)
            #expect(abs(Double(v[i]) - vi) < 1e-6)
            #expect(abs(Double(p[i]) - pi) < 1e-5)
        }
    }

    @Test(arguments: allComputes)
    func vectorExpIsAccurate(_ compute: Compute) {
        // Through logSoftmaxRows on a row [x, 0]: log(e^x/(e^x+1)) checks exp over a wide range.
        for x: Float in [-80, -20, -3.3, -0.5, 0, 0.25, 1, 7.5, 30, 80] {
            var row: [Float] = [x, 0] + [Float](repeating: -200, count: 17)
            var scratch = [Float](repeating: 0, count: compute.threads * row.count)
            compute.ops.logSoftmaxRows(logits: &row, rows: 1, v: row.count, scratch: &scratch, threads: 1)
            let want = Double(x) - log(exp(Double(x)) + 1 + 17 * exp(-87.0))
            #expect(abs(Double(row[0]) - want) < 2e-6 * max(1, abs(want)), "x = \(x)")
        }
    }
}
