import Foundation

/// Histogram of log importance ratios log w = logP^f(X) − logP^R(X) (natural log of the
/// un-normalized weight P^f/P^R, so 0 means "f and P^R agree on this text" whatever the
/// batch size), over FIXED bin edges so histograms of different epochs compare bin for bin.
///
/// Bin k covers [edges[k], edges[k+1]); the first bin also takes everything below edges[0]
/// (including −∞, a weight of 0) and the last bin everything at or above its lower edge
/// (including +∞). So every non-NaN ratio is counted once: Σ counts + nanCount = n.
public struct LogRatioHistogram: Sendable, Hashable, Codable {
    /// −6, −5.5, ..., 6: 24 bins of width ½ (a factor e^{½} ≈ 1.65 in the weight); the ends
    /// e^{±6} ≈ 403 are far beyond the default overlap threshold log 20 ≈ 3.
    public static let defaultEdges: [Double] = (0...24).map { -6 + 0.5 * Double($0) }

    public var edges: [Double]
    public var counts: [Int]
    public var nanCount: Int

    public init(logRatios: [Double], edges: [Double] = LogRatioHistogram.defaultEdges) {
        precondition(edges.count >= 2, "a histogram needs at least one bin")
        for k in edges.indices.dropFirst() { precondition(edges[k - 1] < edges[k], "histogram edges must increase") }
        self.edges = edges
        var c = [Int](repeating: 0, count: edges.count - 1)
        var nan = 0
        for x in logRatios {
            if x.isNaN { nan += 1; continue }
            // The last edge index e with edges[e] ≤ x, clamped into 0..<bins.
            var lo = 0, hi = edges.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if edges[mid] <= x { lo = mid } else { hi = mid - 1 }
            }
            c[min(lo, c.count - 1)] += 1
        }
        counts = c
        nanCount = nan
    }

    public var binCount: Int { counts.count }
    public var total: Int { counts.reduce(0, +) + nanCount }
}

/// Overlap alarm: the share of rows whose importance ratio is extreme, |log w| > threshold.
/// NaN log-ratios count as extreme.
public struct OverlapAlarm: Sendable, Hashable, Codable {
    /// log 20: a text 20 times more (or less) likely under f than under P^R.
    public static let defaultThreshold = Foundation.log(20.0)
    public static let defaultLimit = 0.05

    public var threshold: Double
    public var limit: Double
    public var count: Int
    public var share: Double
    /// share > limit.
    public var triggered: Bool

    public init(logRatios: [Double], threshold: Double = OverlapAlarm.defaultThreshold, limit: Double = OverlapAlarm.defaultLimit) {
        self.threshold = threshold
        self.limit = limit
        count = logRatios.filter { !(abs($0) <= threshold) }.count
        share = logRatios.isEmpty ? 0 : Double(count) / Double(logRatios.count)
        triggered = share > limit
    }
}

/// How many rows a set of importance weights effectively leaves (Kish's ESS = (Σw)²/Σw²), and
/// whether estimates weighted by them mean anything.
///
/// The rule: an estimate that weights `count` rows needs an ESS of at least `minFraction` of
/// them and at least `minimum` rows. Why: in a simulation of the Hajek estimator with lognormal
/// weights (500 rows, `EstimateReliabilityTests`), the 95% interval covers the truth in 94.6%
/// of samples the rule passes, 81% of those it fails, and 50% when the ESS is under 1% of n.
/// An ESS of 5% of n also means E_{P^R}[w²] = E_f[w] ≈ 20: a text of f is on average 20 times
/// likelier under f than under P^R, so the estimate rests on the tail of the weights, and a
/// language model's tail is heavier than lognormal (mass that left the data's support does not
/// show at all).
/// The floor of 10 rows: with fewer, the interval missed the truth in 30-40% of samples at
/// every n from 100 to 6,000 rows.
public struct EffectiveSampleSize: Sendable, Hashable, Codable {
    public static let minFraction = 0.05
    public static let minimum = 10.0

