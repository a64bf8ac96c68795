import CPOSupport
import Foundation
import Testing
@testable import CausalPO

@Suite("diagnostics")
struct DiagnosticsTests {
    @Test func effectiveSampleSize() {
        #expect(abs(Diagnostics.effectiveSampleSize(weights: [Double](repeating: 0.3, count: 17)) - 17) < 1e-12)
        #expect(Diagnostics.effectiveSampleSize(weights: [0, 0, 5, 0]) == 1)
        #expect(abs(Diagnostics.effectiveSampleSize(weights: [1, 2, 3]) - 36.0 / 14.0) < 1e-15)
        #expect(Diagnostics.effectiveSampleSize(logWeights: [-.infinity, 0, -.infinity]) == 1)
        // Huge log-weights would overflow exp; the max-shift keeps them exact.
        let lw = [1000 + Foundation.log(1.0), 1000 + Foundation.log(2.0), 1000 + Foundation.log(3.0)]
        #expect(abs(Diagnostics.effectiveSampleSize(logWeights: lw) - 36.0 / 14.0) < 1e-12)
        #expect(abs(Diagnostics.maxWeightShare(logWeights: lw) - 0.5) < 1e-12)
        #expect(Diagnostics.maxWeightShare(logWeights: [0, 0, 0, 0]) == 0.25)
        #expect(Diagnostics.maxWeightShare(logWeights: [0, -.infinity]) == 1)
    }

    @Test func batchESSCanHideGlobalCollapse() {
        // Two batches, equal weights inside each, but the second batch's weights are e^10 times
        // larger: each batch reads a perfect ESS while the global ESS is about one batch.
        let lw = [Double](repeating: 0, count: 8) + [Double](repeating: 10, count: 8) + [10, 10]
        #expect(Diagnostics.batchEffectiveSampleSizes(logWeights: lw, batchSize: 8).map { ($0 * 1e9).rounded() / 1e9 } == [8, 8, 2])
        let s = Diagnostics.weightSummary(logP: lw, logPR: [Double](repeating: 0, count: lw.count), batchSize: 8)
        #expect(abs(s.meanBatchESSFraction - 1) < 1e-12)
        #expect(s.ess < 10.01 && s.ess > 9.99)
        #expect(abs(s.essFraction - s.ess / 18) < 1e-15)
    }

    @Test func summaryAtThePolicyItself() {
        var r = SeededRandom(seed: 1)
        let logPR = (0..<50).map { _ in -30 + 3 * r.gaussian() }
        let s = Diagnostics.weightSummary(logP: logPR, logPR: logPR, batchSize: 16)
        #expect(s.count == 50 && s.ess == 50 && s.essFraction == 1)
        #expect(s.batchESS == [16, 16, 16, 2])
        #expect(s.maxWeightShare == 1.0 / 50)
        #expect(s.logRatioQuantiles == [Double](repeating: 0, count: WeightSummary.defaultQuantileLevels.count))
        #expect(s.histogram.counts[12] == 50 && s.histogram.total == 50)
        #expect(!s.overlap.triggered && s.overlap.count == 0)
    }

    @Test func histogramBinsAndTotals() {
        let x: [Double] = [-10, -6, -0.25, 0, 0.49, 0.5, 5.9, 6, 100, .infinity, -.infinity, .nan]
        let h = LogRatioHistogram(logRatios: x)
        #expect(h.edges.first == -6 && h.edges.last == 6 && h.binCount == 24)
        var expected = [Int](repeating: 0, count: 24)
        expected[0] = 3       // −10, −6, −∞
        expected[11] = 1      // −0.25 ∈ [−0.5, 0)
        expected[12] = 2      // 0, 0.49 ∈ [0, 0.5)
        expected[13] = 1      // 0.5
        expected[23] = 4      // 5.9, 6, 100, +∞
        #expect(h.counts == expected)
        #expect(h.nanCount == 1 && h.total == x.count)

        var r = SeededRandom(seed: 2)
        let many = (0..<1000).map { _ in 4 * r.gaussian() }
        let hm = LogRatioHistogram(logRatios: many, edges: [-1, 0, 1])
        #expect(hm.counts.reduce(0, +) == 1000)
        #expect(hm.counts[0] == many.filter { $0 < 0 }.count)
    }

    @Test func quantilesInterpolateLinearly() {
        let q = Diagnostics.quantiles([3, 1, .nan, 2, 4, 5], at: [0, 0.1, 0.25, 0.5, 1])
        #expect(q[0] == 1 && q[2] == 2 && q[3] == 3 && q[4] == 5)
        #expect(abs(q[1] - 1.4) < 1e-12)
        #expect(Diagnostics.quantiles([], at: [0.5])[0].isNaN)
        #expect(Diagnostics.quantiles([7], at: [0, 0.3, 1]) == [7, 7, 7])
    }

