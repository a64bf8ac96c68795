import Foundation

/// A point estimate with its standard error and 95% confidence interval.
public struct Estimate: Sendable, Hashable, Codable {
    /// z_{0.975}, the normal quantile of a two-sided 95% interval.
    public static let z95 = 1.959_963_984_540_054

    public var value: Double
    public var standardError: Double
    public var lower: Double
    public var upper: Double

    /// (lower, upper).
    public var ci95: (Double, Double) { (lower, upper) }

    /// value ± z95 · standardError.
    public init(value: Double, standardError: Double) {
        self.value = value
        self.standardError = standardError
        lower = value - Self.z95 * standardError
        upper = value + Self.z95 * standardError
    }

    public init(value: Double, standardError: Double, lower: Double, upper: Double) {
        self.value = value
        self.standardError = standardError
        self.lower = lower
        self.upper = upper
    }

    /// An estimate of nothing (no rows): every field NaN.
    public static let undefined = Estimate(value: .nan, standardError: .nan)

    /// Whether the interval contains `x`.
    public func covers(_ x: Double) -> Bool { lower <= x && x <= upper }
}

/// Estimators of a fixed policy's value V(f) = E_{X∼P^f}[g(X)] from held-out rows and f0
/// samples (CausalPO.docc/ValueEstimation.md), each returning one estimate with a 95% interval (the shape of
/// st-tech/zr-obp's `estimate_policy_value` + `estimate_interval`).
///
/// Inputs are sequence log-probabilities; weights are formed in log space with a max-shift,
/// so no exp overflows before the final (scale-free or single) rescaling:
///   rows:      w_i = exp(logP^f(X_i) − logP^R(X_i))
///   f0 samples: w̃_j = exp(logP^f(X̃_j) − logP^{f0}(X̃_j))
public enum Estimators {
    /// V_IPW, Horvitz-Thompson: (1/n) Σ_i w_i Y_i. Standard error by the plain CLT:
    /// sd(w_i Y_i)/√n with the n − 1 sample variance.
    public static func ipw(logP: [Double], logPR: [Double], outcomes: [Double]) -> Estimate {
        weightedMean(logRatios: logRatios(logP, logPR), values: outcomes, normalization: .horvitzThompson)
    }

    /// V_SNIPW, Hajek (self-normalized): Σ_i w_i Y_i / Σ_i w_i. Standard error by the delta
    /// method for a ratio of means: with normalized weights w̄_i = w_i/Σw,
    /// SE² = n/(n−1) · Σ_i w̄_i² (Y_i − V)².
    public static func snipw(logP: [Double], logPR: [Double], outcomes: [Double]) -> Estimate {
        weightedMean(logRatios: logRatios(logP, logPR), values: outcomes, normalization: .hajek)
    }

    /// V_OUT, self-normalized over the m f0 samples: Σ_j w̃_j ĝ(X̃_j) / Σ_j w̃_j, with the
    /// delta-method standard error of `snipw`. It measures ĝ's view of f: biased whenever ĝ is,
    /// and its SE covers only the sampling of the f0 texts (ĝ is treated as fixed), so its
    /// interval says nothing about ĝ's own error.
    public static func out(sampleLogP: [Double], sampleLogP0: [Double], sampleGhat: [Double]) -> Estimate {
        weightedMean(logRatios: logRatios(sampleLogP, sampleLogP0), values: sampleGhat, normalization: .hajek)
    }

    /// The DR residual term over the n rows: Σ_i w_i (Y_i − ĝ(X_i)) with Hajek weights
    /// (self-normalized; delta-method SE) or Horvitz-Thompson weights ((1/n) Σ; CLT SE).
    /// It is the correction that makes V_DR unbiased when ĝ is wrong; far from 0 means ĝ is
    /// biased on f's texts.
    public static func residualTerm(logP: [Double], logPR: [Double], outcomes: [Double], ghat: [Double],
                                    normalization: WeightNormalization = .hajek) -> Estimate {
        precondition(outcomes.count == ghat.count, "outcomes and ĝ must align")
        return weightedMean(logRatios: logRatios(logP, logPR), values: zip(outcomes, ghat).map { $0 - $1 },
                            normalization: normalization)
    }