    public var ess: Double
    public var count: Int

    public init(ess: Double, count: Int) {
        self.ess = ess
        self.count = count
    }

    /// The ESS of the weights exp(logWeights).
    public init(logWeights: [Double]) {
        self.init(ess: Diagnostics.effectiveSampleSize(logWeights: logWeights), count: logWeights.count)
    }

    /// ess / count.
    public var fraction: Double { count > 0 ? ess / Double(count) : .nan }

    /// Whether weighted estimates over these rows can be trusted (see the type's rule).
    public var enough: Bool { ess.isFinite && ess >= max(Self.minFraction * Double(count), Self.minimum) }
}

/// Everything the Weights panel shows about one set of importance weights.
public struct WeightSummary: Sendable, Hashable, Codable {
    public static let defaultQuantileLevels: [Double] = [0, 0.05, 0.25, 0.5, 0.75, 0.95, 1]

    public var count: Int
    /// (Σw)²/Σw² over all rows (the global ESS that CausalPO.docc/ValueEstimation.md, "Effective sample size, global and in-batch", warns can collapse unseen).
    public var ess: Double
    /// ess / n.
    public var essFraction: Double
    public var batchSize: Int
    /// ESS of each consecutive batch of `batchSize` rows (the last may be shorter).
    public var batchESS: [Double]
    /// Mean over batches of ESS_b / (rows in batch b): the in-batch view.
    public var meanBatchESSFraction: Double
    /// max_i w_i / Σ w: 1/n when all weights are equal, 1 when one row has them all.
    public var maxWeightShare: Double
    public var quantileLevels: [Double]
    /// Quantiles of log w = logP^f − logP^R at `quantileLevels`.
    public var logRatioQuantiles: [Double]
    public var histogram: LogRatioHistogram
    public var overlap: OverlapAlarm

    /// The global ESS with its row count and the rule of what is enough.
    public var effectiveSampleSize: EffectiveSampleSize { EffectiveSampleSize(ess: ess, count: count) }
}

public enum Diagnostics {
    // MARK: weights

    /// Effective sample size (Σw)²/Σw² of non-negative weights: n for equal weights, 1 when one
    /// weight holds everything. 0 for no weights or all zero.
    public static func effectiveSampleSize(weights w: [Double]) -> Double {
        let s = w.reduce(0, +)
        let s2 = w.reduce(0) { $0 + $1 * $1 }
        return s2 > 0 ? s * s / s2 : 0
    }

    /// The ESS of the weights exp(logWeights), computed after a max-shift (it is scale-free).
    public static func effectiveSampleSize(logWeights lw: [Double]) -> Double {
        guard let m = lw.max(), m.isFinite else { return lw.isEmpty ? 0 : .nan }
        return effectiveSampleSize(weights: lw.map { Foundation.exp($0 - m) })
    }

    /// ESS of each consecutive batch of `batchSize` log-weights (the last batch may be shorter).
    public static func batchEffectiveSampleSizes(logWeights lw: [Double], batchSize: Int) -> [Double] {
        precondition(batchSize > 0, "batch size must be positive")
        return stride(from: 0, to: lw.count, by: batchSize).map {
            effectiveSampleSize(logWeights: Array(lw[$0..<min(lw.count, $0 + batchSize)]))
        }
    }

    /// The largest weight's share of the total, max w / Σ w, for weights exp(logWeights).
    public static func maxWeightShare(logWeights lw: [Double]) -> Double {
        guard let m = lw.max(), m.isFinite else { return .nan }
        return 1 / lw.reduce(0) { $0 + Foundation.exp($1 - m) }
    }