    @Test func klOfAPolicyToItselfIsZeroAndOtherwisePositive() {
        let p = [0.5, 0.3, 0.2], q = [0.2, 0.3, 0.5]
        let exact = zip(p, q).reduce(0) { $0 + $1.0 * Foundation.log($1.0 / $1.1) }
        var r = SeededRandom(seed: 4)
        let xs = (0..<4000).map { _ in r.categorical(p) }
        let lp = xs.map { Foundation.log(p[$0]) }, lq = xs.map { Foundation.log(q[$0]) }
        let same = Diagnostics.klDivergence(logPF: lp, logPFT: lp)
        #expect(same.value == 0 && same.standardError == 0)
        let kl = Diagnostics.klDivergence(logPF: lp, logPFT: lq)
        #expect(kl.lower > 0)
        #expect(kl.covers(exact))
    }

    @Test func overlapAlarm() {
        let t = Foundation.log(20.0)
        let ok = OverlapAlarm(logRatios: [Double](repeating: 0.1, count: 98) + [t + 1, -t - 1])
        #expect(ok.count == 2 && ok.share == 0.02 && !ok.triggered)
        let bad = OverlapAlarm(logRatios: [Double](repeating: 0.1, count: 90) + [Double](repeating: -t - 0.01, count: 10))
        #expect(bad.share == 0.1 && bad.triggered)
        #expect(OverlapAlarm(logRatios: [t, -t, 0]).count == 0)    // the threshold itself is not extreme
        #expect(OverlapAlarm(logRatios: [.nan, 0]).count == 1)
        #expect(OverlapAlarm(logRatios: [5, 0], threshold: 6, limit: 0).count == 0)
        #expect(OverlapAlarm(logRatios: [7, 0], threshold: 6, limit: 0.4).triggered)
    }

    @Test func drResidualTerm() {
        let logP = [-1.0, -2.0, -0.5], logPR = [-1.5, -1.0, -0.5]
        let y = [3.0, 1.0, 2.0], gh = [2.0, 2.5, 2.0]
        let w = softmax(zip(logP, logPR).map { $0 - $1 })
        let expected = (0..<3).reduce(0) { $0 + w[$1] * (y[$1] - gh[$1]) }
        #expect(abs(Estimators.residualTerm(logP: logP, logPR: logPR, outcomes: y, ghat: gh).value - expected) < 1e-14)
        let ht = (0..<3).reduce(0) { $0 + Foundation.exp(logP[$1] - logPR[$1]) * (y[$1] - gh[$1]) } / 3
        #expect(abs(Estimators.residualTerm(logP: logP, logPR: logPR, outcomes: y, ghat: gh, normalization: .horvitzThompson).value - ht) < 1e-14)
        #expect(Estimators.residualTerm(logP: logP, logPR: logPR, outcomes: y, ghat: y).value == 0)
    }

    @Test func attributeEffectsRecoverCoefficientsOnNoiselessData() {
        var r = SeededRandom(seed: 9)
        let a = (0..<200).map { _ in (0..<3).map { _ in r.uniform() < 0.5 ? 1.0 : 0.0 } }
        let truth = [2.0, -3.0, 0.5]
        let y = a.map { 1 + zip($0, truth).reduce(0) { $0 + $1.0 * $1.1 } }
        let ghat = a.map { 4 + 0.5 * $0[0] }      // a ĝ that learned only half of attribute 0
        let effects = Diagnostics.attributeEffects(attributes: a, outcomes: y, predictions: ghat, trueEffects: truth)
        #expect(effects.count == 3)
        for e in effects {
            #expect(abs(e.naive.value - truth[e.attribute]) < 1e-9)
            #expect(e.naive.standardError < 1e-6)
            #expect(e.truth == truth[e.attribute])
        }
        #expect(abs(effects[0].learned.value - 0.5) < 1e-9 && abs(effects[1].learned.value) < 1e-9)
    }

