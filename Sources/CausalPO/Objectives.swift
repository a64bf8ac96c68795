import Foundation

/// The methods cpo-tui compares (CausalPO.docc/Methods.md), named exactly as in the UI and the reports.
///
/// A method is its case, its `spec` (what it trains on, whether it trains, which options it
/// reads) and its formula in `Objectives.evaluate`. Both are exhaustive switches, so a new case
/// is refused by the compiler until it has filled both; the Lab builds every objective's inputs
/// from the `spec` and never looks at the name.
public enum Method: String, CaseIterable, Codable, Sendable, Hashable {
    case ft = "FT"
    case ooRLHF = "OO-RLHF"
    case cpo = "CPO"
    case drCPO = "DR-CPO"
    case filteredSFT = "filtered-SFT"
    case rwr = "RWR"
    case dpo = "DPO"

    /// What the method trains on, whether it trains, and which options it reads.
    public var spec: MethodDescription {
        switch self {
        case .ft:
            return MethodDescription(role: .reference, rows: .none, f0Samples: false, pairs: .none,
                                     treatsOutcomesAsCausal: false, options: [])
        case .ooRLHF:
            return MethodDescription(role: .trained, rows: .none, f0Samples: true, pairs: .none,
                                     treatsOutcomesAsCausal: false, options: [])
        case .cpo:
            return MethodDescription(role: .trained, rows: .all, f0Samples: false, pairs: .none,
                                     treatsOutcomesAsCausal: false, options: [.normalization, .clip])
        case .drCPO:
            return MethodDescription(role: .trained, rows: .all, f0Samples: true, pairs: .none,
                                     treatsOutcomesAsCausal: false, options: [.normalization, .clip])
        case .filteredSFT:
            return MethodDescription(role: .trained, rows: .topQuantile, f0Samples: false, pairs: .none,
                                     treatsOutcomesAsCausal: true, options: [.filterQuantile])
        case .rwr:
            return MethodDescription(role: .trained, rows: .all, f0Samples: false, pairs: .none,
                                     treatsOutcomesAsCausal: true, options: [.rwrTemperature])
        case .dpo:
            return MethodDescription(role: .trained, rows: .all, f0Samples: false, pairs: .byOutcome,
                                     treatsOutcomesAsCausal: true, options: [.dpoBeta])
        }
    }

    /// The reference: the model every method starts from, the P^R estimate and the f0
    /// generator. It is evaluated but never trained.
    public static let reference = Method.ft

    public var role: MethodDescription.Role { spec.role }
    /// Whether the method trains (every method but the reference).
    public var trains: Bool { spec.role == .trained }
    /// Methods that treat observed outcomes as if they were causal (CausalPO.docc/Background.md, "The paper").
    public var isAssociationBaseline: Bool { spec.treatsOutcomesAsCausal }
}

/// What a method is, in the terms the Lab needs to train it: which inputs its objective reads
/// and which options change it. Every field is plain data, so the Lab's input builder switches
/// over these enums, never over method names.
public struct MethodDescription: Sendable, Hashable {
    public enum Role: Sendable, Hashable {
        /// FT: the start point, P^R and f0; evaluated, never trained.
        case reference
        /// Trained from its own copy of the reference.
        case trained
    }

    /// Which logged training rows the objective reads.
    public enum Rows: Sendable, Hashable {
        /// None: the rows only set the pace (one step per batch of rows).
        case none
        /// Every training row (randomized, or the observational log with `--design observational`).
        case all
        /// The rows whose outcome is in the top `filterQuantile` of the training set
        /// (`Objectives.topQuantileSelection`).
        case topQuantile
    }

    /// How the batch's rows are paired.
    public enum Pairs: Sendable, Hashable {
        case none
        /// Every (chosen, rejected) pair of the batch's rows with chosen's outcome higher
        /// (`Objectives.outcomeRankedPairs`).
        case byOutcome
    }

    public var role: Role
    public var rows: Rows
    /// Whether each step also reads f0 samples scored by ĝ, as many as the batch has rows
    /// (CausalPO.docc/Methods.md, "DR-CPO and the f0 samples").
    public var f0Samples: Bool
    public var pairs: Pairs
    /// Association baselines (CausalPO.docc/Background.md, "The paper"): observed outcomes treated as if causal.
    public var treatsOutcomesAsCausal: Bool
    /// The objective options its formula reads; the others leave it unchanged. (The token-level
    /// terms, `entropyBonus` and `klToFT`, apply to every trained method.)
    public var options: Set<ObjectiveOption>

