import CPOSupport
import Foundation
import Testing
@testable import CausalPO

/// A toy of the lab's f0 samples: texts are 4 tokens over {0, 1, 2}, drawn token by token. The
/// held-out rows come from the design P^R, the f0 generator is FT (fitted, so not exactly P^R),
/// the policy f is a third distribution, and the true mean outcome g(x) is known, so V(f) is a
/// finite sum. A "prefix" f0 sample keeps the first c ∈ {0, 1, 2} tokens of a source row
/// (uniformly) and draws the rest from FT, as `Experiment.f0Samples` continues a text cut at a
/// random token; a "scratch" sample draws every token from FT.
struct PrefixToy {
    static let length = 4
    static let tokens = 3
    static let cuts = [0, 1, 2]
    let pR: [Double] = [1.0 / 3, 1.0 / 3, 1.0 / 3]
    let pFT: [Double] = [0.45, 0.35, 0.2]
    let pF: [Double] = [0.25, 0.35, 0.4]
    let beta: [Double] = [0, 2, 5]

    /// Every text, its tokens x_t at index Σ_t x_t 3^t.
    static let texts: [[Int]] = (0..<81).map { i in (0..<length).map { (i / powers[$0]) % 3 } }

    func g(_ x: [Int]) -> Double { 50 + x.reduce(0) { $0 + beta[$1] } + (x[0] == x[1] ? 3 : 0) }
    /// A ĝ that is wrong (effects 80% of the truth, no interaction), so both DR terms matter.
    func ghat(_ x: [Int]) -> Double { 50 + 0.8 * x.reduce(0) { $0 + beta[$1] } }
    func logP(_ x: [Int], _ p: [Double]) -> Double { x.reduce(0) { $0 + Foundation.log(p[$1]) } }
    func logP(_ x: ArraySlice<Int>, _ p: [Double]) -> Double { x.reduce(0) { $0 + Foundation.log(p[$1]) } }

    var trueValue: Double { Self.texts.reduce(0) { $0 + Foundation.exp(logP($1, pF)) * g($1) } }

    /// The exact density of a prefix sample whose source rows are drawn from `prefixes` (the
    /// probability of each prefix of c tokens; P^R's for rows drawn from the design):
    /// q(x) = Σ_c π_c P(x_<c) P^FT(x_≥c | x_<c), here with tokens drawn independently.
    func prefixDensity(_ x: [Int], prefixes: ([Int]) -> Double) -> Double {
        Self.cuts.reduce(0) { q, c in
            q + prefixes(Array(x.prefix(c))) * Foundation.exp(logP(x[c...], pFT)) / Double(Self.cuts.count)
        }
    }

    /// A token from p by inversion (faster than `categorical` in a debug build).
    static func token(_ p: [Double], _ r: inout SeededRandom) -> Int {
        let u = r.uniform()
        return u < p[0] ? 0 : (u < p[0] + p[1] ? 1 : 2)
    }

    enum F0Source { case heldOutPrefixes, otherPrefixes, scratch }

    /// Per-text tables, indexed by a text's code Σ_t x_t 3^t: log-probabilities, g and ĝ.
    struct Tables {
        let logF, logR, logFT, g, ghat: [Double]
        init(_ toy: PrefixToy) {
            let texts = PrefixToy.texts
            logF = texts.map { toy.logP($0, toy.pF) }
            logR = texts.map { toy.logP($0, toy.pR) }
            logFT = texts.map { toy.logP($0, toy.pFT) }
            g = texts.map(toy.g)
            ghat = texts.map(toy.ghat)
        }
    }

    static let powers = [1, 3, 9, 27, 81]

    /// A text's code with its first `keep` tokens from `code` and the rest drawn from p.
    static func draw(_ p: [Double], keeping keep: Int = 0, of code: Int = 0, _ r: inout SeededRandom) -> Int {
        var x = code % powers[keep]
        for t in keep..<length { x += token(p, &r) * powers[t] }
        return x
    }

    /// One evaluation's V_DR: n held-out rows from P^R with noisy outcomes, m f0 samples, the
    /// ratio of each sample computed with P^FT(x) (what `Sample.sequenceLogProb` gives).
    func vDR(n: Int, m: Int, f0: F0Source, tables t: Tables, _ r: inout SeededRandom) -> Estimate {
        let rows = (0..<n).map { _ in Self.draw(pR, &r) }
        let y = rows.map { t.g[$0] + 8 * r.gaussian() }
        func prefixSample(_ source: [Int]) -> Int {
            let row = source[r.int(below: source.count)]
            return Self.draw(pFT, keeping: Self.cuts[r.int(below: Self.cuts.count)], of: row, &r)
        }
        let samples: [Int]
        switch f0 {
        case .heldOutPrefixes: samples = (0..<m).map { _ in prefixSample(rows) }
        case .otherPrefixes:
            let other = (0..<n).map { _ in Self.draw(pR, &r) }
            samples = (0..<m).map { _ in prefixSample(other) }
        case .scratch: samples = (0..<m).map { _ in Self.draw(pFT, &r) }
        }
        return Estimators.dr(logP: rows.map { t.logF[$0] }, logPR: rows.map { t.logR[$0] }, outcomes: y, ghat: rows.map { t.ghat[$0] },
                             sampleLogP: samples.map { t.logF[$0] }, sampleLogP0: samples.map { t.logFT[$0] },
                             sampleGhat: samples.map { t.ghat[$0] })
    }
}

