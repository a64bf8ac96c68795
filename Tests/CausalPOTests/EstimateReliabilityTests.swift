import CPOSupport
import Foundation
import Testing
@testable import CausalPO

@Suite("when a weighted estimate means nothing")
struct EstimateReliabilityTests {
    @Test func theRuleIsFivePercentOfTheRowsAndAtLeastTen() {
        #expect(EffectiveSampleSize(ess: 25, count: 500).enough)
        #expect(!EffectiveSampleSize(ess: 24.9, count: 500).enough)
        #expect(!EffectiveSampleSize(ess: 49, count: 1000).enough)
        // Below 200 rows the floor of 10 decides.
        #expect(!EffectiveSampleSize(ess: 9.9, count: 100).enough)
        #expect(EffectiveSampleSize(ess: 10, count: 100).enough)
        #expect(!EffectiveSampleSize(ess: .nan, count: 100).enough)
        #expect(EffectiveSampleSize(ess: 30, count: 600).fraction == 0.05)
        // From log-weights: one weight of e^0 among 99 of e^-50 is one effective row.
        let collapsed = EffectiveSampleSize(logWeights: [0] + [Double](repeating: -50, count: 99))
        #expect(abs(collapsed.ess - 1) < 1e-12 && collapsed.count == 100 && !collapsed.enough)
    }

    /// Which estimators each kind of collapse marks, and the reason given.
    @Test func eachCollapseMarksTheEstimatorsThatRestOnIt() {
        let fine = EffectiveSampleSize(ess: 400, count: 500), few = EffectiveSampleSize(ess: 6.2, count: 500)
        #expect(EstimateReliability(rows: fine, samples: fine).unreliable.isEmpty)
        #expect(EstimateReliability(rows: fine, samples: fine).reason == nil)
        let rows = EstimateReliability(rows: few, samples: fine)
        #expect(rows.unreliable == [.dr, .ipw, .snipw])
        #expect(rows.isReliable(.out) && !rows.isReliable(.drResidual))
        #expect(rows.reason == "V_DR, V_IPW, V_SNIPW unreliable: held-out ESS 6.2 of 500 rows (1.2%) (needs 5% of them and at least 10): the weights rest on a few texts")
        let samples = EstimateReliability(rows: fine, samples: EffectiveSampleSize(ess: 50, count: 2000))
        #expect(samples.unreliable == [.dr, .out])
        #expect(samples.reason?.contains("f0 ESS 50.0 of 2000 samples (2.5%)") == true)
        // Not measured (an evaluation saved before): only the rows decide.
        #expect(EstimateReliability(rows: fine, samples: nil).unreliable.isEmpty)
    }

    /// The rule separates intervals that hold from those that do not. Rows X ~ N(0, 1) under
    /// P^R, policies f = N(μ, 1) for μ from 0.3 to 3 (log w = μX − μ²/2: lognormal weights,
    /// population ESS fraction e^{−μ²}), Y = 50 + 5 tanh(X) + 10 ε; the Hajek estimate V_SNIPW of
    /// 500 rows with its 95% interval, 300 replications per μ. Where the rule finds enough
    /// effective rows the interval covers the truth in ≥ 92% of replications; where it does not,
    /// in far fewer, and the worst collapse (ESS under 1% of n) covers in about half.
    @Test func coverageFallsWhereTheRuleSaysSo() {
        let n = 500, reps = 300
        let mus = stride(from: 0.3, through: 3.0, by: 0.3).map { $0 }
        var r = SeededRandom(seed: 2026)
        var enough = (covered: 0, total: 0), notEnough = (covered: 0, total: 0), collapsed = (covered: 0, total: 0)
        for mu in mus {
            let truth = Self.expectedOutcome(shift: mu)
            for _ in 0..<reps {
                var logW: [Double] = [], y: [Double] = []
                for _ in 0..<n {
                    let x = r.gaussian()
                    logW.append(mu * x - mu * mu / 2)
                    y.append(50 + 5 * Foundation.tanh(x) + 10 * r.gaussian())
                }
                let covers = Estimators.snipw(logP: logW, logPR: [Double](repeating: 0, count: n), outcomes: y).covers(truth) ? 1 : 0
                let ess = EffectiveSampleSize(logWeights: logW)
                if ess.enough { enough = (enough.covered + covers, enough.total + 1) } else { notEnough = (notEnough.covered + covers, notEnough.total + 1) }
                if ess.fraction < 0.01 { collapsed = (collapsed.covered + covers, collapsed.total + 1) }
            }
        }
        func rate(_ c: (covered: Int, total: Int)) -> Double { Double(c.covered) / Double(max(1, c.total)) }
        print(String(format: "coverage: enough ESS %.3f (%d), not enough %.3f (%d), ESS < 1%% of n %.3f (%d)", rate(enough), enough.total,
                     rate(notEnough), notEnough.total, rate(collapsed), collapsed.total))
        #expect(enough.total > 1000 && notEnough.total > 300 && collapsed.total > 50)
        #expect(rate(enough) >= 0.92)
        #expect(rate(notEnough) < 0.85)
        #expect(rate(collapsed) < 0.7)
    }

    /// E[50 + 5 tanh(Z + μ)] for Z ~ N(0, 1), by the midpoint rule on [−10, 10].
    static func expectedOutcome(shift mu: Double) -> Double {
        let h = 1e-3
        var s = 0.0
        for k in 0..<20_000 {
            let z = -10 + (Double(k) + 0.5) * h
            s += (50 + 5 * Foundation.tanh(z + mu)) * Foundation.exp(-z * z / 2)
        }
        return s * h / (2 * Double.pi).squareRoot()
    }
}