    /// Whether a step forwards any logged rows through the policy.
    public var readsRows: Bool {
        switch rows {
        case .none: return false
        case .all, .topQuantile: return true
        }
    }

    public init(role: Role, rows: Rows, f0Samples: Bool, pairs: Pairs, treatsOutcomesAsCausal: Bool,
                options: Set<ObjectiveOption>) {
        self.role = role
        self.rows = rows
        self.f0Samples = f0Samples
        self.pairs = pairs
        self.treatsOutcomesAsCausal = treatsOutcomesAsCausal
        self.options = options
    }
}

/// The settings of `ObjectiveOptions` that change an objective's formula (the token-level terms
/// are separate: `Objectives.tokenTermCoefficients`).
public enum ObjectiveOption: String, CaseIterable, Sendable, Hashable {
    case normalization, clip, filterQuantile, rwrTemperature, dpoBeta
}

/// How importance weights are normalized within a batch (CausalPO.docc/Methods.md, "Importance weights").
public enum WeightNormalization: String, Codable, Sendable, Hashable {
    /// Self-normalized: w_i = softmax_i(logP^f − logP^R). At f = P^R every weight is 1/B.
    case hajek
    /// Un-normalized: w_i = exp(logP^f − logP^R) / B.
    case horvitzThompson = "horvitz-thompson"
}

/// Options shared by the objectives; each extra is off by default.
public struct ObjectiveOptions: Codable, Sendable, Hashable {
    public var normalization: WeightNormalization
    /// PPO-style clipping of the ratio r_i (1 = unchanged: B·w_i for Hajek, e^{logP−logP^R}
    /// for Horvitz-Thompson) to [1−ε, 1+ε]; nil = off. A clipped row keeps its share of the
    /// value but stops pushing its ratio further in the direction that would gain.
    public var clip: Double?
    /// Weight of the token-level entropy bonus (maximized), 0 = off.
    public var entropyBonus: Double
    /// Weight of the token-level KL(f ‖ FT) penalty, 0 = off (not in the paper; keeps overlap).
    public var klToFT: Double
    /// filtered-SFT keeps rows whose outcome is in the top `filterQuantile` fraction.
    public var filterQuantile: Double
    /// RWR weights rows by exp(Y / (τ·sd(Y))): τ in units of the outcome's standard deviation.
    public var rwrTemperature: Double
    /// DPO's β.
    public var dpoBeta: Double

    public init(normalization: WeightNormalization = .hajek, clip: Double? = nil, entropyBonus: Double = 0,
                klToFT: Double = 0, filterQuantile: Double = 0.25, rwrTemperature: Double = 1, dpoBeta: Double = 0.1) {
        self.normalization = normalization
        self.clip = clip
        self.entropyBonus = entropyBonus
        self.klToFT = klToFT
        self.filterQuantile = filterQuantile
        self.rwrTemperature = rwrTemperature
        self.dpoBeta = dpoBeta
    }
}

extension ObjectiveOptions {
    /// What is wrong with these settings, named by their command-line flags; nil when they can work.
    public var problem: String? {
        if !(filterQuantile > 0 && filterQuantile <= 1) { return "--filter-quantile must be in (0, 1]" }
        if !(rwrTemperature > 0) { return "--rwr-temperature must be positive" }
        if let c = clip, !(c > 0) { return "--clip must be positive" }
        if klToFT < 0 || entropyBonus < 0 { return "--kl-to-ft and --entropy-bonus must not be negative" }
        return nil
    }
}

/// What an objective needs for one step. Everything is a plain vector: the objective never
/// sees the network (CausalPO.docc/CausalPO.md). Every objective maximizes: outcomes arrive already oriented
/// so that larger is better (`OutcomeDataset.oriented`, the one place a lower-is-better
/// outcome is flipped, applied when the Lab prepares its rows).
public struct ObjectiveBatch: Sendable {
    /// log P^f(X_i) of the logged rows under the policy being trained.
    public var logP: [Double]
    /// log P^R(X_i): the FT model's log-prob or the logged propensity.
    public var logPR: [Double]
    /// Y_i, oriented.
    public var outcomes: [Double]
    /// ĝ(X_i), cross-fitted (DR-CPO's residual term).
    public var ghat: [Double]?
    /// log P^f(X̃_j) of the f0 samples under the policy.
    public var sampleLogP: [Double]
    /// log P^{f0}(X̃_j), fixed.
    public var sampleLogP0: [Double]
    /// ĝ(X̃_j).
    public var sampleGhat: [Double]
    /// log P^FT(X_i) (DPO's reference).
    public var logPFT: [Double]?
    /// filtered-SFT: whether row i is in the top outcome quantile of the training set.
    public var selected: [Bool]?
    /// RWR: the training set's outcome standard deviation (the temperature's unit).
    public var outcomeSD: Double
    /// DPO: (chosen, rejected) row-index pairs, chosen having the higher outcome.
    public var pairs: [(chosen: Int, rejected: Int)]