@Suite("f0 samples: which density makes the DR terms exact")
struct F0ProposalTests {
    let toy = PrefixToy()

    /// Closed form over all 81 texts. The self-normalized f0 term converges to
    /// E_q[w ĝ]/E_q[w]. With the ratio P^f/P^FT it is exact for samples from FT (scratch) but
    /// not for prefix continuations, whose density is the mixture q; with q itself it is exact
    /// again, but its weights are less even than scratch's at f = FT.
    @Test func onlyTheSamplingDensityMakesTheOutcomeTermExact() {
        let texts = PrefixToy.texts
        let f = texts.map { Foundation.exp(toy.logP($0, toy.pF)) }
        let ft = texts.map { Foundation.exp(toy.logP($0, toy.pFT)) }
        let q = texts.map { toy.prefixDensity($0) { Foundation.exp(toy.logP($0, toy.pR)) } }
        #expect(abs(q.reduce(0, +) - 1) < 1e-12 && abs(ft.reduce(0, +) - 1) < 1e-12)
        let target = zip(f, texts).reduce(0) { $0 + $1.0 * toy.ghat($1.1) }
        /// lim V_OUT = Σ_x s(x) w(x) ĝ(x) / Σ_x s(x) w(x) for samples from s and weights w.
        func limit(_ sampling: [Double], _ density: [Double]) -> Double {
            var num = 0.0, den = 0.0
            for i in texts.indices {
                num += sampling[i] * f[i] / density[i] * toy.ghat(texts[i])
                den += sampling[i] * f[i] / density[i]
            }
            return num / den
        }
        let scratch = limit(ft, ft), mixture = limit(q, q), wholeText = limit(q, ft)
        print(String(format: "E_f[ĝ] %.4f: scratch %.4f, prefixes with their mixture density %.4f, prefixes with P^FT(x) %.4f",
                     target, scratch, mixture, wholeText))
        #expect(abs(scratch - target) < 1e-10)
        #expect(abs(mixture - target) < 1e-10)
        #expect(abs(wholeText - target) > 0.3, "the whole-text ratio is biased for prefix continuations")
        // Population ESS fraction 1/E_s[w²] (weights normalized to mean 1) at f = FT.
        let essMixture = 1 / zip(q, ft).reduce(0) { $0 + $1.1 * $1.1 / $1.0 }
        #expect(essMixture < 0.97, "the exact mixture weights are uneven even at f = FT: \(essMixture)")
    }

    /// The density of a prefix sample depends on the rows its prompts were cut from: with the
    /// rows of one evaluation it is their empirical prefix mixture, which P^FT(x) ignores.
    @Test func thePrefixDensityIsTheRowsMixture() {
        // Two source rows; every text's exact density by enumeration of (row, cut, continuation).
        let rows = [[0, 1, 2, 0], [2, 2, 1, 0]]
        var exact = [Double](repeating: 0, count: PrefixToy.texts.count)
        for row in rows {
            for c in PrefixToy.cuts {
                for (i, x) in PrefixToy.texts.enumerated() where Array(x.prefix(c)) == Array(row.prefix(c)) {
                    exact[i] += Foundation.exp(toy.logP(x[c...], toy.pFT)) / Double(rows.count * PrefixToy.cuts.count)
                }
            }
        }
        for (i, x) in PrefixToy.texts.enumerated() {
            let q = toy.prefixDensity(x) { prefix in Double(rows.filter { Array($0.prefix(prefix.count)) == prefix }.count) / Double(rows.count) }
            #expect(abs(q - exact[i]) < 1e-15)
        }
        #expect(abs(exact.reduce(0, +) - 1) < 1e-12)
    }

    /// Coverage of V_DR's 95% interval: 2,000 replications from scratch (Monte-Carlo SE 0.005),
    /// 500 of each other kind. With the f0 prompts cut from the held-out rows and the ratio
    /// P^f/P^FT (the lab before), the f0 term is biased and tied to the rows, and the interval
    /// misses; with prompts cut from other rows the terms are independent but the ratio is still
    /// wrong; drawn from scratch (the lab now) the interval holds its level.
    @Test func theDoublyRobustIntervalCoversWithScratchSamples() {
        let n = 300, m = 1200
        let truth = toy.trueValue, tables = PrefixToy.Tables(toy)
        var coverage: [PrefixToy.F0Source: Double] = [:]
        let sources: [(PrefixToy.F0Source, Int)] = [(.heldOutPrefixes, 500), (.otherPrefixes, 500), (.scratch, 2000)]
        for (source, reps) in sources {
            var r = SeededRandom(seed: SeededRandom.derivedSeed(11, "\(source)"))
            var covered = 0
            for _ in 0..<reps where toy.vDR(n: n, m: m, f0: source, tables: tables, &r).covers(truth) { covered += 1 }
            coverage[source] = Double(covered) / Double(reps)
        }
        print("V_DR coverage (nominal 0.95): " + sources.map { "\($0.0) \(coverage[$0.0] ?? 0)" }.joined(separator: ", "))
        #expect((coverage[.scratch] ?? 0) >= 0.93)
        #expect((coverage[.heldOutPrefixes] ?? 1) < 0.88)
        #expect((coverage[.otherPrefixes] ?? 1) < 0.88)
    }
}