    /// Linearly interpolated sample quantiles (R's type 7: position (n − 1)·p in the sorted
    /// data). NaNs are ignored; an empty input gives NaNs.
    public static func quantiles(_ x: [Double], at levels: [Double]) -> [Double] {
        let s = x.filter { !$0.isNaN }.sorted()
        guard !s.isEmpty else { return levels.map { _ in .nan } }
        return levels.map { p in
            precondition((0...1).contains(p), "quantile levels must be in [0, 1]")
            let h = Double(s.count - 1) * p
            let lo = Int(h.rounded(.down))
            let hi = min(lo + 1, s.count - 1)
            let frac = h - Double(lo)
            return frac == 0 ? s[lo] : s[lo] + frac * (s[hi] - s[lo])
        }
    }

    /// The Weights panel's numbers for the rows' log-probabilities under f and P^R.
    public static func weightSummary(logP: [Double], logPR: [Double], batchSize: Int,
                                     quantileLevels: [Double] = WeightSummary.defaultQuantileLevels,
                                     histogramEdges: [Double] = LogRatioHistogram.defaultEdges,
                                     overlapThreshold: Double = OverlapAlarm.defaultThreshold,
                                     overlapLimit: Double = OverlapAlarm.defaultLimit) -> WeightSummary {
        let lr = Estimators.logRatios(logP, logPR)
        let n = lr.count
        let ess = effectiveSampleSize(logWeights: lr)
        let batches = batchEffectiveSampleSizes(logWeights: lr, batchSize: batchSize)
        var fractions: [Double] = []
        for (b, e) in batches.enumerated() { fractions.append(e / Double(min(batchSize, n - b * batchSize))) }
        return WeightSummary(
            count: n, ess: ess, essFraction: n > 0 ? ess / Double(n) : .nan, batchSize: batchSize, batchESS: batches,
            meanBatchESSFraction: fractions.isEmpty ? .nan : fractions.reduce(0, +) / Double(fractions.count),
            maxWeightShare: maxWeightShare(logWeights: lr), quantileLevels: quantileLevels,
            logRatioQuantiles: quantiles(lr, at: quantileLevels), histogram: LogRatioHistogram(logRatios: lr, edges: histogramEdges),
            overlap: OverlapAlarm(logRatios: lr, threshold: overlapThreshold, limit: overlapLimit))
    }

    // MARK: divergence

    /// KL(f ‖ FT) = E_{X∼f}[logP^f(X) − logP^FT(X)] estimated from samples of f: the mean of the
    /// per-sample differences, with a CLT interval (sd/√n). Exactly 0 when f = FT; positive in
    /// expectation otherwise (a single sample set can dip below 0 by chance).
    public static func klDivergence(logPF: [Double], logPFT: [Double]) -> Estimate {
        let d = Estimators.logRatios(logPF, logPFT)
        return meanEstimate(d)
    }

    /// Mean with a CLT interval; NaN SE for one value.
    public static func meanEstimate(_ x: [Double]) -> Estimate {
        let n = x.count
        guard n > 0 else { return .undefined }
        let mean = x.reduce(0, +) / Double(n)
        guard n > 1 else { return Estimate(value: mean, standardError: .nan) }
        let ss = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return Estimate(value: mean, standardError: (ss / Double(n - 1) / Double(n)).squareRoot())
    }

    // MARK: attributes

    /// Per-attribute learned-vs-true effects from a rows × A 0/1 attribute matrix:
    /// `naive` = the OLS coefficient (with intercept) of Y on the attributes, i.e. what fitting
    /// the logged data believes; `learned` = the same OLS of ĝ's predictions (the effect ĝ
    /// implies); `truth` = the given true effect. Coefficients that the design cannot identify
    /// (collinear attributes, e.g. every text having exactly k of them) are NaN.
    public static func attributeEffects(attributes: [[Double]], outcomes: [Double], predictions: [Double],
                                        trueEffects: [Double]? = nil) -> [AttributeEffect] {
        precondition(attributes.count == outcomes.count && outcomes.count == predictions.count,
                     "attributes, outcomes and predictions need one row each")
        let a = attributes.first?.count ?? 0
        if let t = trueEffects { precondition(t.count == a, "one true effect per attribute") }
        let naive = ols(predictors: attributes, response: outcomes)
        let learned = ols(predictors: attributes, response: predictions)
        return (0..<a).map { j in
            AttributeEffect(attribute: j, naive: naive.coefficient(j + 1), learned: learned.coefficient(j + 1),
                            truth: trueEffects?[j])
        }
    }

