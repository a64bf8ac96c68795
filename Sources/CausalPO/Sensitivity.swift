import CPOSupport
import Foundation

// Sensitivity to unobserved confounding (CausalPO.docc/Sensitivity.md).
//
// The model: the probability that the reader of row i saw its text may differ from the P̂^R the
// estimator used by a factor in [1/Λ, Λ] (Tan 2006's marginal sensitivity model, written for
// the probabilities of whole texts, which are far below 1, so the odds and the probability
// differ by the same factor). The true weight of row i is then anywhere in [ŵ_i/Λ, Λ·ŵ_i],
// ŵ_i = P^f(X_i)/P̂^R(X_i), and the bounds of an estimate are its smallest and largest value
// over every such choice of the n weights.
//
// Self-normalized weights make each bound a linear-fractional program whose optimum puts the
// largest factor on the rows below (lower bound) or above (upper bound) a threshold in the
// sorted values: sorting once and one pass over the thresholds solve it exactly (Kallus & Zhou
// 2018, "Confounding-robust policy improvement", section 4; Zhao, Small & Bhattacharya 2019,
// "Sensitivity analysis for inverse probability weighting estimators via the percentile
// bootstrap", section 4). These are the sharp bounds of the estimator over the sample; as Dorn &
// Guo 2022 ("Sharp sensitivity analysis for inverse propensity weighting via quantile
// balancing") show, in the population they are valid but can be wider than the sharpest
// bounds, which also use that the true weights must average to one within each text.

/// One weighted mean under the sensitivity model: `offset + Σ w_i v_i / Σ w_i` (Hajek) or
/// `offset + (1/n) Σ w_i v_i` (Horvitz-Thompson), with each weight free in [ŵ_i/Λ, Λ·ŵ_i].
///
/// Built once (sorting the values, O(n log n)); each `bounds(lambda:)` is then two O(log n)
/// binary searches and `breakdown(reference:)` an exact O(n) solve, so a grid of 50 values of Λ
/// over 2,000 rows, with 200 bootstrap replicates, takes a few milliseconds.
public struct WeightedMeanBounds: Sendable {
    public let normalization: WeightNormalization
    /// Added to both bounds: V_OUT for the DR estimator (it does not involve P^R), 0 otherwise.
    public let offset: Double
    /// The rows in ascending order of value: the original index of each.
    let order: [Int]
    /// Values in ascending order.
    let values: [Double]
    /// The base weights ŵ in the same order: max-shifted for Hajek (scale-free), exact
    /// e^{lr}/n for Horvitz-Thompson.
    let weights: [Double]
    /// Prefix sums over the ascending order: PB[j] = Σ_{i<j} w_i, PA[j] = Σ_{i<j} w_i v_i.
    let prefixWeight: [Double]
    let prefixWeightedValue: [Double]

    /// `logRatios` are log ŵ_i = logP^f(X_i) − log P̂^R(X_i); `values` the values weighted (Y,
    /// or Y − ĝ for DR's residual term). Returns nil when there are no rows or a log-ratio is not
    /// finite on a row that counts.
    public init?(logRatios: [Double], values: [Double], offset: Double = 0, normalization: WeightNormalization) {
        precondition(logRatios.count == values.count, "weights and values must align")
        let n = values.count
        guard n > 0, let shift = logRatios.max(), shift.isFinite, values.allSatisfy(\.isFinite), offset.isFinite else { return nil }
        let base: [Double]
        switch normalization {
        case .hajek: base = logRatios.map { Foundation.exp($0 - shift) }
        case .horvitzThompson: base = logRatios.map { Foundation.exp($0) / Double(n) }
        }
        guard base.allSatisfy(\.isFinite) else { return nil }
        let order = values.indices.sorted { values[$0] < values[$1] || (values[$0] == values[$1] && $0 < $1) }
        self.init(order: order, values: order.map { values[$0] }, weights: order.map { base[$0] }, offset: offset,
                  normalization: normalization)
    }

    init(order: [Int], values: [Double], weights: [Double], offset: Double, normalization: WeightNormalization) {
        self.order = order
        self.values = values
        self.weights = weights
        self.offset = offset
        self.normalization = normalization
        var pb = [Double](repeating: 0, count: values.count + 1)
        var pa = pb
        for i in values.indices {
            pb[i + 1] = pb[i] + weights[i]
            pa[i + 1] = pa[i] + weights[i] * values[i]
        }
        prefixWeight = pb
        prefixWeightedValue = pa
    }

