import CPOSupport
import Foundation
import Testing
@testable import TinyLM

@Suite("sampling with a KV cache")
struct SamplerTests {
    let cfg = ModelConfig(vocabSize: 263, contextLength: 12, dModel: 16, heads: 2, layers: 2)

    /// Next-token log-probs after `prefix` from the full (uncached) forward pass, by scoring
    /// prefix + [token] for every token.
    func nextLogProbs(_ model: Transformer, _ prefix: [Int32]) -> [Double] {
        // forward gives log p(x_t | x_<t) for the given targets; ask for each token once.
        let seqs = (0..<cfg.vocabSize).map { prefix + [Int32($0)] }
        let base = prefix.count >= 2 ? model.forward([prefix]).logProbs[0] : 0
        return model.forward(seqs).logProbs.map { $0 - base }
    }

    @Test func cachedLogProbsEqualFullForward() {
        for compute in allComputes {
            let model = testModel(cfg, seed: 1, compute: compute)
            let prompts: [[Int32]] = [[256], [256, 70, 71], [256, 100], [256, 5, 6, 7, 8]]
            let samples = model.sample(prompts: prompts, options: SamplingOptions(temperature: 1, maxNewTokens: 8), seed: 3)
            for (p, s) in zip(prompts, samples) {
                #expect(Array(s.sequence.prefix(p.count)) == p)
                #expect(s.sequence.count > p.count)
                let full = model.forward([s.sequence]).logProbs[0]
                let prefix = p.count >= 2 ? model.forward([p]).logProbs[0] : 0
                #expect(abs((full - prefix) - s.logProb) < 1e-4 * max(1, abs(s.logProb)), "\(compute)")
                // The prompt's own log-prob comes from the same decoding pass.
                #expect(abs(s.promptLogProb - prefix) < 1e-4 * max(1, abs(prefix)))
                #expect(abs(s.sequenceLogProb - full) < 1e-4 * max(1, abs(full)))
                // Temperature 1 without top-k samples from the model itself.
                #expect(abs(s.logProb - s.samplingLogProb) < 1e-4 * max(1, abs(s.logProb)))
            }
        }
    }

    @Test func temperatureZeroIsArgmax() {
        let model = testModel(cfg, seed: 4, compute: Compute(threads: 1))
        let s = model.sample(prompts: [[256, 80]], options: SamplingOptions(temperature: 0, maxNewTokens: 5, stopAtEOS: false), seed: 9)[0]
        var prefix: [Int32] = [256, 80]
        for tok in s.generated {
            let lp = nextLogProbs(model, prefix)
            let best = lp.indices.max { lp[$0] < lp[$1] }!
            #expect(Int(tok) == best)
            prefix.append(tok)
        }
        #expect(s.generated.count == 5)
    }