    /// V_DR = residual term over the n rows (`residualTerm`, Hajek or Horvitz-Thompson per
    /// `normalization`) + V_OUT over the m f0 samples (`out`). ĝ(X_i) must be cross-fitted
    /// (or fitted on other data). SE² = SE_residual² + SE_OUT², which is the variance of the
    /// joint influence function only when the f0 samples are independent of the rows (given ĝ
    /// and f0): the lab draws them from scratch, or from prompts cut from the training texts,
    /// never from the held-out rows (a prompt cut from row i would tie that row's residual to
    /// its samples' ĝ and add a covariance this sum leaves out). ĝ is treated as fixed; with a
    /// cross-fitted ĝ its estimation error enters only at second order.
    public static func dr(logP: [Double], logPR: [Double], outcomes: [Double], ghat: [Double],
                          sampleLogP: [Double], sampleLogP0: [Double], sampleGhat: [Double],
                          normalization: WeightNormalization = .hajek) -> Estimate {
        let r = residualTerm(logP: logP, logPR: logPR, outcomes: outcomes, ghat: ghat, normalization: normalization)
        let o = out(sampleLogP: sampleLogP, sampleLogP0: sampleLogP0, sampleGhat: sampleGhat)
        return Estimate(value: r.value + o.value,
                        standardError: (r.standardError * r.standardError + o.standardError * o.standardError).squareRoot())
    }

    /// logP − logP0, elementwise.
    public static func logRatios(_ logP: [Double], _ logP0: [Double]) -> [Double] {
        precondition(logP.count == logP0.count, "log-probabilities of the policy and the reference must align")
        return zip(logP, logP0).map { $0 - $1 }
    }

    /// The shared core: Σ w_i v_i / Σ w_i (Hajek, delta-method SE) or (1/n) Σ w_i v_i
    /// (Horvitz-Thompson, CLT SE), with w_i = exp(logRatios_i) formed after a max-shift.
    /// Empty input gives `Estimate.undefined`; one row gives a value with a NaN SE.
    public static func weightedMean(logRatios lr: [Double], values v: [Double], normalization: WeightNormalization) -> Estimate {
        precondition(lr.count == v.count, "weights and values must align")
        let n = lr.count
        guard n > 0 else { return .undefined }
        guard let shift = lr.max(), shift.isFinite else { return .undefined }
        let e = lr.map { Foundation.exp($0 - shift) }   // in (0, 1], the largest is 1
        let nd = Double(n)
        switch normalization {
        case .hajek:
            let z = e.reduce(0, +)
            var value = 0.0
            for i in 0..<n { value += e[i] * v[i] }
            value /= z
            var s = 0.0
            for i in 0..<n {
                let a = e[i] / z * (v[i] - value)
                s += a * a
            }
            return Estimate(value: value, standardError: (nd / (nd - 1) * s).squareRoot())
        case .horvitzThompson:
            let scale = Foundation.exp(shift)
            var mean = 0.0
            for i in 0..<n { mean += e[i] * v[i] }
            mean /= nd
            var ss = 0.0
            for i in 0..<n { ss += (e[i] * v[i] - mean) * (e[i] * v[i] - mean) }
            let sd = (ss / (nd - 1)).squareRoot()
            return Estimate(value: scale * mean, standardError: scale * sd / nd.squareRoot())
        }
    }
}