    /// Ordinary least squares of `response` on an intercept and the columns of `predictors`
    /// (rows × p), through the eigendecomposition of ZᵀZ (Z = [1, X]): the minimum-norm
    /// solution, with coefficients that lie along a null direction of Z reported as NaN.
    /// SE_j = √(σ̂² (ZᵀZ)⁺_jj), σ̂² = RSS/(n − rank).
    public static func ols(predictors x: [[Double]], response y: [Double]) -> OLSFit {
        let n = x.count
        precondition(n == y.count, "one response per row")
        let p = (x.first?.count ?? 0) + 1
        var ztz = [[Double]](repeating: [Double](repeating: 0, count: p), count: p)
        var zty = [Double](repeating: 0, count: p)
        for i in 0..<n {
            precondition(x[i].count == p - 1, "every row needs the same number of predictors")
            let z = [1] + x[i]
            for j in 0..<p {
                zty[j] += z[j] * y[i]
                for k in j..<p { ztz[j][k] += z[j] * z[k] }
            }
        }
        for j in 0..<p { for k in 0..<j { ztz[j][k] = ztz[k][j] } }
        let (values, vectors) = symmetricEigen(ztz)
        let top = values.map(abs).max() ?? 0
        let cutoff = top * 1e-10
        let kept = values.indices.filter { values[$0] > cutoff }
        let null = values.indices.filter { values[$0] <= cutoff }
        // (ZᵀZ)⁺ = Σ_kept v vᵀ / λ.
        var pinv = [[Double]](repeating: [Double](repeating: 0, count: p), count: p)
        for e in kept {
            for j in 0..<p { for k in 0..<p { pinv[j][k] += vectors[e][j] * vectors[e][k] / values[e] } }
        }
        var b = (0..<p).map { j in (0..<p).reduce(0) { $0 + pinv[j][$1] * zty[$1] } }
        var rss = 0.0
        for i in 0..<n {
            var f = b[0]
            for j in 1..<p { f += b[j] * x[i][j - 1] }
            rss += (y[i] - f) * (y[i] - f)
        }
        let df = n - kept.count
        let sigma2 = df > 0 ? rss / Double(df) : .nan
        var se = (0..<p).map { (sigma2 * pinv[$0][$0]).squareRoot() }
        for j in 0..<p where null.contains(where: { abs(vectors[$0][j]) > 1e-8 }) {
            b[j] = .nan
            se[j] = .nan
        }
        return OLSFit(coefficients: b, standardErrors: se, residualVariance: sigma2, rank: kept.count)
    }

    /// Standardized mean differences of each attribute between trait groups C = +1 and C = −1
    /// (rows with other trait values are ignored): (mean₊ − mean₋) / √((s₊² + s₋²)/2), with
    /// n − 1 sample variances. Positive: the attribute is more common among C = +1 readers.
    /// ±∞ when both groups are constant but differ, 0 when they are constant and equal, NaN
    /// when a group has fewer than two rows.
    public static func standardizedMeanDifferences(attributes: [[Double]], trait: [Int]) -> [Double] {
        precondition(attributes.count == trait.count, "one trait value per row")
        let a = attributes.first?.count ?? 0
        let plus = attributes.indices.filter { trait[$0] == 1 }
        let minus = attributes.indices.filter { trait[$0] == -1 }
        guard plus.count > 1, minus.count > 1 else { return [Double](repeating: .nan, count: a) }
        func meanVar(_ rows: [Int], _ j: Int) -> (Double, Double) {
            let m = rows.reduce(0) { $0 + attributes[$1][j] } / Double(rows.count)
            let v = rows.reduce(0) { $0 + (attributes[$1][j] - m) * (attributes[$1][j] - m) } / Double(rows.count - 1)
            return (m, v)
        }
        return (0..<a).map { j in
            let (mp, vp) = meanVar(plus, j)
            let (mm, vm) = meanVar(minus, j)
            let sd = ((vp + vm) / 2).squareRoot()
            if sd == 0 { return mp == mm ? 0 : (mp > mm ? .infinity : -.infinity) }
            return (mp - mm) / sd
        }
    }