    /// Empirical first-token frequencies match the softmax (and the temperature/top-k version
    /// of it): a chi-square statistic far below what a mismatch gives.
    @Test(arguments: [(Float(1), 0), (Float(0.7), 0), (Float(1.3), 20)])
    func frequenciesMatchSoftmax(_ temperature: Float, _ topK: Int) {
        let model = testModel(cfg, seed: 5, compute: Compute(threads: 2))
        let n = 6000
        let prompts = [[Int32]](repeating: [256, 90], count: n)
        let samples = model.sample(prompts: prompts, options: SamplingOptions(temperature: temperature, topK: topK, maxNewTokens: 1), seed: 11)
        var counts = [Int](repeating: 0, count: cfg.vocabSize)
        for s in samples { counts[Int(s.sequence[2])] += 1 }
        let lp = nextLogProbs(model, [256, 90])
        var scaled = lp.map { $0 / Double(temperature) }
        if topK > 0 {
            let cut = scaled.sorted(by: >)[topK - 1]
            scaled = scaled.map { $0 >= cut ? $0 : -.infinity }
        }
        let mx = scaled.max()!
        let z = scaled.map { exp($0 - mx) }.reduce(0, +)
        let probs = scaled.map { exp($0 - mx) / z }
        // Pool rare tokens into one cell so the chi-square approximation holds.
        var chi = 0.0, dof = -1, rareObs = 0.0, rareExp = 0.0
        for j in 0..<cfg.vocabSize {
            let e = probs[j] * Double(n)
            if topK > 0 && probs[j] == 0 { #expect(counts[j] == 0); continue }
            if e < 5 { rareObs += Double(counts[j]); rareExp += e; continue }
            chi += (Double(counts[j]) - e) * (Double(counts[j]) - e) / e
            dof += 1
        }
        if rareExp > 0 { chi += (rareObs - rareExp) * (rareObs - rareExp) / max(rareExp, 1); dof += 1 }
        // Mean dof, sd sqrt(2 dof): allow 5 sd.
        #expect(chi < Double(dof) + 5 * (2 * Double(dof)).squareRoot(), "chi2 \(chi) with \(dof) dof")
        // Sampling log-probs are the log of the sampled distribution.
        for s in samples.prefix(50) {
            #expect(abs(s.samplingLogProb - log(probs[Int(s.sequence[2])])) < 1e-4)
        }
    }

    @Test func deterministicForSeedAndIndependentOfThreads() {
        let prompts: [[Int32]] = (0..<5).map { [256, Int32(60 + $0)] }
        let opts = SamplingOptions(temperature: 1, topK: 10, maxNewTokens: 10)
        let a = testModel(cfg, seed: 6, compute: Compute(threads: 1)).sample(prompts: prompts, options: opts, seed: 42)
        let b = testModel(cfg, seed: 6, compute: Compute(threads: 2)).sample(prompts: prompts, options: opts, seed: 42)
        let c = testModel(cfg, seed: 6, compute: Compute(threads: 2)).sample(prompts: prompts, options: opts, seed: 43)
        #expect(a.map(\.sequence) == b.map(\.sequence))
        #expect(a.map(\.sequence) != c.map(\.sequence))
    }

    /// More prompts than one decoding chunk: the chunks are invisible in the results.
    @Test func chunkedSamplingMatchesSmallBatches() {
        let model = testModel(cfg, seed: 8, compute: Compute(threads: 2))
        let prompts: [[Int32]] = (0..<(Transformer.samplingChunk + 44)).map { [256, Int32(40 + $0 % 50)] }
        let opts = SamplingOptions(temperature: 1, maxNewTokens: 4)
        let all = model.sample(prompts: prompts, options: opts, seed: 5)
        let head = model.sample(prompts: Array(prompts.prefix(10)), options: opts, seed: 5)
        #expect(all.count == prompts.count)
        #expect(Array(all.prefix(10)) == head)
        #expect(zip(all, prompts).allSatisfy { Array($0.sequence.prefix(2)) == $1 })
    }

    /// A row that finishes takes the next prompt: with prompts of many lengths, so rows finish
    /// at different steps and rows are reused, every sample is what it is with fewer prompts
    /// in flight (one shard of 256 rows, two of 128, a short call).
    @Test func finishedRowsTakeTheNextPrompt() {
        let prompts: [[Int32]] = (0..<(Transformer.samplingChunk + 60)).map { (i: Int) -> [Int32] in
            let tail: [Int32] = (0..<(i % 9)).map { (j: Int) -> Int32 in Int32(30 + (j * 7 + i) % 200) }
            return [256] + tail
        }
        let opts = SamplingOptions(temperature: 1, maxNewTokens: 12)
        let two = testModel(cfg, seed: 9, compute: Compute(threads: 2)).sample(prompts: prompts, options: opts, seed: 11)
        let one = testModel(cfg, seed: 9, compute: Compute(threads: 1)).sample(prompts: prompts, options: opts, seed: 11)
        #expect(two == one)
        #expect(Set(two.map(\.generated.count)).count > 3)
        for k in [0, 7, 200, prompts.count - 1] {
            let short = testModel(cfg, seed: 9, compute: Compute(threads: 2))
                .sample(prompts: Array(prompts.prefix(k + 1)), options: opts, seed: 11)
            #expect(short[k] == two[k])
        }
    }

    @Test func stopsAtEOSAndAtContextEnd() {
        let model = testModel(cfg, seed: 7, compute: Compute(threads: 1))
        // Without EOS stops, a sample runs to the context bound (contextLength + 1 tokens).
        let long = model.sample(prompts: [[256, 1, 2, 3]], options: SamplingOptions(temperature: 1, maxNewTokens: 100, stopAtEOS: false), seed: 1)[0]
        #expect(long.sequence.count == cfg.contextLength + 1)
        #expect(model.forward([long.sequence]).logProbs[0].isFinite)
        let many = model.sample(prompts: [[Int32]](repeating: [256], count: 200), options: SamplingOptions(maxNewTokens: 12), seed: 2)
        #expect(many.contains { $0.finished } && many.contains { !$0.finished })
        for s in many {
            if s.finished { #expect(s.sequence.last == BPETokenizer.eos) }
            #expect(s.sequence.dropLast().contains(BPETokenizer.eos) == false)
        }
    }
}