    /// The same problem with row i's weight multiplied by `counts[i]` (original row order) and
    /// another offset: one bootstrap replicate, without sorting again.
    public func reweighted(counts: [Double], offset: Double) -> WeightedMeanBounds {
        precondition(counts.count == order.count, "one count per row")
        var w = [Double](repeating: 0, count: order.count)
        for i in 0..<order.count { w[i] = counts[order[i]] * weights[i] }
        return WeightedMeanBounds(order: order, values: values, weights: w, offset: offset, normalization: normalization)
    }

    public var count: Int { values.count }

    /// The estimate at Λ = 1 (the weights as given). NaN when every weight is 0.
    public var point: Double {
        switch normalization {
        case .hajek: return offset + totalWeightedValue / totalWeight
        case .horvitzThompson: return offset + totalWeightedValue
        }
    }

    var totalWeight: Double { prefixWeight[count] }
    var totalWeightedValue: Double { prefixWeightedValue[count] }

    /// Σ w v over the negative and the positive values (Horvitz-Thompson's two halves).
    var signedHalves: (negative: Double, positive: Double) {
        var neg = 0.0
        for i in 0..<count where values[i] < 0 { neg += weights[i] * values[i] }
        return (neg, totalWeightedValue - neg)
    }

    /// Hajek's lower bound at γ = Λ² − 1 and its cut: Λ² on the `cut` lowest values. down(j) is
    /// unimodal in j: moving the threshold past row j mixes value j into the mean, which lowers it
    /// exactly while value j is below it, and the values are sorted. So the minimum is at the first j
    /// whose value is not below down(j): a binary search instead of a pass over the rows (the
    /// neighbours are checked against rounding at ties). `bounds` and `worstCase` both read it.
    func lowerCut(_ g: Double) -> (cut: Int, value: Double) {
        let n = count
        let ty = totalWeightedValue, t = totalWeight
        let pa = prefixWeightedValue, pb = prefixWeight
        func down(_ j: Int) -> Double { (ty + g * pa[j]) / (t + g * pb[j]) }
        var a = 0, b = n
        while a < b {
            let mid = (a + b) / 2
            if values[mid] >= down(mid) { b = mid } else { a = mid + 1 }
        }
        var best = (cut: 0, value: ty / t)
        for j in max(0, a - 1)...min(n, a + 1) where down(j) < best.value { best = (j, down(j)) }
        return best
    }

    /// The smallest and largest value the estimate takes when each weight may move by a factor
    /// in [1/Λ, Λ]; both equal `point` at Λ = 1 and widen as Λ grows.
    public func bounds(lambda: Double) -> (lower: Double, upper: Double) {
        precondition(lambda >= 1, "Λ must be at least 1")
        let n = count
        switch normalization {
        case .hajek:
            // Scale-free: the weights of the rows favoured by the adversary are Λ² times the others.
            let g = lambda * lambda - 1
            let ty = totalWeightedValue, t = totalWeight
            guard g.isFinite else { return (offset + values[0], offset + values[n - 1]) }
            // Λ² on the j lowest values (down), or on all but the j lowest (up); j = 0 and j = n
            // give the point estimate.
            let pa = prefixWeightedValue, pb = prefixWeight
            func up(_ j: Int) -> Double { (ty + g * (ty - pa[j])) / (t + g * (t - pb[j])) }
            // up(j) is unimodal in j like down(j) (`lowerCut`): the upper bound is up(j) at the last
            // j whose value j − 1 is not above up(j) (the neighbours are checked against rounding).
            let lo = lowerCut(g).value
            var a = 0, b = n
            while a < b {
                let mid = (a + b + 1) / 2
                if values[mid - 1] <= up(mid) { a = mid } else { b = mid - 1 }
            }
            var hi = ty / t
            for j in max(0, a - 1)...min(n, a + 1) { hi = max(hi, up(j)) }
            return (offset + lo, offset + hi)
        case .horvitzThompson:
            let (neg, pos) = signedHalves
            return (offset + lambda * neg + pos / lambda, offset + neg / lambda + lambda * pos)
        }
    }