    @Test func olsMatchesNormalEquationsWithNoise() {
        var r = SeededRandom(seed: 10)
        let x = (0..<60).map { _ in [r.uniform() < 0.3 ? 1.0 : 0.0, r.gaussian()] }
        let y = x.map { 0.5 + $0[0] - 2 * $0[1] + r.gaussian() }
        let fit = Diagnostics.ols(predictors: x, response: y)
        var ztz = [[Double]](repeating: [0, 0, 0], count: 3), zty = [0.0, 0, 0]
        for i in x.indices {
            let z = [1] + x[i]
            for j in 0..<3 {
                zty[j] += z[j] * y[i]
                for k in 0..<3 { ztz[j][k] += z[j] * z[k] }
            }
        }
        let b = DenseReference.solve(ztz, zty)
        let rss = x.indices.reduce(0.0) { s, i in
            let e = y[i] - b[0] - b[1] * x[i][0] - b[2] * x[i][1]
            return s + e * e
        }
        let sigma2 = rss / Double(x.count - 3)
        for j in 0..<3 {
            #expect(abs(fit.coefficients[j] - b[j]) < 1e-9)
            let inverseColumn = DenseReference.solve(ztz, (0..<3).map { $0 == j ? 1 : 0 })
            #expect(abs(fit.standardErrors[j] - (sigma2 * inverseColumn[j]).squareRoot()) < 1e-9)
        }
        #expect(!fit.rankDeficient && fit.rank == 3)
    }

    @Test func unidentifiedEffectsAreNaN() {
        // Every text has exactly two of three attributes: the effects are collinear with the intercept.
        let a: [[Double]] = [[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 1, 1]]
        let fit = Diagnostics.ols(predictors: a, response: [1, 2, 3, 4, 5])
        #expect(fit.rankDeficient && fit.rank == 3)
        #expect(fit.coefficients.allSatisfy { $0.isNaN })
        // A fourth column that is identified keeps its coefficient.
        let b: [[Double]] = [[1, 1, 0, 0], [1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 1], [0, 1, 1, 1], [1, 0, 1, 0]]
        let yb = b.map { 2 + 3 * $0[3] + $0[0] }
        let fb = Diagnostics.ols(predictors: b, response: yb)
        #expect(fb.coefficients[1].isNaN && abs(fb.coefficients[4] - 3) < 1e-9)
    }

    @Test func correlationMatchesClosedForms() {
        // y = 3x + 1 exactly: +1; y = -2x: -1; a constant: NaN; the textbook example below by hand.
        let x: [Double] = [1, 2, 3, 4, 5]
        #expect(abs(Diagnostics.correlation(x, x.map { 3 * $0 + 1 }) - 1) < 1e-15)
        #expect(abs(Diagnostics.correlation(x, x.map { -2 * $0 }) + 1) < 1e-15)
        #expect(Diagnostics.correlation(x, [7, 7, 7, 7, 7]).isNaN)
        #expect(Diagnostics.correlation([1], [2]).isNaN)
        // x = 1..5, y = 2,4,5,4,5: Sxy = 6, Sxx = 10, Syy = 6 → r = 6/√60.
        #expect(abs(Diagnostics.correlation(x, [2, 4, 5, 4, 5]) - 6 / 60.0.squareRoot()) < 1e-14)
        // Invariant to a large shift (centered sums).
        #expect(abs(Diagnostics.correlation(x.map { $0 + 1e9 }, [2, 4, 5, 4, 5]) - 6 / 60.0.squareRoot()) < 1e-9)
    }

    @Test func standardizedMeanDifferences() {
        // Balanced: the same attribute rows for both traits.
        var r = SeededRandom(seed: 12)
        let base = (0..<50).map { _ in (0..<2).map { _ in r.uniform() < 0.4 ? 1.0 : 0.0 } }
        let balanced = Diagnostics.standardizedMeanDifferences(attributes: base + base,
                                                               trait: [Int](repeating: 1, count: 50) + [Int](repeating: -1, count: 50))
        #expect(balanced.allSatisfy { abs($0) < 1e-12 })
        // Tilted: attribute 0 shown more to C = +1, attribute 1 more to C = −1.
        var a: [[Double]] = [], c: [Int] = []
        for i in 0..<400 {
            let trait = i % 2 == 0 ? 1 : -1
            a.append([r.uniform() < (trait == 1 ? 0.7 : 0.3) ? 1 : 0, r.uniform() < (trait == 1 ? 0.2 : 0.5) ? 1 : 0])
            c.append(trait)
        }
        let smd = Diagnostics.standardizedMeanDifferences(attributes: a, trait: c)
        #expect(smd[0] > 0.5 && smd[1] < -0.3)
        // By hand on a tiny case: +1 rows {1, 1, 0}, −1 rows {0, 0, 1, 0}.
        let tiny = Diagnostics.standardizedMeanDifferences(attributes: [[1], [1], [0], [0], [0], [1], [0]], trait: [1, 1, 1, -1, -1, -1, -1])
        let (mp, vp, mm, vm) = (2.0 / 3, 1.0 / 3, 0.25, 0.25)
        #expect(abs(tiny[0] - (mp - mm) / ((vp + vm) / 2).squareRoot()) < 1e-12)
        #expect(Diagnostics.standardizedMeanDifferences(attributes: [[1], [1], [0], [0]], trait: [1, 1, -1, -1]) == [.infinity])
    }
}

