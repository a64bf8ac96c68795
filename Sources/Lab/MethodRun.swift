import CausalPO
import CPOSupport
import Foundation
import TinyLM

/// Fixed inputs every method's training steps read: the training rows as sequences with
/// their outcomes, P^R, ĝ and FT log-probs, and the f0 samples with theirs.
struct TrainingInputs: @unchecked Sendable {
    let rowSeqs: [[Int32]]
    let outcomes: [Double]
    let logPR: [Double]
    let logPFT: [Double]
    /// Cross-fitted ĝ(X_i) of the training rows.
    let ghat: [Double]
    /// filtered-SFT's top-quantile rows.
    let selected: [Bool]
    let outcomeSD: Double
    let f0Seqs: [[Int32]]
    let f0LogP0: [Double]
    let f0Ghat: [Double]
    /// The FT model (the KL reference); never trained.
    let ft: Transformer
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

    init(method: Method, ft: Transformer, learningRate: Float) {
        self.method = method
        self.model = ft.copy()
        self.optimizer = AdamW(config: AdamWConfig(learningRate: learningRate, weightDecay: 0, gradClip: 1),
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

    /// Trains one epoch: a pass over the training rows (or, for OO-RLHF, as many f0 samples)
    /// in batches. FT does not train: it is the reference every other method starts from.
    func trainEpoch(_ inputs: TrainingInputs, config: LabConfig, seed: UInt64, onStep: (StepRecord) -> Void,
                    cancelled: () -> Bool) {
        epoch += 1
        guard method != .ft, failed == nil else { return }
        let n = inputs.rowSeqs.count
        let rowPool: [Int] = method == .filteredSFT ? (0..<n).filter { inputs.selected[$0] } : Array(0..<n)
        let batches = Batches.shuffledBatches(rowPool.count, size: config.batchSize,
                                              seed: SeededRandom.derivedSeed(seed, "\(method.rawValue)-epoch-\(epoch)"))
        // f0 samples are visited in a shuffled cycle, as many per step as rows (METHOD.md §6).
        let m = inputs.f0Seqs.count
        var f0Order = Array(0..<m)
        var f0rng = SeededRandom(seed: SeededRandom.derivedSeed(seed, "\(method.rawValue)-f0-\(epoch)"))
        f0rng.shuffle(&f0Order)
        var f0Cursor = ((epoch - 1) * n) % max(1, m)
        lastEpochLogWeights = []
        for batch in batches {
            if cancelled() || failed != nil { return }
            let rows = batch.map { rowPool[$0] }
            let usesRows = method != .ooRLHF
            let usesSamples = method == .ooRLHF || method == .drCPO
            var samples: [Int] = []
            if usesSamples {
                for _ in 0..<rows.count {
                    samples.append(f0Order[f0Cursor % m])
                    f0Cursor += 1
                }
            }
            let seqs = (usesRows ? rows.map { inputs.rowSeqs[$0] } : []) + samples.map { inputs.f0Seqs[$0] }
            let opts = config.objective
            let fwd = model.forward(seqs, reference: opts.klToFT > 0 ? inputs.ft : nil, entropy: opts.entropyBonus > 0)
            let nr = usesRows ? rows.count : 0
            let logP = Array(fwd.logProbs[0..<nr])
            let sampleLogP = Array(fwd.logProbs[nr...])
            var pairs: [(chosen: Int, rejected: Int)] = []
            if method == .dpo {
                for i in 0..<nr {
                    for j in 0..<nr where inputs.outcomes[rows[i]] > inputs.outcomes[rows[j]] { pairs.append((i, j)) }
                }
            }
            let ob = ObjectiveBatch(
                logP: logP, logPR: rows.map { inputs.logPR[$0] }, outcomes: usesRows ? rows.map { inputs.outcomes[$0] } : [],
                ghat: rows.map { inputs.ghat[$0] }, sampleLogP: sampleLogP,
                sampleLogP0: samples.map { inputs.f0LogP0[$0] }, sampleGhat: samples.map { inputs.f0Ghat[$0] },
                logPFT: rows.map { inputs.logPFT[$0] }, selected: method == .filteredSFT ? rows.map { _ in true } : nil,
                outcomeSD: inputs.outcomeSD, pairs: pairs)
            let out = Objectives.evaluate(method, ob, options: opts)
            let coefLogP = (usesRows ? out.gradLogP : []) + out.gradSampleLogP
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
            if report.skipped {
                skippedSteps += 1
                consecutiveSkips += 1
                if consecutiveSkips >= 20 {
                    failed = "\(consecutiveSkips) steps in a row had a non-finite loss or gradient"
                }
            } else {
                consecutiveSkips = 0
            }
            if !out.weights.isEmpty { lastEpochLogWeights.append(contentsOf: out.weights.map { log(max($0 * Double(out.weights.count), 1e-300)) }) }
            let ess = out.weights.isEmpty ? nil : Diagnostics.effectiveSampleSize(weights: out.weights) / Double(out.weights.count)
            step += 1
            onStep(StepRecord(step: step, epoch: epoch, loss: loss, batchESSFraction: ess, clippedShare: out.clippedShare,
                              gradNorm: report.gradNorm, skipped: report.skipped))
        }
    }
}
