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
            selected: selected, outcomeSD: outcomeSD, pairs: pairs)
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

    public init(step: Int, epoch: Int, loss: Double, batchESSFraction: Double?, clippedShare: Double, gradNorm: Double,
                skipped: Bool) {
        self.step = step
        self.epoch = epoch
        self.loss = loss
        self.batchESSFraction = batchESSFraction
        self.clippedShare = clippedShare
        self.gradNorm = gradNorm
        self.skipped = skipped
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

    /// A run as saved: its model and optimizer (taken over, not copied) and its counters.
    init(method: Method, model: Transformer, optimizer: AdamW, counters c: Counters, lastEpochLogWeights: [Double]) {
        self.method = method
        self.model = model
        self.optimizer = optimizer
        epoch = c.epoch
        step = c.step
        skippedSteps = c.skippedSteps
        consecutiveSkips = c.consecutiveSkips
        failed = c.failed
        self.lastEpochLogWeights = lastEpochLogWeights
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
        let batches = Batches.shuffledBatches(rowPool.count, size: config.batchSize,
                                              seed: SeededRandom.derivedSeed(seed, "\(method.rawValue)-epoch-\(epoch)"))
        var f0 = F0Cycle(count: inputs.f0Seqs.count, rowsPerEpoch: inputs.rowSeqs.count, epoch: epoch,
                         seed: SeededRandom.derivedSeed(seed, "\(method.rawValue)-f0-\(epoch)"))
        lastEpochLogWeights = []
        for batch in batches {
            if cancelled() || failed != nil { return }
            let rows = batch.map { rowPool[$0] }
            let forwardedRows = spec.readsRows ? rows : []
            let samples = spec.f0Samples ? f0.next(rows.count) : []
            let seqs = forwardedRows.map { inputs.rowSeqs[$0] } + samples.map { inputs.f0Seqs[$0] }
            let fwd = model.forward(seqs, reference: opts.klToFT > 0 ? inputs.ft : nil, entropy: opts.entropyBonus > 0)
            let nr = forwardedRows.count
            let out = Objectives.evaluate(method, inputs.objectiveBatch(
                spec, rows: rows, logP: Array(fwd.logProbs[0..<nr]), samples: samples, sampleLogP: Array(fwd.logProbs[nr...])),
                options: opts)
            let coefLogP = out.gradLogP + out.gradSampleLogP
            precondition(coefLogP.count == seqs.count, "one coefficient per sequence")
            let token = Objectives.tokenTermCoefficients(tokenCounts: fwd.tokenCounts, options: opts)
            var loss = out.loss
            if let kl = fwd.klSums { loss += zip(token.kl, kl).reduce(0) { $0 + $1.0 * $1.1 } }
            if let h = fwd.entropySums { loss += zip(token.entropy, h).reduce(0) { $0 + $1.0 * $1.1 } }
            var report = StepReport(step: step, learningRate: 0, gradNorm: .nan, clipped: false, skipped: true)
            if loss.isFinite && coefLogP.allSatisfy(\.isFinite) {
                model.zeroGrad()
                model.backward(.init(
                    logProb: coefLogP.map { Float($0) },
                    kl: fwd.klSums != nil ? token.kl.map { Float($0) } : nil,
                    entropy: fwd.entropySums != nil ? token.entropy.map { Float($0) } : nil))
                report = optimizer.update(model)
            }
            record(report, weights: out.weights)
            step += 1
            let ess = out.weights.isEmpty ? nil : Diagnostics.effectiveSampleSize(weights: out.weights) / Double(out.weights.count)
            onStep(StepRecord(step: step, epoch: epoch, loss: loss, batchESSFraction: ess, clippedShare: out.clippedShare,
                              gradNorm: report.gradNorm, skipped: report.skipped))
        }
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