    public init(logP: [Double], logPR: [Double] = [], outcomes: [Double] = [], ghat: [Double]? = nil,
                sampleLogP: [Double] = [], sampleLogP0: [Double] = [], sampleGhat: [Double] = [],
                logPFT: [Double]? = nil, selected: [Bool]? = nil, outcomeSD: Double = 1,
                pairs: [(chosen: Int, rejected: Int)] = []) {
        self.logP = logP
        self.logPR = logPR
        self.outcomes = outcomes
        self.ghat = ghat
        self.sampleLogP = sampleLogP
        self.sampleLogP0 = sampleLogP0
        self.sampleGhat = sampleGhat
        self.logPFT = logPFT
        self.selected = selected
        self.outcomeSD = outcomeSD
        self.pairs = pairs
    }
}

/// An objective's value and gradient. The loss is minimized (it is minus the value for the
/// causal objectives); the gradients are with respect to the policy's sequence log-probs,
/// which TinyLM turns into parameter gradients.
public struct ObjectiveOutput: Sendable {
    public var loss: Double
    /// dLoss/dlogP^f(X_i) for the logged rows.
    public var gradLogP: [Double]
    /// dLoss/dlogP^f(X̃_j) for the f0 samples.
    public var gradSampleLogP: [Double]
    /// The importance weights the objective used on the rows (as used: normalized for Hajek,
    /// e^{logP−logP^R}/B for Horvitz-Thompson); empty when it used none.
    public var weights: [Double]
    /// The weights on the f0 samples (self-normalized), empty when unused.
    public var sampleWeights: [Double]
    /// Share of rows whose ratio was clipped (0 without clipping).
    public var clippedShare: Double

    public var value: Double { -loss }
}

/// Softmax of `x` computed in log space (max-shifted), in Double.
public func softmax(_ x: [Double]) -> [Double] {
    guard let m = x.max(), m.isFinite else {
        return x.isEmpty ? [] : [Double](repeating: .nan, count: x.count)
    }
    let e = x.map { Foundation.exp($0 - m) }
    let z = e.reduce(0, +)
    return e.map { $0 / z }
}

public enum Objectives {
    /// The loss and gradients of `method` on one batch.
    public static func evaluate(_ method: Method, _ b: ObjectiveBatch, options: ObjectiveOptions) -> ObjectiveOutput {
        switch method {
        case .ft: return ft(b)
        case .cpo: return cpo(b, options: options)
        case .ooRLHF: return ooRLHF(b)
        case .drCPO: return drCPO(b, options: options)
        case .filteredSFT: return filteredSFT(b)
        case .rwr: return rwr(b, options: options)
        case .dpo: return dpo(b, options: options)
        }
    }

    /// FT: mean negative log-likelihood of the rows (sequence level; TinyLM's token-level
    /// mean is what FT training uses, this is for completeness and tests).
    public static func ft(_ b: ObjectiveBatch) -> ObjectiveOutput {
        let n = Double(b.logP.count)
        return ObjectiveOutput(loss: -b.logP.reduce(0, +) / n, gradLogP: b.logP.map { _ in -1 / n },
                               gradSampleLogP: b.sampleLogP.map { _ in 0 }, weights: [], sampleWeights: [], clippedShare: 0)
    }