/// What every estimator reads: the held-out rows under the policy f and under P^R, their
/// outcomes and cross-fitted ĝ, and the f0 samples under f and f0 with their ĝ.
public struct EstimatorInputs: Sendable {
    /// log P^f(X_i) of the held-out rows.
    public var logP: [Double]
    /// log P^R(X_i).
    public var logPR: [Double]
    /// Y_i, oriented so that larger is better.
    public var outcomes: [Double]
    /// ĝ(X_i), from a model that did not see the row.
    public var ghat: [Double]
    /// log P^f(X̃_j) of the f0 samples.
    public var sampleLogP: [Double]
    /// log P^{f0}(X̃_j).
    public var sampleLogP0: [Double]
    /// ĝ(X̃_j).
    public var sampleGhat: [Double]
    /// The weights of the DR residual term (the objective's normalization).
    public var normalization: WeightNormalization

    public init(logP: [Double], logPR: [Double], outcomes: [Double], ghat: [Double], sampleLogP: [Double],
                sampleLogP0: [Double], sampleGhat: [Double], normalization: WeightNormalization) {
        self.logP = logP
        self.logPR = logPR
        self.outcomes = outcomes
        self.ghat = ghat
        self.sampleLogP = sampleLogP
        self.sampleLogP0 = sampleLogP0
        self.sampleGhat = sampleGhat
        self.normalization = normalization
    }
}

/// The estimators every evaluation computes, in the order every table shows them (the shape of
/// zr-obp's estimator list: each one small value with one `estimate`, whose `Estimate` carries
/// its 95% interval). Evaluation, metrics.jsonl, summary.json, report.md, the dashboard's
/// compare view and checkpoints loop over `allCases`; adding an estimator is a new case here,
/// filling each switch below.
public enum Estimator: String, CaseIterable, Codable, Sendable, Hashable {
    case dr = "V_DR"
    case ipw = "V_IPW"
    case snipw = "V_SNIPW"
    case out = "V_OUT"
    case drResidual = "DR residual"

    /// The short name in tables and headers (one name per concept, everywhere).
    public var name: String { rawValue }

    /// The name with what it means, for report.md's column headers.
    public var longName: String {
        switch self {
        case .dr, .ipw, .snipw: return name
        case .out: return "V_OUT (outcome only)"
        case .drResidual: return "IPW residual Σw(Y−ĝ)"
        }
    }

    /// Whether it weights the held-out rows by P^f/P^R (and so rests on their ESS).
    public var weightsRows: Bool {
        switch self {
        case .dr, .ipw, .snipw, .drResidual: return true
        case .out: return false
        }
    }

    /// Whether it weights the f0 samples by P^f/P^{f0} (and so rests on their ESS).
    public var weightsSamples: Bool {
        switch self {
        case .dr, .out: return true
        case .ipw, .snipw, .drResidual: return false
        }
    }

    /// Whether it estimates the policy's value V(f) (the DR residual is a correction term).
    public var estimatesValue: Bool {
        switch self {
        case .dr, .ipw, .snipw, .out: return true
        case .drResidual: return false
        }
    }

    /// Its key in metrics.jsonl lines and checkpoints (unchanged since the first format).
    public var metricsKey: String {
        switch self {
        case .dr: return "vDR"
        case .ipw: return "vIPW"
        case .snipw: return "vSNIPW"
        case .out: return "vOUT"
        case .drResidual: return "drResidual"
        }
    }

    /// Its key in summary.json.
    public var summaryKey: String {
        switch self {
        case .dr: return "v_dr"
        case .ipw: return "v_ipw"
        case .snipw: return "v_snipw"
        case .out: return "v_out"
        case .drResidual: return "dr_residual"
        }
    }

    /// The estimate with its standard error and 95% interval.
    public func estimate(_ x: EstimatorInputs) -> Estimate {
        switch self {
        case .dr:
            return Estimators.dr(logP: x.logP, logPR: x.logPR, outcomes: x.outcomes, ghat: x.ghat, sampleLogP: x.sampleLogP,
                                 sampleLogP0: x.sampleLogP0, sampleGhat: x.sampleGhat, normalization: x.normalization)
        case .ipw: return Estimators.ipw(logP: x.logP, logPR: x.logPR, outcomes: x.outcomes)
        case .snipw: return Estimators.snipw(logP: x.logP, logPR: x.logPR, outcomes: x.outcomes)
        case .out: return Estimators.out(sampleLogP: x.sampleLogP, sampleLogP0: x.sampleLogP0, sampleGhat: x.sampleGhat)
        case .drResidual:
            return Estimators.residualTerm(logP: x.logP, logPR: x.logPR, outcomes: x.outcomes, ghat: x.ghat,
                                           normalization: x.normalization)
        }
    }
}

