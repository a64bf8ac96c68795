import CausalPO
import CPOSupport
import Foundation
import TinyLM

/// Logged rows and f0 samples with what objectives and estimators read about them: the rows'
/// token sequences, outcomes (oriented), P^R and ĝ; the f0 samples' sequences, log-probs under
/// f0 and ĝ. The training inputs hold the training rows' and the held-out inputs the held-out ones.
struct ScoredTexts: Sendable {
    let rowSeqs: [[Int32]]
    let outcomes: [Double]
    let logPR: [Double]
    /// ĝ(X_i) from a model that did not see row i (cross-fitted, or fit on other rows).
    let ghat: [Double]
    let f0Seqs: [[Int32]]
    let f0LogP0: [Double]
    let f0Ghat: [Double]
}

/// Fixed inputs every method's training steps read: the training rows and f0 samples
/// (`texts`), the rows' FT log-probs and outcome SD, and FT. What one step of a method gets
/// from them follows its `MethodDescription` (`rowPool`, `objectiveBatch`).
@dynamicMemberLookup
struct TrainingInputs: @unchecked Sendable {
    let texts: ScoredTexts
    let logPFT: [Double]
    let outcomeSD: Double
    /// The FT model (the KL reference); never trained.
    let ft: Transformer

    subscript<T>(dynamicMember path: KeyPath<ScoredTexts, T>) -> T { texts[keyPath: path] }

    /// The rows an epoch of a method with `spec` goes through in batches. A method that reads
    /// no rows still takes one step per batch of all rows (its f0 samples come in the same count).
    func rowPool(_ spec: MethodDescription, options: ObjectiveOptions) -> [Int] {
        switch spec.rows {
        case .none, .all:
            return Array(texts.rowSeqs.indices)
        case .topQuantile:
            let selected = Objectives.topQuantileSelection(outcomes: texts.outcomes, quantile: options.filterQuantile)
            return texts.rowSeqs.indices.filter { selected[$0] }
        }
    }

    /// The objective's inputs for one step of a method with `spec`: `rows` (indices into the
    /// training rows, forwarded when the method reads rows) and `samples` (f0 sample indices)
    /// with their log-probs under the policy.
    func objectiveBatch(_ spec: MethodDescription, rows: [Int], logP: [Double], samples: [Int],
                        sampleLogP: [Double]) -> ObjectiveBatch {
        let read = spec.readsRows ? rows : []
        let outcomes = read.map { texts.outcomes[$0] }
        let pairs: [(chosen: Int, rejected: Int)]
        switch spec.pairs {
        case .none: pairs = []
        case .byOutcome: pairs = Objectives.outcomeRankedPairs(outcomes: outcomes)
        }
        let selected: [Bool]?
        switch spec.rows {
        case .none, .all: selected = nil
        case .topQuantile: selected = read.map { _ in true }   // the pool holds only the selected rows
        }
        return ObjectiveBatch(
            logP: logP, logPR: read.map { texts.logPR[$0] }, outcomes: outcomes, ghat: read.map { texts.ghat[$0] }, sampleLogP: sampleLogP,
            sampleLogP0: samples.map { texts.f0LogP0[$0] }, sampleGhat: samples.map { texts.f0Ghat[$0] }, logPFT: read.map { logPFT[$0] },
            selected: selected, outcomeSD: outcomeSD, outcomeMinimum: texts.outcomes.min() ?? 0, pairs: pairs)
    }
}

/// One training step's record.
public struct StepRecord: Sendable, Hashable, Codable {
    public var step: Int
    public var epoch: Int
    public var loss: Double
    /// The importance weights' ESS over the batch as a fraction of its size (nil when unused).
    public var batchESSFraction: Double?
    public var clippedShare: Double
    public var gradNorm: Double
    public var skipped: Bool
    /// With the KL term on (`ObjectiveOptions.klTarget`): the mean KL(f ‖ FT) of the texts the
    /// policy drew this step, in nats, and the coefficient β it was weighed with (outcome SDs
    /// per nat; the controller's value before this step's update). Absent otherwise.
    public var klOwnSamples: Double?
    public var klCoefficient: Double?

