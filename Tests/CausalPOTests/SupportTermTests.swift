import CPOSupport
import Foundation
import Testing
@testable import CausalPO

/// The terms that keep the policy-gradient methods on the support of the data: the absolute
/// ratio clip, the anchor likelihood, the KL to FT on the policy's own samples and its adaptive
/// coefficient. Each is checked against a closed form or finite differences.
@Suite("support terms")
struct SupportTermTests {
    // MARK: Horvitz-Thompson with an absolute ratio clip

    /// Four rows, ratios 4, 1, 1/4, 4 against the bound M = 2, by hand:
    ///   row 0 (r = 10, ρ = 4 > M): min(40, 20) = 20, clipped, no gradient;
    ///   row 1 (r = 10, ρ = 1): 10, gradient 10/4;
    ///   row 2 (r = −10, ρ = 1/4 < 1/M): min(−2.5, −5) = −5, clipped (it stops being pushed down);
    ///   row 3 (r = −10, ρ = 4 > M): min(−40, −20) = −40, still pushed down, gradient −40/4.
    @Test func clippedHorvitzThompsonByHand() {
        let lr = [log(4.0), 0, log(0.25), log(4.0)]
        let v = Objectives.clippedHorvitzThompson(logRatios: lr, values: [10, 10, -10, -10], bound: 2)
        #expect(abs(v.value - (20 + 10 - 5 - 40) / 4) < 1e-12)
        let expected = [0, 10.0 / 4, 0, -40.0 / 4]
        for (g, e) in zip(v.grad, expected) { #expect(abs(g - e) < 1e-12) }
        #expect(v.clipped == 0.5)
        for (w, l) in zip(v.weights, lr) { #expect(abs(w - exp(l) / 4) < 1e-12) }
    }

    /// The ratio is absolute: unlike Hajek weights (and the batch-relative clip on B·w), the
    /// clipped value falls when every row's log-probability falls by the same amount (mass
    /// leaving the rows), and a row pushed past M stops getting gradient however the others move.
    @Test func theClippedValueSeesMassLeavingTheRows() {
        var b = randomBatch(seed: 21)
        b.logP = b.logPR
        let opts = ObjectiveOptions(htClip: 3)
        let atStart = Objectives.cpo(b, options: opts)
        var leaked = b
        leaked.logP = b.logP.map { $0 - 0.5 }
        #expect(Objectives.cpo(leaked, options: opts).value < atStart.value - 1)
        // Hajek does not notice.
        #expect(abs(Objectives.cpo(leaked, options: .paper).value - Objectives.cpo(b, options: .paper).value) < 1e-9)
        // With positive outcomes every row is pushed up, until its own ratio reaches M.
        #expect(atStart.gradLogP.allSatisfy { $0 < 0 })
        var far = b
        far.logP[0] += log(3.5)
        far.logP[1...].indices.forEach { far.logP[$0] -= 5 }
        let out = Objectives.cpo(far, options: opts)
        #expect(out.gradLogP[0] == 0 && out.gradLogP[1...].allSatisfy { $0 < 0 })
    }

    /// Negative outcomes (say, lower-is-better oriented as −Y) are measured from the lowest
    /// training outcome, so every row is still pushed up and mass leaving the rows still costs;
    /// the gradient is then the one of the outcomes shifted to start at 0. Non-negative outcomes
    /// are used as they are.
    @Test func negativeOutcomesStillKeepMassOnTheRows() {
        var b = randomBatch(seed: 25)
        b.logP = b.logPR
        b.outcomes = b.outcomes.map { -$0 }                 // all negative
        b.outcomeMinimum = b.outcomes.min()! - 3            // the training set's lowest
        let opts = ObjectiveOptions(htClip: 3)
        let out = Objectives.cpo(b, options: opts)
        #expect(out.gradLogP.allSatisfy { $0 < 0 }, "every row pushed up")
        var shifted = b
        shifted.outcomes = b.outcomes.map { $0 - b.outcomeMinimum }
        shifted.outcomeMinimum = 0
        #expect(Objectives.cpo(shifted, options: opts).gradLogP == out.gradLogP)
        var leaked = b
        leaked.logP = b.logP.map { $0 - 0.5 }
        #expect(Objectives.cpo(leaked, options: opts).value < out.value)
        // The f0 samples' ĝ too.
        b.sampleGhat = b.sampleGhat.map { -$0 }
        b.outcomeMinimum = b.sampleGhat.min()!
        #expect(Objectives.ooRLHF(b, options: opts).gradSampleLogP.allSatisfy { $0 <= 0 })
        // Non-negative outcomes: nothing is shifted.
        var positive = randomBatch(seed: 25)
        positive.outcomeMinimum = 2
        var atZero = positive
        atZero.outcomeMinimum = 0
        #expect(Objectives.cpo(positive, options: opts).gradLogP == Objectives.cpo(atZero, options: opts).gradLogP)
    }

    /// OO-RLHF's and DR-CPO's outcome terms on the f0 samples use the same clipped weights,
    /// so all three policy-gradient methods are treated alike.
    @Test func theOutcomeTermUsesTheSameClippedWeights() {
        let b = randomBatch(seed: 22)
        let opts = ObjectiveOptions(htClip: 1.5)
        let o = Objectives.ooRLHF(b, options: opts)
        let direct = Objectives.clippedHorvitzThompson(
            logRatios: zip(b.sampleLogP, b.sampleLogP0).map { $0 - $1 }, values: b.sampleGhat, bound: 1.5)
        #expect(abs(o.value - direct.value) < 1e-12 && o.gradSampleLogP == direct.grad.map { -$0 })
        #expect(o.clippedShare == direct.clipped && direct.clipped > 0)
        let dr = Objectives.drCPO(b, options: opts)
        #expect(dr.gradSampleLogP == o.gradSampleLogP)
    }

    /// The three policy-gradient objectives with `htClip` M = 2 on three rows and three f0 samples,
    /// by hand. The lowest training outcome is −4, so the origin is −4.
    ///   rows:    ρ = (3, 1, 1/4), Y = (5, 2, 1), ĝ = (3, 4, 2)
    ///     CPO, values Y + 4 = (9, 6, 5): min(27, 18) = 18 clipped; 6 free (gradient 6/3);
    ///       min(1.25, 2.5) = 1.25 free (a row below 1/M still pushed up; gradient 1.25/3).
    ///     DR-CPO, residuals Y − ĝ = (2, −2, −1), not shifted (they are centred already):
    ///       min(6, 4) = 4 clipped; −2 free (gradient −2/3); min(−0.25, −0.5) = −0.5 clipped.
    ///   samples: ρ̃ = (1/4, 3, 1), ĝ̃ = (1, 0, −3), values ĝ̃ + 4 = (5, 4, 1):
    ///       min(1.25, 2.5) = 1.25 free (gradient 1.25/3); min(12, 8) = 8 clipped; 1 free (1/3).
    /// The normalization option is not read (`htClip` is Horvitz-Thompson by definition).
    @Test(arguments: [WeightNormalization.hajek, .horvitzThompson])
    func clippedHorvitzThompsonInEachObjectiveByHand(_ normalization: WeightNormalization) {
        let b = ObjectiveBatch(
            logP: [-2 + log(3.0), -2, -2 + log(0.25)], logPR: [-2, -2, -2], outcomes: [5, 2, 1], ghat: [3, 4, 2],
            sampleLogP: [-3 + log(0.25), -3 + log(3.0), -3], sampleLogP0: [-3, -3, -3], sampleGhat: [1, 0, -3], outcomeMinimum: -4)
        let opts = ObjectiveOptions(normalization: normalization, htClip: 2)
        func close(_ a: [Double], _ e: [Double]) -> Bool { a.count == e.count && zip(a, e).allSatisfy { abs($0 - $1) < 1e-12 } }

        let cpo = Objectives.cpo(b, options: opts)
        #expect(abs(cpo.loss + (18 + 6 + 1.25) / 3) < 1e-12, "CPO loss \(cpo.loss)")
        #expect(close(cpo.gradLogP, [0, -6.0 / 3, -1.25 / 3]), "CPO \(cpo.gradLogP)")
        #expect(close(cpo.gradSampleLogP, [0, 0, 0]) && abs(cpo.clippedShare - 1.0 / 3) < 1e-15)
        #expect(close(cpo.weights, [3.0 / 3, 1.0 / 3, 0.25 / 3]))

        let oo = Objectives.ooRLHF(b, options: opts)
        #expect(abs(oo.loss + (1.25 + 8 + 1) / 3) < 1e-12, "OO-RLHF loss \(oo.loss)")
        #expect(close(oo.gradSampleLogP, [-1.25 / 3, 0, -1.0 / 3]) && close(oo.gradLogP, [0, 0, 0]))
        #expect(abs(oo.clippedShare - 1.0 / 3) < 1e-15 && close(oo.sampleWeights, [0.25 / 3, 3.0 / 3, 1.0 / 3]))

        let dr = Objectives.drCPO(b, options: opts)
        #expect(abs(dr.loss + ((4 - 2 - 0.5) / 3 + (1.25 + 8 + 1) / 3)) < 1e-12, "DR-CPO loss \(dr.loss)")
        #expect(close(dr.gradLogP, [0, 2.0 / 3, 0]), "DR-CPO rows \(dr.gradLogP)")
        #expect(close(dr.gradSampleLogP, [-1.25 / 3, 0, -1.0 / 3]))
        // Two of three rows and one of three samples clipped: 3 of the 6 terms.
        #expect(abs(dr.clippedShare - 0.5) < 1e-15)
    }

    // MARK: The anchor

    @Test func anchorGradientMatchesFiniteDifferences() {
        var rng = SeededRandom(seed: 23)
        let logP = (0..<6).map { _ in -20 + 5 * rng.gaussian() }
        let counts = [12, 30, 7, 19, 25, 1]
        let a = Objectives.anchor(logP: logP, tokenCounts: counts, weight: 2.5)
        let expectedLoss = 2.5 * zip(logP, counts).map { -$0 / Double($1) }.reduce(0, +) / 6
        #expect(abs(a.loss - expectedLoss) < 1e-12)
        let eps = 1e-5
        for i in logP.indices {
            var p = logP, m = logP
            p[i] += eps
            m[i] -= eps
            let fd = (Objectives.anchor(logP: p, tokenCounts: counts, weight: 2.5).loss
                - Objectives.anchor(logP: m, tokenCounts: counts, weight: 2.5).loss) / (2 * eps)
            #expect(abs(fd - a.grad[i]) < 1e-8, "row \(i): fd \(fd) vs \(a.grad[i])")
        }
        #expect(Objectives.anchor(logP: logP, tokenCounts: counts, weight: 0).grad.allSatisfy { $0 == 0 })
    }

    // MARK: KL to FT on the policy's own samples

    @Test func sampledKLLossAndPathwiseGradient() {
        let kl = [0.3, 1.7, 0.0, 2.2]
        let t = Objectives.sampledKL(klSums: kl, coefficient: 0.8)
        #expect(abs(t.loss - 0.8 * 4.2 / 4) < 1e-12)
        let eps = 1e-6
        for i in kl.indices {
            var p = kl, m = kl
            p[i] += eps
            m[i] -= eps
            let fd = (Objectives.sampledKL(klSums: p, coefficient: 0.8).loss - Objectives.sampledKL(klSums: m, coefficient: 0.8).loss) / (2 * eps)
            #expect(abs(fd - t.gradKL[i]) < 1e-9)
        }
        // The score-function coefficients use a leave-one-out baseline: they sum to zero when all
        // samples agree, and sample 1's is 0.8·(1.7 − mean of the others)/4.
        #expect(abs(t.gradLogP[1] - 0.8 * (1.7 - 2.5 / 3) / 4) < 1e-12)
        #expect(Objectives.sampledKL(klSums: [1, 1, 1], coefficient: 2).gradLogP.allSatisfy { $0 == 0 })
    }

    /// The gradient the KL term hands TinyLM is an unbiased estimate of ∇ KL(f ‖ FT) over whole
    /// sequences. A tabular policy over two-token texts (x1, then x2 given x1, vocabulary 3)
    /// against a fixed reference: the exact sequence KL and its gradient by finite differences,
    /// against the average over many batches of the estimate built from `sampledKL`'s
    /// coefficients (pathwise through each position's KL, score function through log f(x)).
    /// Without the score-function part the estimate is biased: x1 changes the KL at position 2.
    @Test func sampledKLGradientIsUnbiasedForTheSequenceKL() {
        let v = 3
        var rng = SeededRandom(seed: 24)
        let theta = (0..<(v + v * v)).map { _ in rng.gaussian() }          // a (v), then b[x1] (v each)
        let ref = (0..<(v + v * v)).map { _ in 1.5 * rng.gaussian() }
        func softmaxRow(_ x: [Double], _ r: Range<Int>) -> [Double] { softmax(Array(x[r])) }
        func kl(_ p: [Double], _ q: [Double]) -> Double { zip(p, q).reduce(0) { $0 + $1.0 * log($1.0 / $1.1) } }
        func rowRange(_ x1: Int) -> Range<Int> { (v + x1 * v)..<(v + x1 * v + v) }
        func sequenceKL(_ t: [Double]) -> Double {
            let p1 = softmaxRow(t, 0..<v), q1 = softmaxRow(ref, 0..<v)
            return kl(p1, q1) + (0..<v).reduce(0) { $0 + p1[$1] * kl(softmaxRow(t, rowRange($1)), softmaxRow(ref, rowRange($1))) }
        }
        let eps = 1e-6
        let exact = theta.indices.map { i -> Double in
            var p = theta, m = theta
            p[i] += eps
            m[i] -= eps
            return (sequenceKL(p) - sequenceKL(m)) / (2 * eps)
        }

        // d KL(p ‖ q) / d logits = p ⊙ (log p/q − KL); d log p(x) / d logits = e_x − p.
        func klGrad(_ p: [Double], _ q: [Double]) -> [Double] {
            let d = kl(p, q)
            return p.indices.map { p[$0] * (log(p[$0] / q[$0]) - d) }
        }
        let p1 = softmaxRow(theta, 0..<v), q1 = softmaxRow(ref, 0..<v)
        let p2 = (0..<v).map { softmaxRow(theta, rowRange($0)) }, q2 = (0..<v).map { softmaxRow(ref, rowRange($0)) }
        let batches = 20000, k = 4
        var sum = [Double](repeating: 0, count: theta.count), sumSq = sum, pathwiseOnly = sum
        for _ in 0..<batches {
            let xs = (0..<k).map { _ -> (Int, Int) in let x1 = rng.categorical(p1); return (x1, rng.categorical(p2[x1])) }
            let kls = xs.map { kl(p1, q1) + kl(p2[$0.0], q2[$0.0]) }
            let term = Objectives.sampledKL(klSums: kls, coefficient: 1)
            var g = [Double](repeating: 0, count: theta.count), path = g
            for (i, (x1, x2)) in xs.enumerated() {
                let g1 = klGrad(p1, q1), g2 = klGrad(p2[x1], q2[x1])
                for j in 0..<v {
                    path[j] += term.gradKL[i] * g1[j]
                    path[rowRange(x1).lowerBound + j] += term.gradKL[i] * g2[j]
                    g[j] += term.gradLogP[i] * ((j == x1 ? 1 : 0) - p1[j])
                    g[rowRange(x1).lowerBound + j] += term.gradLogP[i] * ((j == x2 ? 1 : 0) - p2[x1][j])
                }
            }
            for j in theta.indices {
                let total = g[j] + path[j]
                sum[j] += total
                sumSq[j] += total * total
                pathwiseOnly[j] += path[j]
            }
        }
        let n = Double(batches)
        var biasedSomewhere = false
        for j in theta.indices {
            let mean = sum[j] / n
            let se = ((sumSq[j] / n - mean * mean) / n).squareRoot()
            #expect(abs(mean - exact[j]) < 4 * se + 1e-4, "parameter \(j): estimate \(mean) ± \(se) vs exact \(exact[j])")
            if abs(pathwiseOnly[j] / n - exact[j]) > 10 * se + 1e-3 { biasedSomewhere = true }
        }
        #expect(biasedSomewhere, "the pathwise part alone should miss the KL that x1 causes at position 2")
    }

    // MARK: The adaptive coefficient

    /// β ← β·(1 + clamp(KL/target − 1, ±0.2)/horizon): up above the target, down below it, by at
    /// most 0.2/horizon per step, unchanged at the target or on a non-finite measurement.
    @Test func adaptiveControllerClosedForm() {
        func after(_ kl: Double, from beta: Double = 0.5) -> Double {
            var c = AdaptiveKLController(target: 2, horizon: 10, coefficient: beta)
            c.update(measuredKL: kl)
            return c.coefficient
        }
        #expect(abs(after(2.2) - 0.5 * 1.01) < 1e-15)          // e = +0.1
        #expect(abs(after(1.9) - 0.5 * 0.995) < 1e-15)         // e = −0.05
        #expect(abs(after(9) - 0.5 * 1.02) < 1e-15)            // e clipped to +0.2
        #expect(abs(after(0) - 0.5 * 0.98) < 1e-15)            // e clipped to −0.2
        #expect(after(2) == 0.5 && after(.nan) == 0.5 && after(.infinity) == 0.5)
        // Held above the target, β rises every step and never faster than 1.02 per step.
        var c = AdaptiveKLController(target: 1, horizon: 10, coefficient: 1)
        var last = c.coefficient
        for kl in [1.5, 3, 100, 1.01, 7] {
            c.update(measuredKL: kl)
            #expect(c.coefficient > last && c.coefficient <= last * 1.02 + 1e-15)
            last = c.coefficient
        }
        // Below it, β falls, never faster than 0.98 per step.
        for kl in [0.5, 0, 0.99, 0.2] {
            c.update(measuredKL: kl)
            #expect(c.coefficient < last && c.coefficient >= last * 0.98 - 1e-15)
            last = c.coefficient
        }
        // Within its bounds: no wind-up while the KL stays under the budget, and no run-away above it.
        var bounded = AdaptiveKLController(target: 1, horizon: 10, coefficient: 0.1, bounds: AdaptiveKLController.bounds(around: 0.1))
        #expect(bounded.bounds == 0.01...1.0)
        for _ in 0..<500 { bounded.update(measuredKL: 0) }
        #expect(bounded.coefficient == 0.01)
        bounded.update(measuredKL: 2)
        #expect(abs(bounded.coefficient - 0.01 * 1.02) < 1e-15, "it climbs back from the floor at once")
        for _ in 0..<500 { bounded.update(measuredKL: 50) }
        #expect(bounded.coefficient == 1)
    }

    // MARK: Options

    /// A configuration saved before the support terms existed reads them as off (the paper's
    /// objective, what such a run trained with); every new key round-trips.
    @Test func optionsDecodeOldConfigurationsAsThePaper() throws {
        let old = #"{"dpoBeta":0.1,"entropyBonus":0,"filterQuantile":0.25,"klToFT":0,"normalization":"hajek","rwrTemperature":1}"#
        let decoded = try JSONDecoder().decode(ObjectiveOptions.self, from: Data(old.utf8))
        #expect(decoded == .paper && !decoded.addsToThePaper)
        let full = ObjectiveOptions(klTarget: 1.5, klSamples: 6, klInitialCoefficient: 0.3, klHorizon: 7, anchor: 2, htClip: 4)
        let again = try JSONDecoder().decode(ObjectiveOptions.self, from: JSONEncoder().encode(full))
        #expect(again == full && full.addsToThePaper)
    }

    @Test func settingsThatCannotWorkAreNamedByTheirFlags() {
        #expect(ObjectiveOptions(klTarget: -1).problem?.contains("--kl-target") == true)
        #expect(ObjectiveOptions(klSamples: 1).problem?.contains("--kl-samples") == true)
        #expect(ObjectiveOptions(klInitialCoefficient: 0).problem?.contains("--kl-coef") == true)
        #expect(ObjectiveOptions(klHorizon: 0.5).problem?.contains("--kl-horizon") == true)
        #expect(ObjectiveOptions(anchor: -0.1).problem?.contains("--anchor") == true)
        #expect(ObjectiveOptions(htClip: 1).problem?.contains("--ht-clip") == true)
        #expect(ObjectiveOptions(clip: 0.2, htClip: 3).problem?.contains("--ht-clip") == true)
        #expect(ObjectiveOptions(klTarget: 1, anchor: 1, htClip: 3).problem == nil)
    }
}
