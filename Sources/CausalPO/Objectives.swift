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
                                     treatsOutcomesAsCausal: false, options: [.htClip], policyGradient: true)
        case .cpo:
            return MethodDescription(role: .trained, rows: .all, f0Samples: false, pairs: .none,
                                     treatsOutcomesAsCausal: false, options: [.normalization, .clip, .htClip, .robustLambda],
                                     policyGradient: true)
        case .drCPO:
            return MethodDescription(role: .trained, rows: .all, f0Samples: true, pairs: .none,
                                     treatsOutcomesAsCausal: false, options: [.normalization, .clip, .htClip, .robustLambda],
                                     policyGradient: true)
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
    /// A policy-gradient method: its objective is an importance-weighted value of the policy
    /// (OO-RLHF, CPO, DR-CPO). The support terms (`ObjectiveOptions.klTarget`, KL to FT on the
    /// policy's own samples, and `ObjectiveOptions.anchor`, the likelihood of the step's
    /// randomized rows) apply to exactly these methods, identically, so their comparison stays fair.
    public var policyGradient: Bool

    /// Whether a step forwards any logged rows through the policy.
    public var readsRows: Bool {
        switch rows {
        case .none: return false
        case .all, .topQuantile: return true
        }
    }

    public init(role: Role, rows: Rows, f0Samples: Bool, pairs: Pairs, treatsOutcomesAsCausal: Bool,
                options: Set<ObjectiveOption>, policyGradient: Bool = false) {
        self.policyGradient = policyGradient
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
    case normalization, clip, filterQuantile, rwrTemperature, dpoBeta, htClip, robustLambda
}

/// How importance weights are normalized within a batch (CausalPO.docc/Methods.md, "Importance weights").
public enum WeightNormalization: String, Codable, Sendable, Hashable {
    /// Self-normalized: w_i = softmax_i(logP^f − logP^R). At f = P^R every weight is 1/B.
    case hajek
    /// Un-normalized: w_i = exp(logP^f − logP^R) / B.
    case horvitzThompson = "horvitz-thompson"
}

/// Options shared by the objectives. `ObjectiveOptions()` is the paper's objective: every term
/// that is not in the paper is off (`ObjectiveOptions.paper`). The lab's runs start from
/// `LabConfig.defaultObjective`, which turns the support terms on.
public struct ObjectiveOptions: Codable, Sendable, Hashable {
    public var normalization: WeightNormalization
    /// PPO-style clipping of the ratio r_i (1 = unchanged: B·w_i for Hajek, e^{logP−logP^R}
    /// for Horvitz-Thompson) to [1−ε, 1+ε]; nil = off. A clipped row keeps its share of the
    /// value but stops pushing its ratio further in the direction that would gain.
    public var clip: Double?
    /// Weight of the token-level entropy bonus (maximized), 0 = off.
    public var entropyBonus: Double
    /// Weight of the token-level KL(f ‖ FT) penalty measured on the step's own rows and f0
    /// samples, 0 = off (not in the paper).
    public var klToFT: Double
    /// filtered-SFT keeps rows whose outcome is in the top `filterQuantile` fraction.
    public var filterQuantile: Double
    /// RWR weights rows by exp(Y / (τ·sd(Y))): τ in units of the outcome's standard deviation.
    public var rwrTemperature: Double
    /// DPO's β.
    public var dpoBeta: Double

    // The support terms of the policy-gradient methods (`MethodDescription.policyGradient`).