    public init(step: Int, epoch: Int, loss: Double, batchESSFraction: Double?, clippedShare: Double, gradNorm: Double,
                skipped: Bool, klOwnSamples: Double? = nil, klCoefficient: Double? = nil) {
        self.step = step
        self.epoch = epoch
        self.loss = loss
        self.batchESSFraction = batchESSFraction
        self.clippedShare = clippedShare
        self.gradNorm = gradNorm
        self.skipped = skipped
        self.klOwnSamples = klOwnSamples
        self.klCoefficient = klCoefficient
    }
}

/// A method's own copy of FT, its optimizer and its training state.
final class MethodRun: @unchecked Sendable {
    let method: Method
    let model: Transformer
    let optimizer: AdamW
    private(set) var epoch = 0
    private(set) var step = 0
    private(set) var skippedSteps = 0
    private(set) var consecutiveSkips = 0
    /// A method whose steps keep failing (NaN/Inf) is stopped and marked failed.
    private(set) var failed: String?
    /// Weights of the last epoch's batches (as used), for the histogram.
    private(set) var lastEpochLogWeights: [Double] = []
    /// β of the KL term on the policy's own samples (`AdaptiveKLController`); nil until the term
    /// first runs, when it starts at `ObjectiveOptions.klInitialCoefficient`. Saved with the run.
    private(set) var klCoefficient: Double?

    /// The methods' global gradient-norm clip (no weight decay: they start from FT).
    static let gradientClip: Float = 1

    init(method: Method, ft: Transformer, learningRate: Float) {
        self.method = method
        self.model = ft.copy()
        self.optimizer = AdamW(config: AdamWConfig(learningRate: learningRate, weightDecay: 0, gradClip: Self.gradientClip),
                               parameterCount: model.parameterCount)
    }

    /// Counters that, with the weights and the optimizer, are a method's whole training state.
    struct Counters: Codable, Equatable {
        var epoch: Int
        var step: Int
        var skippedSteps: Int
        var consecutiveSkips: Int
        var failed: String?
    }

    var counters: Counters {
        Counters(epoch: epoch, step: step, skippedSteps: skippedSteps, consecutiveSkips: consecutiveSkips, failed: failed)
    }

    /// A run as saved: its model and optimizer (taken over, not copied), its counters and the
    /// KL controller's β.
    init(method: Method, model: Transformer, optimizer: AdamW, counters c: Counters, lastEpochLogWeights: [Double],
         klCoefficient: Double?) {
        self.method = method
        self.klCoefficient = klCoefficient
        self.model = model
        self.optimizer = optimizer
        epoch = c.epoch
        step = c.step
        skippedSteps = c.skippedSteps
        consecutiveSkips = c.consecutiveSkips
        failed = c.failed
        self.lastEpochLogWeights = lastEpochLogWeights
    }

    /// The seed of the shuffled batches of `method`'s epoch `epoch` (1-based), from the
    /// experiment's training seed.
    static func batchSeed(_ trainingSeed: UInt64, _ method: Method, epoch: Int) -> UInt64 {
        SeededRandom.derivedSeed(trainingSeed, "\(method.rawValue)-epoch-\(epoch)")
    }

    /// A method whose loss or gradient is non-finite this many steps in a row is marked failed.
    static let maxConsecutiveSkips = 20

    /// Trains one epoch: a pass over the rows the method's description names (or, for a method
    /// that reads no rows, as many f0 samples) in batches. The reference does not train: it is
    /// the model every other method starts from.
    func trainEpoch(_ inputs: TrainingInputs, config: LabConfig, seed: UInt64, onStep: (StepRecord) -> Void,
                    cancelled: () -> Bool) {
        epoch += 1
        guard method.trains, failed == nil else { return }
        let spec = method.spec
        let opts = config.objective
        let rowPool = inputs.rowPool(spec, options: opts)
        let batches = Batches.shuffledBatches(rowPool.count, size: config.batchSize, seed: Self.batchSeed(seed, method, epoch: epoch))
        var f0 = F0Cycle(count: inputs.f0Seqs.count, rowsPerEpoch: inputs.rowSeqs.count, epoch: epoch,
                         seed: SeededRandom.derivedSeed(seed, "\(method.rawValue)-f0-\(epoch)"))
        lastEpochLogWeights = []
        for batch in batches {
            if cancelled() || failed != nil { return }
            let rows = batch.map { rowPool[$0] }
            let samples = spec.f0Samples ? f0.next(rows.count) : []
            trainStep(inputs, spec: spec, config: config, rows: rows, samples: samples, seed: seed, onStep: onStep)
        }
    }