@Suite("estimators")
struct EstimatorTests {
    @Test func equalWeightsGiveTheSampleMean() {
        let y = [1.0, 4, 2, 7, 6]
        let lp = [-3.0, -8, -1, -2, -5]
        let mean = 4.0
        let se = (y.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 4 / 5).squareRoot()
        for e in [Estimators.ipw(logP: lp, logPR: lp, outcomes: y), Estimators.snipw(logP: lp, logPR: lp, outcomes: y)] {
            #expect(abs(e.value - mean) < 1e-12 && abs(e.standardError - se) < 1e-12)
            #expect(abs(e.lower - (mean - Estimate.z95 * se)) < 1e-12 && abs(e.upper - (mean + Estimate.z95 * se)) < 1e-12)
            #expect(e.ci95 == (e.lower, e.upper))
        }
    }

    @Test func handComputedWeightedEstimates() {
        let lr = [0.2, -0.4, 0.9, 0.0]
        let y = [2.0, -1.0, 3.0, 0.5]
        let w = lr.map { Foundation.exp($0) }
        let n = 4.0
        let htTerms = zip(w, y).map { $0 * $1 }
        let ht = htTerms.reduce(0, +) / n
        let htSE = (htTerms.reduce(0) { $0 + ($1 - ht) * ($1 - ht) } / (n - 1) / n).squareRoot()
        let ipw = Estimators.ipw(logP: lr, logPR: [0, 0, 0, 0], outcomes: y)
        #expect(abs(ipw.value - ht) < 1e-12 && abs(ipw.standardError - htSE) < 1e-12)

        let hajek = htTerms.reduce(0, +) / w.reduce(0, +)
        let wbar = w.reduce(0, +) / n
        // Delta method for mean(wY)/mean(w): influence ψ_i = w_i (Y_i − V)/mean(w).
        let psi = (0..<4).map { w[$0] * (y[$0] - hajek) / wbar }
        let hajekSE = (psi.reduce(0) { $0 + $1 * $1 } / (n - 1) / n).squareRoot()
        let sn = Estimators.snipw(logP: lr, logPR: [0, 0, 0, 0], outcomes: y)
        #expect(abs(sn.value - hajek) < 1e-12 && abs(sn.standardError - hajekSE) < 1e-12)
        let out = Estimators.out(sampleLogP: lr.map { $0 - 50 }, sampleLogP0: [-50, -50, -50, -50], sampleGhat: y)
        #expect(abs(out.value - hajek) < 1e-12 && abs(out.standardError - hajekSE) < 1e-12)
        // DR: residual term + outcome term, variances added.
        let dr = Estimators.dr(logP: lr, logPR: [0, 0, 0, 0], outcomes: y, ghat: y.map { $0 - 1 },
                               sampleLogP: lr, sampleLogP0: [0, 0, 0, 0], sampleGhat: y)
        #expect(abs(dr.value - (1 + hajek)) < 1e-12)
        #expect(abs(dr.standardError - hajekSE) < 1e-12)   // the residual term is constant (1): SE 0
    }

    @Test func logSpaceWeightsDoNotOverflow() {
        let lr = [800.0, 801, 799]
        let y = [1.0, 2, 3]
        let sn = Estimators.snipw(logP: lr, logPR: [0, 0, 0], outcomes: y)
        let w = [1, Foundation.exp(1.0), Foundation.exp(-1.0)]
        #expect(abs(sn.value - (w[0] + 2 * w[1] + 3 * w[2]) / w.reduce(0, +)) < 1e-12)
        #expect(sn.standardError.isFinite)
        let ipw = Estimators.ipw(logP: [-1000, -1001], logPR: [-1000.5, -1000.5], outcomes: [1, 1])
        #expect(abs(ipw.value - (Foundation.exp(0.5) + Foundation.exp(-0.5)) / 2) < 1e-12)
    }

    @Test func degenerateInputs() {
        #expect(Estimators.ipw(logP: [], logPR: [], outcomes: []).value.isNaN)
        let one = Estimators.snipw(logP: [0], logPR: [0], outcomes: [3])
        #expect(one.value == 3 && one.standardError.isNaN)
        #expect(Estimators.snipw(logP: [-.infinity], logPR: [0], outcomes: [3]).value.isNaN)
    }
}