    /// KL(f ‖ FT) budget in nats per text, 0 = off. Each step draws `klSamples` texts from the
    /// policy itself (from BOS) and adds β·sd(Y)·mean_i KL_i, KL_i the summed token-level KL to FT
    /// along sample i (an unbiased estimate of the sequence-level KL), with its exact gradient
    /// (`Objectives.sampledKL`). β adapts to hold the KL near this target (`AdaptiveKLController`).
    public var klTarget: Double
    /// Texts drawn from the policy per step for the KL term (at least 2: the leave-one-out baseline).
    public var klSamples: Int
    /// β at the first step, in outcome standard deviations per nat.
    public var klInitialCoefficient: Double
    /// The controller's horizon in steps: β changes by at most a factor 1 ± 0.2/horizon per step.
    public var klHorizon: Double
    /// Weight λ of the anchor likelihood term, 0 = off: λ·sd(Y)·mean_i(−logP_i / T_i) over the
    /// step's randomized training rows (OO-RLHF forwards the same rows for it).
    public var anchor: Double
    /// Horvitz-Thompson weights with an absolute ratio clip, 0 = off, else the bound M > 1: every
    /// importance-weighted training term (CPO's value, DR-CPO's residual, V_OUT on the f0 samples)
    /// uses ρ = e^{logP − logP^R} (e^{logP − logP^{f0}} for f0 samples) un-normalized, in PPO's
    /// pessimistic surrogate min(ρ·r, clamp(ρ, 1/M, M)·r). Training only: the estimators of the
    /// evaluation keep `normalization`.
    public var htClip: Double
    /// The robust objective, 1 = off (the paper's value): Λ > 1 trains CPO (DR-CPO: its residual
    /// term) on the worst case of its importance-weighted value when each row's weight may be off
    /// by a factor in [1/Λ, Λ], the sensitivity model of the evaluation's bounds
    /// (`WeightedMeanBounds.worstCase`; Kallus & Zhou 2018). Refused with `clip` and `htClip`:
    /// the worst case already decides each row's weight.
    public var robustLambda: Double

    public init(normalization: WeightNormalization = .hajek, clip: Double? = nil, entropyBonus: Double = 0,
                klToFT: Double = 0, filterQuantile: Double = 0.25, rwrTemperature: Double = 1, dpoBeta: Double = 0.1,
                klTarget: Double = 0, klSamples: Int = 8, klInitialCoefficient: Double = 0.1, klHorizon: Double = 10,
                anchor: Double = 0, htClip: Double = 0, robustLambda: Double = 1) {
        self.normalization = normalization
        self.clip = clip
        self.entropyBonus = entropyBonus
        self.klToFT = klToFT
        self.filterQuantile = filterQuantile
        self.rwrTemperature = rwrTemperature
        self.dpoBeta = dpoBeta
        self.klTarget = klTarget
        self.klSamples = klSamples
        self.klInitialCoefficient = klInitialCoefficient
        self.klHorizon = klHorizon
        self.anchor = anchor
        self.htClip = htClip
        self.robustLambda = robustLambda
    }

    /// The paper's objective: Hajek weights, no clipping, no regularizer.
    public static let paper = ObjectiveOptions()

    /// Whether any term that is not in the paper's objective is on.
    public var addsToThePaper: Bool {
        normalization != .hajek || clip != nil || entropyBonus != 0 || klToFT != 0 || klTarget != 0 || anchor != 0 || htClip != 0
            || robustLambda != 1
    }

    enum CodingKeys: String, CodingKey {
        case normalization, clip, entropyBonus, klToFT, filterQuantile, rwrTemperature, dpoBeta
        case klTarget, klSamples, klInitialCoefficient, klHorizon, anchor, htClip, robustLambda
    }

    /// A configuration saved before a key existed reads it as the paper's value: off. A run
    /// saved then trained without it, and resumes without it.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let paper = ObjectiveOptions.paper
        self.init(
            normalization: try c.decode(WeightNormalization.self, forKey: .normalization),
            clip: try c.decodeIfPresent(Double.self, forKey: .clip),
            entropyBonus: try c.decode(Double.self, forKey: .entropyBonus), klToFT: try c.decode(Double.self, forKey: .klToFT),
            filterQuantile: try c.decode(Double.self, forKey: .filterQuantile),
            rwrTemperature: try c.decode(Double.self, forKey: .rwrTemperature), dpoBeta: try c.decode(Double.self, forKey: .dpoBeta),
            klTarget: try c.decodeIfPresent(Double.self, forKey: .klTarget) ?? paper.klTarget,
            klSamples: try c.decodeIfPresent(Int.self, forKey: .klSamples) ?? paper.klSamples,
            klInitialCoefficient: try c.decodeIfPresent(Double.self, forKey: .klInitialCoefficient) ?? paper.klInitialCoefficient,
            klHorizon: try c.decodeIfPresent(Double.self, forKey: .klHorizon) ?? paper.klHorizon,
            anchor: try c.decodeIfPresent(Double.self, forKey: .anchor) ?? paper.anchor,
            htClip: try c.decodeIfPresent(Double.self, forKey: .htClip) ?? paper.htClip,
            robustLambda: try c.decodeIfPresent(Double.self, forKey: .robustLambda) ?? paper.robustLambda)
    }
}