    /// Λ*: the smallest Λ at which the lower bound falls to `reference`. 1 when the estimate is
    /// already at or below it (no gain to erase); +∞ when no Λ brings it there (every value,
    /// plus the offset, lies above the reference).
    public func breakdown(reference: Double) -> Double {
        let c = reference - offset
        let p = point - offset
        guard p.isFinite, c.isFinite else { return .nan }
        if p <= c { return 1 }
        switch normalization {
        case .hajek:
            // lower(γ) ≤ c  ⇔  ∃ j: γ (c·PB_j − PA_j) ≥ Σwv − c·Σw  (> 0), γ = Λ² − 1.
            let need = totalWeightedValue - c * totalWeight
            var best = Double.infinity
            for j in 1...count {
                let slack = c * prefixWeight[j] - prefixWeightedValue[j]
                if slack > 0 { best = min(best, need / slack) }
            }
            return (1 + best).squareRoot()
        case .horvitzThompson:
            // lower(Λ) = Λ·neg + pos/Λ, decreasing in Λ: the root of neg·Λ² − c·Λ + pos = 0 above 1.
            let (neg, pos) = signedHalves
            if neg == 0 { return c > 0 ? max(1, pos / c) : .infinity }
            let root = (c * c - 4 * neg * pos).squareRoot()
            return max(1, c >= 0 ? 2 * pos / (c + root) : (c - root) / (2 * neg))
        }
    }

    /// The worst case at Λ and its gradient: the lower bound L, dL/d log ŵ_i for every row (original
    /// order; the adversary's choice is held fixed, which is the derivative wherever that choice is
    /// unique), and the weights it puts on the rows (normalized for Hajek, as used for
    /// Horvitz-Thompson). This is what a robust objective maximizes (Kallus & Zhou 2018).
    public func worstCase(lambda: Double) -> (value: Double, gradient: [Double], weights: [Double]) {
        precondition(lambda >= 1, "Λ must be at least 1")
        let n = count
        var factor = [Double](repeating: 1, count: n)
        switch normalization {
        case .hajek:
            for i in 0..<lowerCut(lambda * lambda - 1).cut { factor[i] = lambda * lambda }
        case .horvitzThompson:
            for i in 0..<n { factor[i] = values[i] < 0 ? lambda : 1 / lambda }
        }
        var w = [Double](repeating: 0, count: n)
        for i in 0..<n { w[i] = factor[i] * weights[i] }
        if normalization == .hajek {
            let z = w.reduce(0, +)
            for i in 0..<n { w[i] /= z }
        }
        var value = 0.0
        for i in 0..<n { value += w[i] * values[i] }
        var grad = [Double](repeating: 0, count: n), used = grad
        for i in 0..<n {
            let row = order[i]
            used[row] = w[i]
            grad[row] = normalization == .hajek ? w[i] * (values[i] - value) : w[i] * values[i]
        }
        return (offset + value, grad, used)
    }
}

/// Bounds at one Λ: the point bounds, and the percentile-bootstrap interval of the bounds
/// (the α/2 quantile of the bootstrap lower bounds, the 1−α/2 quantile of the upper bounds).
public struct SensitivityBound: Sendable, Hashable, Codable {
    public var lambda: Double
    public var lower: Double
    public var upper: Double
    /// The 95% interval's ends (nil without bootstrap).
    public var intervalLower: Double?
    public var intervalUpper: Double?

    public init(lambda: Double, lower: Double, upper: Double, intervalLower: Double? = nil, intervalUpper: Double? = nil) {
        self.lambda = lambda
        self.lower = lower
        self.upper = upper
        self.intervalLower = intervalLower
        self.intervalUpper = intervalUpper
    }

    /// Whether [lower, upper] (or the interval, when present) contains `x`.
    public func covers(_ x: Double) -> Bool {
        (intervalLower ?? lower) <= x && x <= (intervalUpper ?? upper)
    }
}

