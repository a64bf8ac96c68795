import Foundation
@testable import TinyLM

/// A deliberately plain Double-precision transformer forward pass, written from the GPT-2
/// equations and independent of the kernels, for checking `Transformer.forward`.
/// Returns log-softmax rows [t][vocab] for the inputs of one sequence.
func referenceLogSoftmax(params p: [Float], config cfg: ModelConfig, inputs: [Int32]) -> [[Double]] {
    let L = ParameterLayout(cfg)
    let c = cfg.dModel, v = cfg.vocabSize, m = cfg.mlpWidth, h = cfg.heads, hs = cfg.headSize
    let t = inputs.count
    func P(_ i: Int) -> Double { Double(p[i]) }
    func layerNorm(_ x: [Double], _ w: Int, _ b: Int) -> [Double] {
        let mean = x.reduce(0, +) / Double(c)
        let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(c)
        let rs = 1 / (variance + 1e-5).squareRoot()
        return (0..<c).map { (x[$0] - mean) * rs * P(w + $0) + P(b + $0) }
    }
    /// y = x · W + b with W stored [in, out].
    func linear(_ x: [Double], _ w: Int, _ b: Int, _ out: Int) -> [Double] {
        (0..<out).map { j in
            var s = P(b + j)
            for i in 0..<x.count { s += x[i] * P(w + i * out + j) }
            return s
        }
    }
    func gelu(_ x: Double) -> Double { 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) }

    var xs: [[Double]] = (0..<t).map { pos in (0..<c).map { P(L.wte + Int(inputs[pos]) * c + $0) + P(L.wpe + pos * c + $0) } }
    for bl in L.blocks {
        let qkv = xs.map { linear(layerNorm($0, bl.ln1w, bl.ln1b), bl.qkvw, bl.qkvb, 3 * c) }
        var att = [[Double]](repeating: [Double](repeating: 0, count: c), count: t)
        for head in 0..<h {
            for i in 0..<t {
                var scores = (0...i).map { j -> Double in
                    var d = 0.0
                    for k in 0..<hs { d += qkv[i][head * hs + k] * qkv[j][c + head * hs + k] }
                    return d / Double(hs).squareRoot()
                }
                let mx = scores.max()!
                scores = scores.map { exp($0 - mx) }
                let z = scores.reduce(0, +)
                for k in 0..<hs {
                    var y = 0.0
                    for j in 0...i { y += scores[j] / z * qkv[j][2 * c + head * hs + k] }
                    att[i][head * hs + k] = y
                }
            }
        }
        for i in 0..<t {
            let proj = linear(att[i], bl.projw, bl.projb, c)
            xs[i] = zip(xs[i], proj).map { $0 + $1 }
            let hidden = linear(layerNorm(xs[i], bl.ln2w, bl.ln2b), bl.fcw, bl.fcb, m).map(gelu)
            let down = linear(hidden, bl.fcprojw, bl.fcprojb, c)
            xs[i] = zip(xs[i], down).map { $0 + $1 }
        }
    }
    return xs.map { x in
        let f = layerNorm(x, L.lnfw, L.lnfb)
        let logits: [Double] = (0..<v).map { j in
            var s = 0.0
            for i in 0..<c {
                s += f[i] * (L.head.map { P($0 + i * v + j) } ?? P(L.wte + j * c + i))
            }
            return s
        }
        let mx = logits.max()!
        let lse = mx + log(logits.map { exp($0 - mx) }.reduce(0, +))
        return logits.map { $0 - lse }
    }
}