extension ObjectiveOptions {
    /// What is wrong with these settings, named by their command-line flags; nil when they can work.
    public var problem: String? {
        if !(filterQuantile > 0 && filterQuantile <= 1) { return "--filter-quantile must be in (0, 1]" }
        if !(rwrTemperature > 0) { return "--rwr-temperature must be positive" }
        if let c = clip, !(c > 0) { return "--clip must be positive" }
        if klToFT < 0 || entropyBonus < 0 { return "--kl-to-ft and --entropy-bonus must not be negative" }
        if !(klTarget >= 0) || !klTarget.isFinite { return "--kl-target must be a number of nats, 0 (off) or positive" }
        if klSamples < 2 { return "--kl-samples must be at least 2 (the KL gradient's baseline leaves one sample out)" }
        if !(klInitialCoefficient > 0) || !klInitialCoefficient.isFinite { return "--kl-coef must be positive" }
        if !(klHorizon >= 1) || !klHorizon.isFinite { return "--kl-horizon must be at least 1 step" }
        if !(anchor >= 0) || !anchor.isFinite { return "--anchor must not be negative" }
        if !(htClip == 0 || htClip > 1) || !htClip.isFinite { return "--ht-clip must be 0 (off) or a ratio bound above 1" }
        if htClip != 0 && clip != nil { return "--ht-clip and --clip both clip the importance ratio: use one" }
        // Λ² must be finite too: the self-normalized worst case weighs the rows it favours by Λ².
        if !(robustLambda >= 1) || !(robustLambda * robustLambda).isFinite {
            return "--robust-lambda must be a finite number at least 1 (1 = off)"
        }
        if robustLambda != 1 && (clip != nil || htClip != 0) {
            return "--robust-lambda with --\(clip != nil ? "clip" : "ht-clip"): the worst case already decides each row's weight, "
                + "so there is nothing left to clip; use one"
        }
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
    /// The lowest outcome of the training set: with `htClip`, values below zero are measured
    /// from it (`Objectives.htOrigin`).
    public var outcomeMinimum: Double
    /// DPO: (chosen, rejected) row-index pairs, chosen having the higher outcome.
    public var pairs: [(chosen: Int, rejected: Int)]

    public init(logP: [Double], logPR: [Double] = [], outcomes: [Double] = [], ghat: [Double]? = nil,
                sampleLogP: [Double] = [], sampleLogP0: [Double] = [], sampleGhat: [Double] = [],
                logPFT: [Double]? = nil, selected: [Bool]? = nil, outcomeSD: Double = 1, outcomeMinimum: Double = 0,
                pairs: [(chosen: Int, rejected: Int)] = []) {
        self.outcomeMinimum = outcomeMinimum
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
    /// Share of rows whose ratio was clipped (0 without clipping); with `htClip`, of the rows and
    /// f0 samples together.
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
        case .ooRLHF: return ooRLHF(b, options: options)
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
    ///   `htClip` M > 0: `clippedHorvitzThompson` (the normalization and `clip` are not read).
    ///   `robustLambda` Λ > 1: the worst case of the value when each weight may be off by a factor
    ///   in [1/Λ, Λ] (`WeightedMeanBounds.worstCase`; `clip` is not read), with the adversary's
    ///   weights. Hajek: the lower bound of the self-normalized value within the batch (the rows
    ///   with the lowest values weighted Λ² times the others, at the cut that minimizes it).
    ///   Horvitz-Thompson: each row's weight times Λ where its value is negative, 1/Λ where it is
    ///   positive. Caveat: with every value ≥ 0 (CPO on outcomes that are never negative, as in
    ///   the shipped worlds) that worst case is the plain value divided by Λ, whose gradient
    ///   points the same way: robustness then changes nothing but the step size, which is why
    ///   the default (Hajek) is where it matters.
    static func weightedValue(logP: [Double], logPR: [Double], residuals r: [Double], options: ObjectiveOptions)
        -> (value: Double, grad: [Double], weights: [Double], clipped: Double)
    {
        let n = logP.count
        precondition(logPR.count == n && r.count == n, "rows, log P^R and outcomes must align")
        let lr = zip(logP, logPR).map { $0 - $1 }
        if options.htClip > 0 { return clippedHorvitzThompson(logRatios: lr, values: r, bound: options.htClip) }
        if options.robustLambda > 1 {
            if n == 0 { return (0, [], [], 0) }
            // Where the bounds are undefined (no finite log-ratio, a value that is not finite) the
            // plain value below is returned, which is then undefined too, or 0 for Horvitz-Thompson
            // weights that are all 0, as the worst case would be.
            if let problem = WeightedMeanBounds(logRatios: lr, values: r, normalization: options.normalization) {
                let worst = problem.worstCase(lambda: options.robustLambda)
                return (worst.value, worst.gradient, worst.weights, 0)
            }
        }
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

    /// Where the values of the clipped Horvitz-Thompson terms are measured from: zero, or the
    /// training set's lowest outcome when that is negative. Un-normalized weights keep mass on
    /// the rows only because a text off the rows counts as value 0; a row whose value were below
    /// 0 would gain by losing probability (an outcome oriented lower-is-better, −Y, is negative
    /// everywhere). Measured from min(0, min Y), every observed value is at least 0, and off the
    /// rows counts as no better than the worst outcome seen. Outcomes that are never negative
    /// (the shipped worlds, 0/1) are used as they are. Subtracting a constant c changes the
    /// value by c·(mean ratio − 1), which is 0 in expectation on the support of P^R.
    public static func htOrigin(_ b: ObjectiveBatch) -> Double { min(0, b.outcomeMinimum) }

    /// CPO: maximize V_IPW(f) = Σ_i w_i Y_i (with `htClip`, of Y_i − `htOrigin`).
    public static func cpo(_ b: ObjectiveBatch, options: ObjectiveOptions) -> ObjectiveOutput {
        let origin = options.htClip > 0 ? htOrigin(b) : 0
        let v = weightedValue(logP: b.logP, logPR: b.logPR, residuals: b.outcomes.map { $0 - origin }, options: options)
        return ObjectiveOutput(loss: -v.value, gradLogP: v.grad.map { -$0 }, gradSampleLogP: b.sampleLogP.map { _ in 0 },
                               weights: v.weights, sampleWeights: [], clippedShare: v.clipped)
    }

    /// Horvitz-Thompson with an absolute ratio clip: ρ_i = e^{lr_i} against the fixed range
    /// [1/M, M], in PPO's pessimistic surrogate (Schulman et al. 2017, "Proximal Policy
    /// Optimization Algorithms", eq. 7, with the fixed P^R in place of the previous policy):
    ///   V = (1/B) Σ_i min(ρ_i r_i, clamp(ρ_i, 1/M, M) r_i),
    ///   dV/dlogP_i = ρ_i r_i / B where the unclamped term is the smaller, else 0.
    /// A row that has moved past the bound in the direction its value favours stops contributing
    /// gradient, and its value stays at the bound: the surrogate is the function it differentiates.
    /// Un-normalized, a text's probability leaving the rows lowers V whenever r > 0 (with
    /// positive outcomes every row is pushed up), which the self-normalized weights cannot see.
    static func clippedHorvitzThompson(logRatios lr: [Double], values r: [Double], bound: Double)
        -> (value: Double, grad: [Double], weights: [Double], clipped: Double)
    {
        let n = lr.count
        guard n > 0 else { return (0, [], [], 0) }
        let b = Double(n)
        var value = 0.0, clipped = 0
        var grad = [Double](repeating: 0, count: n)
        let rho = lr.map { Foundation.exp($0) }
        for i in 0..<n {
            let free = rho[i] * r[i]
            let bounded = min(max(rho[i], 1 / bound), bound) * r[i]
            if free <= bounded {
                value += free / b
                grad[i] = free / b
            } else {
                value += bounded / b
                clipped += 1
            }
        }
        return (value, grad, rho.map { $0 / b }, Double(clipped) / b)
    }

    /// The outcome-model term V_OUT(f) = Σ_j w̃_j ĝ(X̃_j) with w̃ = softmax(logP^f − logP^{f0})
    /// over the f0 samples, and its gradient; with `htClip`, `clippedHorvitzThompson` on the
    /// ratios e^{logP^f − logP^{f0}} and the values ĝ − `htOrigin` instead.
    static func outcomeTerm(_ b: ObjectiveBatch, options: ObjectiveOptions)
        -> (value: Double, grad: [Double], weights: [Double], clipped: Double)
    {
        let m = b.sampleLogP.count
        precondition(b.sampleLogP0.count == m && b.sampleGhat.count == m, "f0 samples, their log P^f0 and ĝ must align")
        guard m > 0 else { return (0, [], [], 0) }
        let lr = zip(b.sampleLogP, b.sampleLogP0).map { $0 - $1 }
        if options.htClip > 0 {
            let origin = htOrigin(b)
            return clippedHorvitzThompson(logRatios: lr, values: b.sampleGhat.map { $0 - origin }, bound: options.htClip)
        }
        let w = softmax(lr)
        let v = zip(w, b.sampleGhat).reduce(0) { $0 + $1.0 * $1.1 }
        return (v, (0..<m).map { w[$0] * (b.sampleGhat[$0] - v) }, w, 0)
    }

    /// OO-RLHF: maximize V_OUT only (offline RLHF on f0 samples scored by ĝ).
    public static func ooRLHF(_ b: ObjectiveBatch, options: ObjectiveOptions = .paper) -> ObjectiveOutput {
        let o = outcomeTerm(b, options: options)
        return ObjectiveOutput(loss: -o.value, gradLogP: b.logP.map { _ in 0 }, gradSampleLogP: o.grad.map { -$0 },
                               weights: [], sampleWeights: o.weights, clippedShare: o.clipped)
    }

    /// DR-CPO: maximize V_DR(f) = Σ_i w_i (Y_i − ĝ(X_i)) + V_OUT(f). Pass as many f0 samples per
    /// step as rows (CausalPO.docc/Methods.md, "DR-CPO and the f0 samples": with more, the residual weights go one-hot first), or use
    /// Horvitz-Thompson weights on the residual term.
    public static func drCPO(_ b: ObjectiveBatch, options: ObjectiveOptions) -> ObjectiveOutput {
        guard let ghat = b.ghat else { preconditionFailure("DR-CPO needs ĝ(X_i) for the rows") }
        let residuals = zip(b.outcomes, ghat).map { $0 - $1 }
        let v = weightedValue(logP: b.logP, logPR: b.logPR, residuals: residuals, options: options)
        let o = outcomeTerm(b, options: options)
        // With `htClip` the f0 samples are clipped too: the share counts rows and samples together.
        let terms = Double(b.logP.count + b.sampleLogP.count)
        let clipped = options.htClip > 0 && terms > 0
            ? (v.clipped * Double(b.logP.count) + o.clipped * Double(b.sampleLogP.count)) / terms : v.clipped
        return ObjectiveOutput(loss: -(v.value + o.value), gradLogP: v.grad.map { -$0 }, gradSampleLogP: o.grad.map { -$0 },
                               weights: v.weights, sampleWeights: o.weights, clippedShare: clipped)
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

// MARK: - The support terms of the policy-gradient methods

extension Objectives {
    /// The anchor likelihood term on the step's randomized rows: λ·mean_i(−logP_i / T_i), the
    /// mean per-token negative log-likelihood of the rows (T_i predicted tokens of row i), and
    /// dLoss/dlogP_i = −λ / (B·T_i). The rows come from P^R, so this is (per token, up to a
    /// constant) the cross-entropy from the data to the policy: it rises whenever probability
    /// leaves the texts the experiment showed, which the Hajek value cannot see.
    public static func anchor(logP: [Double], tokenCounts: [Int], weight: Double) -> (loss: Double, grad: [Double]) {
        precondition(logP.count == tokenCounts.count, "one token count per row")
        guard !logP.isEmpty else { return (0, []) }
        let n = Double(logP.count)
        var loss = 0.0
        var grad = [Double](repeating: 0, count: logP.count)
        for i in logP.indices {
            let t = Double(max(1, tokenCounts[i]))
            loss -= weight * logP[i] / (t * n)
            grad[i] = -weight / (t * n)
        }
        return (loss, grad)
    }

    /// The KL(f ‖ FT) term on k texts drawn from the policy f itself, as RLHF measures it
    /// (Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences"), with
    /// `klSums[i]` = Σ_t KL(f(·|x_<t) ‖ FT(·|x_<t)) along sample i. By the chain rule of KL,
    /// E_{x~f}[Σ_t KL_t] is the sequence-level KL(f ‖ FT), so `loss` = β·mean_i KL_i estimates
    /// β·KL(f ‖ FT) without bias. Its gradient has two parts, both returned:
    ///   - `gradKL` = β/k: the pathwise part, through each position's next-token distributions
    ///     (TinyLM's backward of the token-level KL);
    ///   - `gradLogP`: the score-function part, because the samples themselves come from f:
    ///     β·(KL_i − b_i)/k on log f(x_i), with b_i the mean KL of the other samples (a
    ///     leave-one-out baseline: it lowers the variance and keeps the estimate unbiased).
    /// Together their expectation is exactly ∇ KL(f ‖ FT); `loss` does not depend on logP, so
    /// `gradLogP` is the coefficient of a surrogate, not the derivative of `loss`.
    public static func sampledKL(klSums: [Double], coefficient beta: Double) -> (loss: Double, gradKL: [Double], gradLogP: [Double]) {
        let k = klSums.count
        guard k > 0 else { return (0, [], []) }
        let total = klSums.reduce(0, +)
        let kd = Double(k)
        let gradLogP = klSums.map { kl -> Double in
            guard k > 1 else { return 0 }
            let baseline = (total - kl) / (kd - 1)
            return beta * (kl - baseline) / kd
        }
        return (beta * total / kd, [Double](repeating: beta / kd, count: k), gradLogP)
    }
}

/// The adaptive KL coefficient of Ziegler et al. 2019 ("Fine-Tuning Language Models from Human
/// Preferences", section 2.2), the idea behind TRL's `AdaptiveKLController`: a proportional
/// controller on log β that holds the measured KL near a target. After each step,
///     e = clamp(KL / target − 1, −0.2, 0.2),    β ← β·(1 + e / horizon),
/// so β grows while the policy is further from FT than the budget and shrinks while it is
/// nearer, by at most a factor 1 ± 0.2/horizon per step, however noisy one step's KL is.
/// β stays within `bounds` (a projected update, as for any dual variable kept in a bounded set).
/// Without a floor the controller winds up: a policy starts at FT with KL 0, so for the hundreds
/// of steps before the KL first reaches the budget β falls 2% a step (measured: 0.1 to 0.001 in
/// 240 steps of CPO on the default world), and once the budget is crossed it takes as long to
/// climb back while the KL overshoots (there, to twice the budget).
/// Its whole state is β (`coefficient`), saved with each method's checkpoint.
public struct AdaptiveKLController: Sendable, Hashable {
    /// The largest proportional error one step acts on (Ziegler et al.'s clip).
    public static let maxError = 0.2
    /// How far β may move from its starting value, either way (`bounds(around:)`).
    public static let boundFactor = 10.0
    public var target: Double
    public var horizon: Double
    public var coefficient: Double
    public var bounds: ClosedRange<Double>

    public init(target: Double, horizon: Double, coefficient: Double, bounds: ClosedRange<Double> = 0...Double.greatestFiniteMagnitude) {
        self.target = target
        self.horizon = horizon
        self.coefficient = coefficient
        self.bounds = bounds
    }

    /// [β0 / 10, 10·β0]: the range a controller that starts at `initial` keeps to.
    public static func bounds(around initial: Double) -> ClosedRange<Double> {
        (initial / boundFactor)...(initial * boundFactor)
    }

    /// β after a step whose policy measured `kl` nats; a non-finite measurement changes nothing.
    public mutating func update(measuredKL kl: Double) {
        guard kl.isFinite, target > 0 else { return }
        let error = min(max(kl / target - 1, -Self.maxError), Self.maxError)
        coefficient = min(max(coefficient * (1 + error / horizon), bounds.lowerBound), bounds.upperBound)
    }
}

/// log(1 + e^x) without overflow.
@inline(__always) func softplus(_ x: Double) -> Double {
    x > 30 ? x : Foundation.log1p(Foundation.exp(x))
}
