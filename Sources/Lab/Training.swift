import CPOSupport
import Foundation
import TinyLM

/// Helpers that run a model over many sequences in batches.
enum Batches {
    /// Sequence log-probabilities of `seqs` under `model` (forward only), in batches.
    static func logProbs(_ model: Transformer, _ seqs: [[Int32]], batch: Int = 64) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(seqs.count)
        var i = 0
        while i < seqs.count {
            let chunk = Array(seqs[i..<min(seqs.count, i + batch)])
            out.append(contentsOf: model.forward(chunk).logProbs)
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
    public var evalLoss: Double
    public var seconds: Double

    public init(epoch: Int, trainLoss: Double, evalLoss: Double, seconds: Double) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.evalLoss = evalLoss
        self.seconds = seconds
    }
}

/// FT: next-token training on the dataset's texts for a fixed budget with a cosine schedule,
/// stopping early when the evaluation loss gets worse (the best epoch's weights are kept).
/// Every method starts from this model; it is also the P^R estimate and the f0 generator.
enum FineTuning {
    /// AdamW's decoupled weight decay for FT, and its warm-up (at most one epoch).
    static let weightDecay: Float = 0.01
    static let warmupSteps = 50

    static func train(_ model: Transformer, train: [[Int32]], eval: [[Int32]], config: LabConfig, seed: UInt64,
                      onEpoch: (FTEpoch) -> Void, onStep: (Int, Double) -> Void, cancelled: () -> Bool) -> [FTEpoch] {
        let stepsPerEpoch = max(1, (train.count + config.batchSize - 1) / config.batchSize)
        let opt = AdamW(config: AdamWConfig(learningRate: config.ftLearningRate, weightDecay: weightDecay,
                                            warmupSteps: min(warmupSteps, stepsPerEpoch),
                                            totalSteps: stepsPerEpoch * config.ftMaxEpochs),
                        parameterCount: model.parameterCount)
        var history: [FTEpoch] = []
        var best = (loss: Double.infinity, params: FloatBuffer(copying: model.params))
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
                onStep(step, loss)
            }
            let evalLoss = Batches.meanTokenLoss(model, eval)
            let rec = FTEpoch(epoch: epoch, trainLoss: sum / Double(max(1, count)), evalLoss: evalLoss,
                              seconds: Date().timeIntervalSince(t0))
            history.append(rec)
            onEpoch(rec)
            // The learning rate decays over the whole budget (cosine), which is what brings the
            // loss down to where samples are clean; stop early only when the held-out loss
            // gets worse (overfitting), keeping the best epoch.
            if evalLoss < best.loss {
                best = (evalLoss, FloatBuffer(copying: model.params))
            } else {
                break
            }
            if cancelled() { break }
        }
        model.params.copy(from: best.params)
        return history
    }
}
