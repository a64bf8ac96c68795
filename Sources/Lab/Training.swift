import CPOSupport
import Foundation
import TinyLM

/// Helpers that run a model over many sequences in batches.
enum Batches {
    /// Sequence log-probabilities of `seqs` under `model` (forward only), in batches. The batches
    /// take the sequences shortest first, so that each pads its sequences to nearly their own
    /// length; a sequence's log-probability does not depend on the others in its batch
    /// (`Transformer.forward`), so the order changes no number, only the padding computed.
    static func logProbs(_ model: Transformer, _ seqs: [[Int32]], batch: Int = 64) -> [Double] {
        let order = seqs.indices.sorted { (seqs[$0].count, $0) < (seqs[$1].count, $1) }
        var out = [Double](repeating: 0, count: seqs.count)
        var i = 0
        while i < order.count {
            let chunk = order[i..<min(order.count, i + batch)]
            for (j, lp) in zip(chunk, model.forward(chunk.map { seqs[$0] }).logProbs) { out[j] = lp }
            i += batch
        }
        return out
    }

    /// Mean next-token loss of `seqs` (forward only).
    static func meanTokenLoss(_ model: Transformer, _ seqs: [[Int32]], batch: Int = 64) -> Double {
        let lp = logProbs(model, seqs, batch: batch)
        let tokens = seqs.reduce(0) { $0 + $1.count - 1 }
        return -lp.reduce(0, +) / Double(max(1, tokens))
    }

    /// `0..<n` shuffled with a seed, cut into batches of `size` (the last may be smaller; a
    /// last batch of one is merged into the previous one, since self-normalized objectives
    /// have no gradient at one row).
    static func shuffledBatches(_ n: Int, size: Int, seed: UInt64) -> [[Int]] {
        var idx = Array(0..<n)
        var rng = SeededRandom(seed: seed)
        rng.shuffle(&idx)
        var out: [[Int]] = stride(from: 0, to: n, by: size).map { Array(idx[$0..<min(n, $0 + size)]) }
        if out.count > 1, let last = out.last, last.count == 1 {
            out.removeLast()
            out[out.count - 1].append(contentsOf: last)
        }
        return out
    }
}

/// One FT epoch's record.
public struct FTEpoch: Sendable, Hashable, Codable {
    public var epoch: Int
    public var trainLoss: Double
    /// Mean next-token loss on the validation rows (in runs saved before they existed: on the
    /// held-out rows; NaN without validation rows).
    public var evalLoss: Double
    public var seconds: Double

    public init(epoch: Int, trainLoss: Double, evalLoss: Double, seconds: Double) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.evalLoss = evalLoss
        self.seconds = seconds
    }
}

/// FT: next-token training on the dataset's texts until the loss on the validation rows stops
/// improving. The rate warms up, then holds; an epoch that does not improve the best validation
/// loss by at least `minRelativeImprovement` cuts it (`plateauFactor`), and `config.ftPatience`
/// such epochs in a row stop training, at most `config.ftMaxEpochs` epochs. The best epoch's
/// weights are kept. The held-out (estimation) rows never reach FT. Without validation rows FT
/// trains `ftMaxEpochs` epochs and keeps the last.
/// Every method starts from this model; it is also the P^R estimate and the f0 generator.
enum FineTuning {
    /// AdamW's decoupled weight decay for FT, and its warm-up (at most one epoch).
    static let weightDecay: Float = 0.01
    static let warmupSteps = 50
    /// An epoch improves when it lowers the best validation loss by at least this fraction.
    static let minRelativeImprovement = 0.005
    /// The learning rate is multiplied by this after an epoch that does not improve.
    static let plateauFactor: Float = 0.3

    static func train(_ model: Transformer, train: [[Int32]], validation: [[Int32]], config: LabConfig, seed: UInt64,
                      onEpoch: (FTEpoch) -> Void, onStep: (_ step: Int, _ epoch: Int, _ loss: Double) -> Void,
                      cancelled: () -> Bool) -> [FTEpoch] {
        let stepsPerEpoch = max(1, (train.count + config.batchSize - 1) / config.batchSize)
        let opt = AdamW(config: AdamWConfig(learningRate: config.ftLearningRate, weightDecay: weightDecay,
                                            warmupSteps: min(warmupSteps, stepsPerEpoch)),
                        parameterCount: model.parameterCount)
        var history: [FTEpoch] = []
        var best = (loss: Double.infinity, params: FloatBuffer(copying: model.params))
        var sinceImprovement = 0
        var step = 0
        for epoch in 1...config.ftMaxEpochs {
            let t0 = Date()
            var sum = 0.0, count = 0
            for batch in Batches.shuffledBatches(train.count, size: config.batchSize,
                                                 seed: SeededRandom.derivedSeed(seed, "ft-epoch-\(epoch)")) {
                if cancelled() { break }
                model.zeroGrad()
                let loss = model.nextTokenLoss(batch.map { train[$0] }, backward: true)
                if loss.isFinite { opt.update(model) }
                sum += loss
                count += 1
                step += 1
                onStep(step, epoch, loss)
            }
            let validationLoss = validation.isEmpty ? Double.nan : Batches.meanTokenLoss(model, validation)
            let rec = FTEpoch(epoch: epoch, trainLoss: sum / Double(max(1, count)), evalLoss: validationLoss,
                              seconds: Date().timeIntervalSince(t0))
            history.append(rec)
            onEpoch(rec)
            if cancelled() { break }
            if validation.isEmpty { continue }
            if validationLoss < best.loss * (1 - minRelativeImprovement) {
                best = (validationLoss, FloatBuffer(copying: model.params))
                sinceImprovement = 0
            } else {
                if validationLoss < best.loss { best = (validationLoss, FloatBuffer(copying: model.params)) }
                sinceImprovement += 1
                if sinceImprovement >= config.ftPatience { break }
                opt.config.learningRate *= plateauFactor
            }
        }
        if !validation.isEmpty { model.params.copy(from: best.params) }
        return history
    }

    /// The epoch whose weights FT kept (the lowest validation loss; the last without one).
    static func keptEpoch(_ history: [FTEpoch]) -> FTEpoch? {
        history.filter { !$0.evalLoss.isNaN }.min { $0.evalLoss < $1.evalLoss } ?? history.last
    }

    /// "FT epoch 9 kept (validation loss 0.226); stopped after epoch 11: 2 epochs without improving by 0.2%".
    static func outcome(_ history: [FTEpoch], config: LabConfig) -> String {
        guard let kept = keptEpoch(history), let last = history.last else { return "FT did not train" }
        if kept.evalLoss.isNaN { return "FT epoch \(last.epoch) kept: no validation rows, so FT trained all --ft-epochs \(config.ftMaxEpochs)" }
        var s = String(format: "FT epoch %d kept (validation loss %.4f); ", kept.epoch, kept.evalLoss)
        if last.epoch >= config.ftMaxEpochs && last.epoch - kept.epoch < config.ftPatience {
            s += "reached --ft-epochs \(config.ftMaxEpochs) still improving: a larger --ft-epochs may help"
        } else {
            s += String(format: "stopped after epoch %d: %d epoch%@ without improving by %g%%", last.epoch, config.ftPatience,
                        config.ftPatience == 1 ? "" : "s", 100 * minRelativeImprovement)
        }
        return s
    }
}
