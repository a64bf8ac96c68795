import CPOSupport
import Foundation
import Testing
@testable import CausalPO

@Suite("sensitivity bounds")
struct SensitivityTests {
    static func rows(_ n: Int, seed: UInt64) -> (lr: [Double], y: [Double]) {
        var rng = SeededRandom(seed: seed)
        return (randomVector(n, &rng, scale: 0.8), randomVector(n, &rng, scale: 10, shift: 50))
    }

    /// Every vertex of the box [ŵ/Λ, Λŵ]ⁿ: a linear-fractional program attains its optimum at one.
    static func bruteForce(_ lr: [Double], _ v: [Double], lambda: Double, _ normalization: WeightNormalization)
        -> (Double, Double)
    {
        let n = lr.count
        var lo = Double.infinity, hi = -Double.infinity
        for mask in 0..<(1 << n) {
            var z = 0.0, s = 0.0
            for i in 0..<n {
                let w = Foundation.exp(lr[i]) * (mask & (1 << i) != 0 ? lambda : 1 / lambda)
                z += w
                s += w * v[i]
            }
            let value = normalization == .hajek ? s / z : s / Double(n)
            lo = min(lo, value)
            hi = max(hi, value)
        }
        return (lo, hi)
    }

    @Test(arguments: [WeightNormalization.hajek, .horvitzThompson], [1.0, 1.3, 2, 5])
    func boundsEqualTheBruteForceOptimaOverTheBox(_ normalization: WeightNormalization, _ lambda: Double) throws {
        for seed in UInt64(1)...6 {
            var (lr, y) = Self.rows(9, seed: seed)
            if seed == 6 { y[3] = y[5]; y[7] = y[5] }   // ties
            if normalization == .horvitzThompson { y = y.map { $0 - 50 } }   // both signs
            let p = try #require(WeightedMeanBounds(logRatios: lr, values: y, normalization: normalization))
            let b = p.bounds(lambda: lambda)
            let (lo, hi) = Self.bruteForce(lr, y, lambda: lambda, normalization)
            #expect(abs(b.lower - lo) <= 1e-10 * max(1, abs(lo)), "seed \(seed): \(b.lower) vs \(lo)")
            #expect(abs(b.upper - hi) <= 1e-10 * max(1, abs(hi)), "seed \(seed): \(b.upper) vs \(hi)")
        }
    }

    @Test func twoRowsHaveTheClosedFormBounds() throws {
        // Values 0 and 1 with equal weights: the adversary puts Λ on one row and 1/Λ on the other.
        let p = try #require(WeightedMeanBounds(logRatios: [-3, -3], values: [0, 1], normalization: .hajek))
        for lambda in [1.0, 1.5, 2, 4] {
            let l2 = lambda * lambda
            let b = p.bounds(lambda: lambda)
            #expect(abs(b.lower - 1 / (1 + l2)) < 1e-14)
            #expect(abs(b.upper - l2 / (1 + l2)) < 1e-14)
        }
        // Horvitz-Thompson, values −2 and 4, weights 1: lower = (−2Λ + 4/Λ)/2, upper = (−2/Λ + 4Λ)/2.
        let h = try #require(WeightedMeanBounds(logRatios: [0, 0], values: [-2, 4], normalization: .horvitzThompson))
        let b = h.bounds(lambda: 2)
        #expect(abs(b.lower - (-4 + 2) / 2) < 1e-14)
        #expect(abs(b.upper - (-1 + 8) / 2) < 1e-14)
        // Breakdown to 0: −2Λ + 4/Λ = 0 at Λ = √2; the Hajek pair falls to 0.3 where 1/(1+Λ²) = 0.3.
        #expect(abs(h.breakdown(reference: 0) - 2.0.squareRoot()) < 1e-12)
        #expect(abs(p.breakdown(reference: 0.3) - (1 / 0.3 - 1).squareRoot()) < 1e-12)
    }