    /// Importance-weighted value of `residuals` over the rows: V = Σ_i w_i r_i with the
    /// configured normalization and clipping, and dV/dlogP_i.
    ///   Hajek: w = softmax(logP − logP^R), dV/dlogP_i = w_i (r_i − V).
    ///   Horvitz-Thompson: w_i = e^{logP_i − logP^R_i}/B, dV/dlogP_i = w_i r_i.
    static func weightedValue(logP: [Double], logPR: [Double], residuals r: [Double], options: ObjectiveOptions)
        -> (value: Double, grad: [Double], weights: [Double], clipped: Double)
    {
        let n = logP.count
        precondition(logPR.count == n && r.count == n, "rows, log P^R and outcomes must align")
        let lr = zip(logP, logPR).map { $0 - $1 }
        let w: [Double]
        var grad = [Double](repeating: 0, count: n)
        var value = 0.0
        switch options.normalization {
        case .hajek:
            w = softmax(lr)
            value = zip(w, r).reduce(0) { $0 + $1.0 * $1.1 }
            for i in 0..<n { grad[i] = w[i] * (r[i] - value) }
        case .horvitzThompson:
            w = lr.map { Foundation.exp($0) / Double(n) }
            value = zip(w, r).reduce(0) { $0 + $1.0 * $1.1 }
            for i in 0..<n { grad[i] = w[i] * r[i] }
        }
        var clipped = 0
        if let eps = options.clip {
            for i in 0..<n {
                let ratio = options.normalization == .hajek ? w[i] * Double(n) : Foundation.exp(lr[i])
                // PPO: stop the gradient of a row whose ratio already left [1−ε, 1+ε] in the
                // direction its gradient pushes.
                if (grad[i] > 0 && ratio > 1 + eps) || (grad[i] < 0 && ratio < 1 - eps) {
                    grad[i] = 0
                    clipped += 1
                }
            }
        }
        return (value, grad, w, n == 0 ? 0 : Double(clipped) / Double(n))
    }

    /// CPO: maximize V_IPW(f) = Σ_i w_i Y_i.
    public static func cpo(_ b: ObjectiveBatch, options: ObjectiveOptions) -> ObjectiveOutput {
        let v = weightedValue(logP: b.logP, logPR: b.logPR, residuals: b.outcomes, options: options)
        return ObjectiveOutput(loss: -v.value, gradLogP: v.grad.map { -$0 }, gradSampleLogP: b.sampleLogP.map { _ in 0 },
                               weights: v.weights, sampleWeights: [], clippedShare: v.clipped)
    }

    /// The outcome-model term V_OUT(f) = Σ_j w̃_j ĝ(X̃_j) with w̃ = softmax(logP^f − logP^{f0})
    /// over the f0 samples, and its gradient.
    static func outcomeTerm(_ b: ObjectiveBatch) -> (value: Double, grad: [Double], weights: [Double]) {
        let m = b.sampleLogP.count
        precondition(b.sampleLogP0.count == m && b.sampleGhat.count == m, "f0 samples, their log P^f0 and ĝ must align")
        guard m > 0 else { return (0, [], []) }
        let w = softmax(zip(b.sampleLogP, b.sampleLogP0).map { $0 - $1 })
        let v = zip(w, b.sampleGhat).reduce(0) { $0 + $1.0 * $1.1 }
        return (v, (0..<m).map { w[$0] * (b.sampleGhat[$0] - v) }, w)
    }

    /// OO-RLHF: maximize V_OUT only (offline RLHF on f0 samples scored by ĝ).
    public static func ooRLHF(_ b: ObjectiveBatch) -> ObjectiveOutput {
        let o = outcomeTerm(b)
        return ObjectiveOutput(loss: -o.value, gradLogP: b.logP.map { _ in 0 }, gradSampleLogP: o.grad.map { -$0 },
                               weights: [], sampleWeights: o.weights, clippedShare: 0)
    }

    /// DR-CPO: maximize V_DR(f) = Σ_i w_i (Y_i − ĝ(X_i)) + V_OUT(f). Pass as many f0 samples per
    /// step as rows (CausalPO.docc/Methods.md, "DR-CPO and the f0 samples": with more, the residual weights go one-hot first), or use
    /// Horvitz-Thompson weights on the residual term.
    public static func drCPO(_ b: ObjectiveBatch, options: ObjectiveOptions) -> ObjectiveOutput {
        guard let ghat = b.ghat else { preconditionFailure("DR-CPO needs ĝ(X_i) for the rows") }
        let residuals = zip(b.outcomes, ghat).map { $0 - $1 }
        let v = weightedValue(logP: b.logP, logPR: b.logPR, residuals: residuals, options: options)
        let o = outcomeTerm(b)
        return ObjectiveOutput(loss: -(v.value + o.value), gradLogP: v.grad.map { -$0 }, gradSampleLogP: o.grad.map { -$0 },
                               weights: v.weights, sampleWeights: o.weights, clippedShare: v.clipped)
    }

    /// filtered-SFT: likelihood of the selected (top-outcome) rows, averaged over them.
    public static func filteredSFT(_ b: ObjectiveBatch) -> ObjectiveOutput {
        guard let sel = b.selected else { preconditionFailure("filtered-SFT needs the selected rows") }
        let k = Double(sel.filter { $0 }.count)
        guard k > 0 else {
            return ObjectiveOutput(loss: 0, gradLogP: b.logP.map { _ in 0 }, gradSampleLogP: b.sampleLogP.map { _ in 0 },
                                   weights: [], sampleWeights: [], clippedShare: 0)
        }
        let loss = -zip(b.logP, sel).reduce(0) { $0 + ($1.1 ? $1.0 : 0) } / k
        return ObjectiveOutput(loss: loss, gradLogP: sel.map { $0 ? -1 / k : 0 }, gradSampleLogP: b.sampleLogP.map { _ in 0 },
                               weights: sel.map { $0 ? 1 / k : 0 }, sampleWeights: [], clippedShare: 0)
    }