/// The sensitivity analysis of one estimate: its bounds over a grid of Λ and its breakdown value
/// Λ*, with the sampling uncertainty of both from a percentile bootstrap of the rows (and of
/// the f0 samples for V_DR), following Zhao, Small & Bhattacharya 2019: the interval at Λ runs
/// from the 2.5% quantile of the bootstrap lower bounds to the 97.5% quantile of the upper
/// bounds, and covers the value with 95% probability (asymptotically) whenever the sensitivity
/// model holds at Λ. The reference (FT's value) is held at its point estimate.
public struct SensitivityAnalysis: Sendable, Hashable, Codable {
    /// `.snipw` or `.dr` (the estimators the analysis covers: `Sensitivity.estimators`).
    public var estimator: Estimator
    /// The estimate at Λ = 1.
    public var point: Double
    /// What the gain is measured against (FT's value under the same estimator); nil: none given.
    public var reference: Double?
    public var bounds: [SensitivityBound]
    /// Λ*: the smallest Λ at which the lower bound falls to `reference` (1: no gain; +∞: never).
    public var breakdown: Double?
    /// The smallest Λ at which the 95% interval's lower end falls to `reference`: the breakdown
    /// value that also allows for sampling error (≤ `breakdown`).
    public var breakdownInterval: Double?
    /// Bootstrap replicates (0: point bounds only).
    public var replicates: Int

    public init(estimator: Estimator, point: Double, reference: Double?, bounds: [SensitivityBound], breakdown: Double?,
                breakdownInterval: Double?, replicates: Int) {
        self.estimator = estimator
        self.point = point
        self.reference = reference
        self.bounds = bounds
        self.breakdown = breakdown
        self.breakdownInterval = breakdownInterval
        self.replicates = replicates
    }

    /// The bounds at `lambda` when it is on the grid.
    public func bound(at lambda: Double) -> SensitivityBound? {
        bounds.first { abs($0.lambda - lambda) <= 1e-9 * max(1, lambda) }
    }
}

public enum Sensitivity {
    /// The estimators the analysis covers: the self-normalized IPW value and V_DR (whose residual
    /// term takes the run's normalization; V_OUT does not involve P^R and is carried as is).
    public static let estimators: [Estimator] = [.snipw, .dr]

    /// The grid every table shows: readable steps from 1 (no hidden confounding) to 10.
    public static let defaultGrid: [Double] = [1, 1.1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 7, 10]

    /// `count` values of Λ spaced evenly in log Λ from 1 to `maximum` (charts).
    public static func logGrid(maximum: Double, count: Int) -> [Double] {
        precondition(maximum >= 1 && count >= 2, "a grid needs Λ ≥ 1 and two points")
        return (0..<count).map { Foundation.exp(Foundation.log(maximum) * Double($0) / Double(count - 1)) }
    }

    /// Replicates of the percentile bootstrap by default.
    public static let defaultReplicates = 200

    /// The problem `estimator` poses on `inputs` (nil when it is not covered or has no finite rows).
    public static func problem(_ inputs: EstimatorInputs, estimator: Estimator) -> WeightedMeanBounds? {
        switch estimator {
        case .snipw:
            return WeightedMeanBounds(logRatios: Estimators.logRatios(inputs.logP, inputs.logPR), values: inputs.outcomes,
                                      normalization: .hajek)
        case .dr:
            guard !inputs.sampleLogP.isEmpty else { return nil }
            let out = Estimators.out(sampleLogP: inputs.sampleLogP, sampleLogP0: inputs.sampleLogP0, sampleGhat: inputs.sampleGhat)
            guard out.value.isFinite else { return nil }
            return WeightedMeanBounds(logRatios: Estimators.logRatios(inputs.logP, inputs.logPR),
                                      values: zip(inputs.outcomes, inputs.ghat).map { $0 - $1 }, offset: out.value,
                                      normalization: inputs.normalization)
        case .ipw:
            return WeightedMeanBounds(logRatios: Estimators.logRatios(inputs.logP, inputs.logPR), values: inputs.outcomes,
                                      normalization: .horvitzThompson)
        case .out, .drResidual:
            return nil
        }
    }