/// One estimate per estimator, in `Estimator.allCases` order. Encoded flat into the enclosing
/// JSON object, one key per estimator (`Estimator.metricsKey`); an estimator missing from what
/// is decoded (added after the file was written) reads as `Estimate.undefined`.
public struct Estimates: Sendable, Hashable, Codable {
    private var values: [Estimator: Estimate]

    public init(_ values: [Estimator: Estimate] = [:]) {
        self.values = values
    }

    /// Every estimator applied to `inputs`.
    public init(_ inputs: EstimatorInputs) {
        values = Dictionary(uniqueKeysWithValues: Estimator.allCases.map { ($0, $0.estimate(inputs)) })
    }

    public subscript(_ estimator: Estimator) -> Estimate {
        get { values[estimator] ?? .undefined }
        set { values[estimator] = newValue }
    }

    /// (estimator, estimate) in `Estimator.allCases` order.
    public var all: [(estimator: Estimator, estimate: Estimate)] { Estimator.allCases.map { ($0, self[$0]) } }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ e: Estimator) { stringValue = e.metricsKey }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        values = [:]
        for e in Estimator.allCases {
            if let v = try c.decodeIfPresent(Estimate.self, forKey: Key(e)) { values[e] = v }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for e in Estimator.allCases {
            if let v = values[e] { try c.encode(v, forKey: Key(e)) }
        }
    }
}

/// Which estimates of one evaluation rest on enough effective rows to mean anything
/// (`EffectiveSampleSize.enough`): the estimators that weight the held-out rows need enough
/// effective rows, those that weight the f0 samples enough effective samples.
public struct EstimateReliability: Sendable, Hashable {
    /// The held-out rows' weights P^f/P^R.
    public var rows: EffectiveSampleSize
    /// The f0 samples' weights P^f/P^{f0} (nil: not measured, as in evaluations saved before).
    public var samples: EffectiveSampleSize?

    public init(rows: EffectiveSampleSize, samples: EffectiveSampleSize?) {
        self.rows = rows
        self.samples = samples
    }

    public func isReliable(_ e: Estimator) -> Bool {
        (!e.weightsRows || rows.enough) && (!e.weightsSamples || samples?.enough ?? true)
    }

    /// The value estimators that are not reliable, in `Estimator.allCases` order.
    public var unreliable: [Estimator] { Estimator.allCases.filter { $0.estimatesValue && !isReliable($0) } }

    /// "V_DR, V_IPW, V_SNIPW unreliable: held-out ESS 6.2 of 500 rows (1.2%) is below 5% of them
    /// (and 10)"; nil when every estimate is reliable.
    public var reason: String? {
        let bad = unreliable
        guard !bad.isEmpty else { return nil }
        var why: [String] = []
        if !rows.enough { why.append(Self.describe(rows, "held-out ESS", "rows")) }
        if let s = samples, !s.enough { why.append(Self.describe(s, "f0 ESS", "samples")) }
        return bad.map(\.name).joined(separator: ", ") + " unreliable: " + why.joined(separator: "; ")
            + String(format: " (needs %.0f%% of them and at least %.0f): the weights rest on a few texts", 100 * EffectiveSampleSize.minFraction,
                     EffectiveSampleSize.minimum)
    }

    static func describe(_ e: EffectiveSampleSize, _ what: String, _ unit: String) -> String {
        String(format: "%@ %.1f of %d %@ (%.1f%%)", what, e.ess, e.count, unit, 100 * e.fraction)
    }
}