    /// One step on `rows` and f0 `samples`: the objective (with the token-level terms), the
    /// support terms of a policy-gradient method, and an AdamW update unless something is not finite.
    private func trainStep(_ inputs: TrainingInputs, spec: MethodDescription, config: LabConfig, rows: [Int], samples: [Int],
                           seed: UInt64, onStep: (StepRecord) -> Void) {
        let opts = config.objective
        let anchorRows = spec.policyGradient && opts.anchor > 0
        let klOn = spec.policyGradient && opts.klTarget > 0
        // Texts from the policy itself for the KL term, drawn before this step changes it, from a
        // stream named by the method and step (the step counter is saved: resume stays exact).
        let own = klOn ? ownSamples(config: config, seed: seed) : []

        // The objective's sequences: its rows (also forwarded for the anchor alone, as for
        // OO-RLHF), then its f0 samples.
        let forwardedRows = spec.readsRows || anchorRows ? rows : []
        let seqs = forwardedRows.map { inputs.rowSeqs[$0] } + samples.map { inputs.f0Seqs[$0] }
        let fwd = model.forward(seqs, reference: opts.klToFT > 0 ? inputs.ft : nil, entropy: opts.entropyBonus > 0)
        let nr = forwardedRows.count
        let rowLogP = Array(fwd.logProbs[0..<nr])
        let out = Objectives.evaluate(method, inputs.objectiveBatch(
            spec, rows: rows, logP: spec.readsRows ? rowLogP : [], samples: samples, sampleLogP: Array(fwd.logProbs[nr...])),
            options: opts)
        var coefLogP = (spec.readsRows ? out.gradLogP : [Double](repeating: 0, count: nr)) + out.gradSampleLogP
        precondition(coefLogP.count == seqs.count, "one coefficient per sequence")
        // The token-level terms cover the objective's own sequences (not rows forwarded only for the anchor).
        let objectiveSeqs = (spec.readsRows ? 0 : nr)..<seqs.count
        let token = Objectives.tokenTermCoefficients(tokenCounts: Array(fwd.tokenCounts[objectiveSeqs]), options: opts)
        let pad = [Double](repeating: 0, count: objectiveSeqs.lowerBound)
        let klCoef = pad + token.kl, entropyCoef = pad + token.entropy
        var loss = out.loss
        if let kl = fwd.klSums { loss += zip(klCoef, kl).reduce(0) { $0 + $1.0 * $1.1 } }
        if let h = fwd.entropySums { loss += zip(entropyCoef, h).reduce(0) { $0 + $1.0 * $1.1 } }
        if anchorRows {
            let a = Objectives.anchor(logP: rowLogP, tokenCounts: Array(fwd.tokenCounts[0..<nr]),
                                      weight: opts.anchor * inputs.outcomeSD)
            loss += a.loss
            for i in 0..<nr { coefLogP[i] += a.grad[i] }
        }

        var report = StepReport(step: step, learningRate: 0, gradNorm: .nan, clipped: false, skipped: true)
        var ok = loss.isFinite && coefLogP.allSatisfy(\.isFinite)
        if ok {
            model.zeroGrad()
            model.backward(.init(
                logProb: coefLogP.map { Float($0) },
                kl: fwd.klSums != nil ? klCoef.map { Float($0) } : nil,
                entropy: fwd.entropySums != nil ? entropyCoef.map { Float($0) } : nil))
        }
        // The KL term on the policy's own texts: a second forward and backward, accumulated.
        var measuredKL: Double?
        let beta = klOn ? (klCoefficient ?? opts.klInitialCoefficient) : nil
        if ok, let beta {
            let ownFwd = model.forward(own.map(\.sequence), reference: inputs.ft)
            let kl = ownFwd.klSums ?? []
            let term = Objectives.sampledKL(klSums: kl, coefficient: beta * inputs.outcomeSD)
            measuredKL = kl.reduce(0, +) / Double(max(1, kl.count))
            loss += term.loss
            ok = loss.isFinite && term.gradLogP.allSatisfy(\.isFinite)
            if ok { model.backward(.init(logProb: term.gradLogP.map { Float($0) }, kl: term.gradKL.map { Float($0) })) }
        }
        if ok {
            report = optimizer.update(model)
            if let beta, let measuredKL, !report.skipped {
                var controller = AdaptiveKLController(target: opts.klTarget, horizon: opts.klHorizon, coefficient: beta,
                                                      bounds: AdaptiveKLController.bounds(around: opts.klInitialCoefficient))
                controller.update(measuredKL: measuredKL)
                klCoefficient = controller.coefficient
            }
        }
        record(report, weights: out.weights)
        step += 1
        let ess = out.weights.isEmpty ? nil : Diagnostics.effectiveSampleSize(weights: out.weights) / Double(out.weights.count)
        onStep(StepRecord(step: step, epoch: epoch, loss: loss, batchESSFraction: ess, clippedShare: out.clippedShare,
                          gradNorm: report.gradNorm, skipped: report.skipped, klOwnSamples: measuredKL, klCoefficient: beta))
    }