    /// The analysis of `estimator` on `inputs` over `lambdas` (each ≥ 1), with `replicates`
    /// bootstrap replicates drawn from `seed` (0: point bounds only). Nil when the estimator is not
    /// covered or undefined on these inputs.
    public static func analyze(_ inputs: EstimatorInputs, estimator: Estimator, reference: Double?,
                               lambdas: [Double] = defaultGrid, replicates: Int = defaultReplicates,
                               seed: UInt64 = 0) -> SensitivityAnalysis? {
        guard let problem = problem(inputs, estimator: estimator), problem.point.isFinite else { return nil }
        var rows = lambdas.map { l -> SensitivityBound in
            let b = problem.bounds(lambda: l)
            return SensitivityBound(lambda: l, lower: b.lower, upper: b.upper)
        }
        let reference = reference.flatMap { $0.isFinite ? $0 : nil }
        let breakdown = reference.map { problem.breakdown(reference: $0) }
        var breakdownInterval: Double?
        if replicates > 0 {
            // Each replicate is used as it is drawn (its bounds at every Λ and its Λ*) and then
            // dropped, so memory stays at one replicate whatever their number.
            let k = orderStatistic(0.025, replicates)
            var lows = [[Double]](repeating: [], count: lambdas.count), highs = lows
            for li in lambdas.indices {
                lows[li].reserveCapacity(replicates)
                highs[li].reserveCapacity(replicates)
            }
            var star: [Double] = []
            star.reserveCapacity(replicates)
            forEachReplicate(problem, inputs, estimator: estimator, replicates: replicates, seed: seed) { r in
                for (li, l) in lambdas.enumerated() {
                    let b = r.bounds(lambda: l)
                    if b.lower.isFinite && b.upper.isFinite {
                        lows[li].append(b.lower)
                        highs[li].append(b.upper)
                    }
                }
                if let c = reference {
                    let s = r.breakdown(reference: c)
                    if !s.isNaN { star.append(s) }
                }
            }
            for li in lambdas.indices where lows[li].count >= k {
                lows[li].sort()
                highs[li].sort()
                rows[li].intervalLower = lows[li][k - 1]
                rows[li].intervalUpper = highs[li][highs[li].count - k]
            }
            // The interval's lower end at Λ is the k-th smallest replicate lower bound, which is ≤ c
            // exactly when k replicates have broken down by Λ: the k-th smallest replicate Λ*.
            if reference != nil && star.count >= k {
                star.sort()
                breakdownInterval = star[k - 1]
            }
        }
        return SensitivityAnalysis(estimator: estimator, point: problem.point, reference: reference, bounds: rows,
                                   breakdown: breakdown, breakdownInterval: breakdownInterval, replicates: replicates)
    }

    /// The 1-based rank of the q-quantile among `count` sorted values (at least 1).
    static func orderStatistic(_ q: Double, _ count: Int) -> Int { max(1, Int((q * Double(count)).rounded(.up))) }

    /// `replicates` resamples of the rows (and, for V_DR, of the f0 samples, re-estimating V_OUT),
    /// each as multinomial counts on the already sorted problem.
    static func bootstrap(_ problem: WeightedMeanBounds, _ inputs: EstimatorInputs, estimator: Estimator,
                          replicates: Int, seed: UInt64) -> [WeightedMeanBounds] {
        var out: [WeightedMeanBounds] = []
        out.reserveCapacity(replicates)
        forEachReplicate(problem, inputs, estimator: estimator, replicates: replicates, seed: seed) { out.append($0) }
        return out
    }

    /// The replicates of `bootstrap`, one at a time, in the same order from the same draws.
    static func forEachReplicate(_ problem: WeightedMeanBounds, _ inputs: EstimatorInputs, estimator: Estimator,
                                 replicates: Int, seed: UInt64, _ body: (WeightedMeanBounds) -> Void) {
        var rng = SeededRandom(seed: SeededRandom.derivedSeed(seed, "sensitivity-bootstrap/" + estimator.rawValue))
        let n = problem.count
        let m = inputs.sampleLogP.count
        let sampleLogRatios = estimator == .dr ? Estimators.logRatios(inputs.sampleLogP, inputs.sampleLogP0) : []
        // The f0 samples' weights do not change between replicates, only their counts.
        let shift = sampleLogRatios.max() ?? 0
        let sampleWeights = sampleLogRatios.map { Foundation.exp($0 - shift) }
        var counts = [Double](repeating: 0, count: n)
        var sampleCounts = [Double](repeating: 0, count: estimator == .dr ? m : 0)
        for _ in 0..<replicates {
            for i in 0..<n { counts[i] = 0 }
            for _ in 0..<n { counts[rng.int(below: n)] += 1 }
            var offset = problem.offset
            if estimator == .dr && m > 0 {
                for j in 0..<m { sampleCounts[j] = 0 }
                for _ in 0..<m { sampleCounts[rng.int(below: m)] += 1 }
                var z = 0.0, s = 0.0
                for j in 0..<m where sampleCounts[j] > 0 {
                    let w = sampleCounts[j] * sampleWeights[j]
                    z += w
                    s += w * inputs.sampleGhat[j]
                }
                offset = s / z
            }
            body(problem.reweighted(counts: counts, offset: offset))
        }
    }
}