    @Test func lambdaOneGivesBackEveryPointEstimate() throws {
        let b = randomBatch(rows: 40, samples: 60, seed: 3)
        for normalization in [WeightNormalization.hajek, .horvitzThompson] {
            let x = EstimatorInputs(logP: b.logP, logPR: b.logPR, outcomes: b.outcomes, ghat: b.ghat ?? [], sampleLogP: b.sampleLogP,
                                    sampleLogP0: b.sampleLogP0, sampleGhat: b.sampleGhat, normalization: normalization)
            for e in [Estimator.snipw, .dr, .ipw] {
                let a = try #require(Sensitivity.analyze(x, estimator: e, reference: nil, lambdas: [1], replicates: 0))
                let v = e.estimate(x).value
                #expect(abs(a.point - v) < 1e-10 * max(1, abs(v)), "\(e) \(normalization)")
                #expect(abs(a.bounds[0].lower - v) < 1e-10 * max(1, abs(v)) && abs(a.bounds[0].upper - v) < 1e-10 * max(1, abs(v)))
            }
        }
    }

    @Test func boundsWidenMonotonicallyAndContainEveryWeightingInTheBox() throws {
        var rng = SeededRandom(seed: 11)
        let (lr, y) = Self.rows(300, seed: 5)
        let p = try #require(WeightedMeanBounds(logRatios: lr, values: y, normalization: .hajek))
        var last = p.bounds(lambda: 1)
        for lambda in Sensitivity.logGrid(maximum: 20, count: 50).dropFirst() {
            let b = p.bounds(lambda: lambda)
            #expect(b.lower <= last.lower + 1e-12 && b.upper >= last.upper - 1e-12)
            // Any weighting inside the box lands inside the bounds.
            for _ in 0..<5 {
                let f = lr.map { _ in Foundation.exp((2 * rng.uniform() - 1) * Foundation.log(lambda)) }
                let w = zip(lr, f).map { Foundation.exp($0) * $1 }
                let v = zip(w, y).reduce(0) { $0 + $1.0 * $1.1 } / w.reduce(0, +)
                #expect(b.lower <= v + 1e-9 && v <= b.upper + 1e-9)
            }
            last = b
        }
        // As Λ grows the bounds approach the smallest and largest values.
        let far = p.bounds(lambda: 1e6)
        #expect(abs(far.lower - y.min()!) < 1e-3 && abs(far.upper - y.max()!) < 1e-3)
    }

    @Test(arguments: [WeightNormalization.hajek, .horvitzThompson])
    func breakdownIsWhereTheLowerBoundMeetsTheReference(_ normalization: WeightNormalization) throws {
        let (lr, y0) = Self.rows(200, seed: 9)
        let y = normalization == .hajek ? y0 : y0.map { $0 - 45 }
        let p = try #require(WeightedMeanBounds(logRatios: lr, values: y, offset: 1.5, normalization: normalization))
        for gap in [0.5, 2.0, 5.0] {
            let c = p.point - gap
            let star = p.breakdown(reference: c)
            #expect(star > 1 && star.isFinite)
            #expect(abs(p.bounds(lambda: star).lower - c) < 1e-9 * max(1, abs(c)), "gap \(gap)")
            #expect(p.bounds(lambda: star * (1 - 1e-6)).lower > c)
        }
        #expect(p.breakdown(reference: p.point + 1) == 1)   // no gain to erase
        if normalization == .hajek {
            #expect(p.breakdown(reference: p.offset + y.min()! - 1) == .infinity)   // every value is above it
        } else {
            // Un-normalized, a negative value's weight grows without end; with none, the bound only shrinks toward 0.
            #expect(p.breakdown(reference: p.offset + y.min()! - 1).isFinite)
            let positive = try #require(WeightedMeanBounds(logRatios: lr, values: y0, offset: 1.5, normalization: .horvitzThompson))
            #expect(positive.breakdown(reference: 1.5) == .infinity)
        }
    }