    /// Reward-weighted likelihood: Σ_i ω_i logP_i with ω = softmax(Y / (τ·sd)) over the batch.
    public static func rwr(_ b: ObjectiveBatch, options: ObjectiveOptions) -> ObjectiveOutput {
        let scale = options.rwrTemperature * max(b.outcomeSD, 1e-12)
        let omega = softmax(b.outcomes.map { $0 / scale })
        let loss = -zip(omega, b.logP).reduce(0) { $0 + $1.0 * $1.1 }
        return ObjectiveOutput(loss: loss, gradLogP: omega.map { -$0 }, gradSampleLogP: b.sampleLogP.map { _ in 0 },
                               weights: omega, sampleWeights: [], clippedShare: 0)
    }

    /// DPO on outcome-ranked pairs: mean over pairs of −log σ(β[(logP_c − logFT_c) − (logP_r − logFT_r)]).
    public static func dpo(_ b: ObjectiveBatch, options: ObjectiveOptions) -> ObjectiveOutput {
        guard let ft = b.logPFT else { preconditionFailure("DPO needs the FT log-probs") }
        var grad = [Double](repeating: 0, count: b.logP.count)
        guard !b.pairs.isEmpty else {
            return ObjectiveOutput(loss: 0, gradLogP: grad, gradSampleLogP: b.sampleLogP.map { _ in 0 },
                                   weights: [], sampleWeights: [], clippedShare: 0)
        }
        let beta = options.dpoBeta
        let np = Double(b.pairs.count)
        var loss = 0.0
        for (c, r) in b.pairs {
            let z = beta * ((b.logP[c] - ft[c]) - (b.logP[r] - ft[r]))
            loss += softplus(-z) / np
            let s = 1 / (1 + Foundation.exp(z))      // σ(−z) = −d/dz log σ(z)
            grad[c] -= beta * s / np
            grad[r] += beta * s / np
        }
        return ObjectiveOutput(loss: loss, gradLogP: grad, gradSampleLogP: b.sampleLogP.map { _ in 0 },
                               weights: [], sampleWeights: [], clippedShare: 0)
    }

    /// filtered-SFT's subset: whether each outcome is in the top `quantile` fraction, i.e. at
    /// least the outcome at position ⌊n·(1 − quantile)⌋ of the sorted outcomes (ties kept).
    public static func topQuantileSelection(outcomes: [Double], quantile: Double) -> [Bool] {
        guard !outcomes.isEmpty else { return [] }
        let sorted = outcomes.sorted()
        let threshold = sorted[min(sorted.count - 1, Int(Double(sorted.count) * (1 - quantile)))]
        return outcomes.map { $0 >= threshold }
    }

    /// DPO's pairs within a batch: every (chosen, rejected) index pair whose chosen outcome is
    /// strictly higher, in row order.
    public static func outcomeRankedPairs(outcomes y: [Double]) -> [(chosen: Int, rejected: Int)] {
        var pairs: [(chosen: Int, rejected: Int)] = []
        for i in y.indices {
            for j in y.indices where y[i] > y[j] { pairs.append((i, j)) }
        }
        return pairs
    }

    /// Per-sequence coefficients for TinyLM's token-level terms: the loss adds
    /// klToFT · mean_i(KL_i / T_i) − entropyBonus · mean_i(H_i / T_i), where KL_i and H_i are
    /// summed over the T_i tokens of sequence i. Returns dLoss/dKL_i and dLoss/dH_i.
    public static func tokenTermCoefficients(tokenCounts: [Int], options: ObjectiveOptions) -> (kl: [Double], entropy: [Double]) {
        let n = Double(max(1, tokenCounts.count))
        let kl = tokenCounts.map { options.klToFT / (n * Double(max(1, $0))) }
        let ent = tokenCounts.map { -options.entropyBonus / (n * Double(max(1, $0))) }
        return (kl, ent)
    }
}

/// log(1 + e^x) without overflow.
@inline(__always) func softplus(_ x: Double) -> Double {
    x > 30 ? x : Foundation.log1p(Foundation.exp(x))
}