    /// `klSamples` texts drawn from the current policy from BOS at temperature 1 (exactly f),
    /// seeded by the method and the step.
    private func ownSamples(config: LabConfig, seed: UInt64) -> [Sample] {
        let label = "\(method.rawValue)-kl-samples-epoch-\(epoch)-step-\(step)"
        return model.sample(prompts: [[Int32]](repeating: [BPETokenizer.bos], count: config.objective.klSamples),
                            options: SamplingOptions(temperature: 1, maxNewTokens: config.model.contextLength),
                            seed: SeededRandom.derivedSeed(seed, label))
    }

    /// Counts a skipped step (failing the method after `maxConsecutiveSkips` in a row) and keeps
    /// the batch's weights, as log-ratios to uniform, for the histogram.
    private func record(_ report: StepReport, weights: [Double]) {
        if report.skipped {
            skippedSteps += 1
            consecutiveSkips += 1
            if consecutiveSkips >= Self.maxConsecutiveSkips {
                failed = "\(consecutiveSkips) steps in a row had a non-finite loss or gradient"
            }
        } else {
            consecutiveSkips = 0
        }
        lastEpochLogWeights.append(contentsOf: weights.map { log(max($0 * Double(weights.count), 1e-300)) })
    }
}

/// The f0 samples a method visits: a shuffled order per epoch, walked as a cycle from where the
/// epoch's rows would start, as many per step as the batch has rows (CausalPO.docc/Methods.md, "DR-CPO and the f0 samples").
struct F0Cycle {
    private var order: [Int]
    private var cursor: Int

    init(count m: Int, rowsPerEpoch n: Int, epoch: Int, seed: UInt64) {
        order = Array(0..<m)
        var rng = SeededRandom(seed: seed)
        rng.shuffle(&order)
        cursor = ((epoch - 1) * n) % max(1, m)
    }

    mutating func next(_ count: Int) -> [Int] {
        (0..<count).map { _ in
            defer { cursor += 1 }
            return order[cursor % order.count]
        }
    }
}

/// The rows of the association baselines as the lab trains them, for trainers elsewhere
/// (the scale-out export).
public enum BaselineRows {
    /// DPO's (chosen, rejected) pairs of the training rows in epoch `epoch` of the experiment
    /// with `seed`, as the lab trains them: the rows shuffled into the epoch's batches of
    /// `batchSize`, and within each batch every pair whose chosen outcome is strictly higher
    /// (`Objectives.outcomeRankedPairs`). Indices are into `outcomes` (oriented).
    public static func dpoPairs(outcomes: [Double], batchSize: Int, seed: UInt64, epoch: Int = 1) -> [(chosen: Int, rejected: Int)] {
        let batches = Batches.shuffledBatches(outcomes.count, size: batchSize,
                                              seed: MethodRun.batchSeed(Experiment.trainingSeed(seed), .dpo, epoch: epoch))
        return batches.flatMap { rows in
            Objectives.outcomeRankedPairs(outcomes: rows.map { outcomes[$0] }).map { (rows[$0.chosen], rows[$0.rejected]) }
        }
    }
}