    @Test(arguments: [WeightNormalization.hajek, .horvitzThompson])
    func worstCaseIsTheLowerBoundWithItsGradient(_ normalization: WeightNormalization) throws {
        let (lr, y0) = Self.rows(12, seed: 21)
        let y = normalization == .hajek ? y0 : y0.map { $0 - 50 }
        for lambda in [1.0, 1.5, 3] {
            let p = try #require(WeightedMeanBounds(logRatios: lr, values: y, normalization: normalization))
            let wc = p.worstCase(lambda: lambda)
            #expect(abs(wc.value - p.bounds(lambda: lambda).lower) < 1e-10)
            if normalization == .hajek { #expect(abs(wc.weights.reduce(0, +) - 1) < 1e-12) }
            let eps = 1e-6
            for i in lr.indices {
                var up = lr, down = lr
                up[i] += eps
                down[i] -= eps
                let fu = try #require(WeightedMeanBounds(logRatios: up, values: y, normalization: normalization)).bounds(lambda: lambda).lower
                let fd = try #require(WeightedMeanBounds(logRatios: down, values: y, normalization: normalization)).bounds(lambda: lambda).lower
                let numeric = (fu - fd) / (2 * eps)
                #expect(abs(numeric - wc.gradient[i]) < 1e-6 * max(1, abs(numeric)), "Λ \(lambda) row \(i): \(numeric) vs \(wc.gradient[i])")
            }
        }
    }

    @Test func analysisIsSeededAndItsIntervalsHoldThePointBounds() throws {
        let b = randomBatch(rows: 120, samples: 240, seed: 4)
        let x = EstimatorInputs(logP: b.logP, logPR: b.logPR, outcomes: b.outcomes, ghat: b.ghat ?? [], sampleLogP: b.sampleLogP,
                                sampleLogP0: b.sampleLogP0, sampleGhat: b.sampleGhat, normalization: .hajek)
        for e in Sensitivity.estimators {
            let ref = e.estimate(x).value - 3
            let a = try #require(Sensitivity.analyze(x, estimator: e, reference: ref, replicates: 100, seed: 7))
            let again = try #require(Sensitivity.analyze(x, estimator: e, reference: ref, replicates: 100, seed: 7))
            #expect(a == again)
            #expect(a.bounds.map(\.lambda) == Sensitivity.defaultGrid)
            for bound in a.bounds {
                let lo = try #require(bound.intervalLower), hi = try #require(bound.intervalUpper)
                #expect(lo <= bound.lower && bound.upper <= hi, "\(e) Λ \(bound.lambda)")
            }
            let star = try #require(a.breakdown), starCI = try #require(a.breakdownInterval)
            #expect(star > 1 && starCI >= 1 && starCI <= star)
            // The interval's lower end at the interval breakdown is at (or just below) the reference.
            let atCI = try #require(Sensitivity.analyze(x, estimator: e, reference: ref, lambdas: [starCI, starCI * 0.999],
                                                        replicates: 100, seed: 7))
            #expect(try #require(atCI.bounds[0].intervalLower) <= ref + 1e-9)
            #expect(try #require(atCI.bounds[1].intervalLower) > ref)
        }
        // Not covered: V_OUT does not involve P^R.
        #expect(Sensitivity.analyze(x, estimator: .out, reference: nil) == nil)
    }

    /// At Λ = 1 the percentile-bootstrap interval of the self-normalized estimate is an ordinary
    /// 95% interval: it covers the true value of a simulated policy in about 95% of samples.
    @Test func bootstrapIntervalAtLambdaOneCoversTheTruth() throws {
        // Rows from P^R uniform over 4 texts with values 0..3 (+ noise sd 1); the policy puts
        // weights 1, 2, 3, 4 on them: V = Σ p_k k = (0·1 + 1·2 + 2·3 + 3·4)/10 = 2.
        var rng = SeededRandom(seed: 31)
        var covered = 0
        let trials = 200
        for t in 0..<trials {
            var lr: [Double] = [], y: [Double] = []
            for _ in 0..<200 {
                let k = rng.int(below: 4)
                lr.append(Foundation.log(Double(k + 1)))
                y.append(Double(k) + rng.gaussian())
            }
            let x = EstimatorInputs(logP: lr, logPR: [Double](repeating: 0, count: 200), outcomes: y, ghat: y, sampleLogP: [],
                                    sampleLogP0: [], sampleGhat: [], normalization: .hajek)
            let a = try #require(Sensitivity.analyze(x, estimator: .snipw, reference: nil, lambdas: [1], replicates: 200, seed: UInt64(t)))
            if a.bounds[0].covers(2) { covered += 1 }
        }
        let share = Double(covered) / Double(trials)
        #expect(share > 0.89 && share < 0.99, "coverage \(share)")
    }
}