    /// Pearson's correlation of `x` and `y` (equal lengths); NaN when either is constant or
    /// there are fewer than two pairs. Centered sums, so large offsets do not cancel digits.
    public static func correlation(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count, "one y per x")
        let n = x.count
        guard n > 1 else { return .nan }
        let mx = x.reduce(0, +) / Double(n), my = y.reduce(0, +) / Double(n)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<n {
            let dx = x[i] - mx, dy = y[i] - my
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        }
        guard sxx > 0, syy > 0 else { return .nan }
        return max(-1, min(1, sxy / (sxx * syy).squareRoot()))
    }

    /// Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations: returns the
    /// eigenvalues and the eigenvectors (vectors[e] belongs to values[e]).
    static func symmetricEigen(_ m: [[Double]]) -> (values: [Double], vectors: [[Double]]) {
        let p = m.count
        var a = m
        var v = (0..<p).map { i in (0..<p).map { $0 == i ? 1.0 : 0.0 } }   // columns are eigenvectors
        let scale = (0..<p).reduce(0.0) { s, i in (0..<p).reduce(s) { $0 + a[i][$1] * a[i][$1] } }
        for _ in 0..<100 {
            var off = 0.0
            for i in 0..<p { for j in (i + 1)..<p { off += a[i][j] * a[i][j] } }
            if off <= 1e-30 * max(scale, 1e-300) { break }
            for i in 0..<p {
                for j in (i + 1)..<p where a[i][j] != 0 {
                    let theta = (a[j][j] - a[i][i]) / (2 * a[i][j])
                    let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot()
                    let s = t * c
                    for k in 0..<p {
                        let aki = a[k][i], akj = a[k][j]
                        a[k][i] = c * aki - s * akj
                        a[k][j] = s * aki + c * akj
                    }
                    for k in 0..<p {
                        let aik = a[i][k], ajk = a[j][k]
                        a[i][k] = c * aik - s * ajk
                        a[j][k] = s * aik + c * ajk
                    }
                    for k in 0..<p {
                        let vki = v[k][i], vkj = v[k][j]
                        v[k][i] = c * vki - s * vkj
                        v[k][j] = s * vki + c * vkj
                    }
                }
            }
        }
        let values = (0..<p).map { a[$0][$0] }
        let vectors = (0..<p).map { e in (0..<p).map { v[$0][e] } }
        return (values, vectors)
    }
}

/// An OLS fit: coefficients[0] is the intercept, coefficients[j] belongs to predictor column j − 1.
public struct OLSFit: Sendable, Hashable, Codable {
    public var coefficients: [Double]
    public var standardErrors: [Double]
    /// σ̂² = RSS/(n − rank).
    public var residualVariance: Double
    public var rank: Int

    public var rankDeficient: Bool { rank < coefficients.count }

    /// Coefficient j (0 = intercept) with its normal 95% interval.
    public func coefficient(_ j: Int) -> Estimate { Estimate(value: coefficients[j], standardError: standardErrors[j]) }
}

/// One attribute's effect three ways (see `Diagnostics.attributeEffects`).
public struct AttributeEffect: Sendable, Hashable, Codable {
    public var attribute: Int
    /// OLS coefficient of the observed outcomes on the attributes (with intercept), with its SE.
    public var naive: Estimate
    /// The same OLS of ĝ's predictions: the effect ĝ has learned.
    public var learned: Estimate
    /// The true effect, when known (worlds).
    public var truth: Double?

    public init(attribute: Int, naive: Estimate, learned: Estimate, truth: Double?) {
        self.attribute = attribute
        self.naive = naive
        self.learned = learned
        self.truth = truth
    }
}
