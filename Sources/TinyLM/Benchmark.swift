import CPOSupport
import Foundation

/// The measurements behind `cpo-tui bench`: each runs real work on the reference shapes and
/// reports medians, so one noisy interval does not decide the number.
public enum Benchmark {
    /// Random token sequences BOS + `length − 1` tokens (no specials), for timing.
    public static func randomSequences(count: Int, length: Int, vocab: Int, seed: UInt64) -> [[Int32]] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in
            [BPETokenizer.bos] + (0..<(length - 1)).map { _ in Int32(rng.int(below: min(256, vocab))) }
        }
    }

    public struct TrainingResult: Sendable {
        public var tokensPerSecond: Double
        public var medianStepSeconds: Double
        public var steps: Int
        /// Seconds per step spent in each phase (summed over threads, divided by threads).
        public var phaseSeconds: [StepPhase: Double]
    }

    /// Times full training steps (forward, backward, AdamW) on `batch` sequences of
    /// `contextLength + 1` tokens: at least `minSteps` steps and `minSeconds` seconds.
    public static func training(config: ModelConfig, batch: Int, compute: Compute, minSteps: Int = 10,
                                minSeconds: Double = 2, profile: Bool = false) throws -> TrainingResult {
        let model = try Transformer(config: config, seed: 1, compute: compute)
        let opt = AdamW(config: AdamWConfig(learningRate: 1e-3), parameterCount: model.parameterCount)
        let seqs = randomSequences(count: batch, length: config.contextLength + 1, vocab: config.vocabSize, seed: 2)
        let tokens = batch * config.contextLength
        func step() {
            model.zeroGrad()
            model.nextTokenLoss(seqs, backward: true)
            opt.update(model)
        }
        step(); step()   // warm-up: allocations, caches
        model.profiling = profile
        model.resetPhaseTimes()
        var times: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        while times.count < minSteps || Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 < minSeconds {
            let t0 = DispatchTime.now().uptimeNanoseconds
            step()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        times.sort()
        let median = times[times.count / 2]
        var phases: [StepPhase: Double] = [:]
        if profile {
            for (p, ns) in model.phaseNanoseconds() {
                let perThread = (p == .optimizer || p == .gradientSum) ? 1 : Double(min(compute.threads, batch))
                phases[p] = Double(ns) * 1e-9 / Double(times.count) / perThread
            }
        }
        return TrainingResult(tokensPerSecond: Double(tokens) / median, medianStepSeconds: median,
                              steps: times.count, phaseSeconds: phases)
    }

    /// Times batched sampling with the KV cache: `batch` rows from BOS, `newTokens` each
    /// (EOS does not stop them, so every call generates batch × newTokens tokens).
    public static func sampling(config: ModelConfig, batch: Int, newTokens: Int, compute: Compute,
                                repeats: Int = 7) throws -> Double {
        let model = try Transformer(config: config, seed: 1, compute: compute)
        let prompts = [[Int32]](repeating: [BPETokenizer.bos], count: batch)
        let opts = SamplingOptions(temperature: 1, topK: 0, maxNewTokens: newTokens, stopAtEOS: false)
        _ = model.sample(prompts: prompts, options: opts, seed: 0)
        var rates: [Double] = []
        for r in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let out = model.sample(prompts: prompts, options: opts, seed: UInt64(r + 1))
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            let generated = out.reduce(0) { $0 + $1.sequence.count - $1.promptLength }
            rates.append(Double(generated) / dt)
        }
        rates.sort()
        return rates[rates.count / 2]
    }

    /// Seconds to train a tokenizer to `vocabSize` on `texts` short synthetic texts (median of 3).
    public static func tokenizerTraining(texts count: Int, vocabSize: Int) throws -> Double {
        var rng = SeededRandom(seed: 3)
        let syllables = ["ka", "lo", "mi", "ren", "ta", "so", "vi", "den", "ul", "pa", "ro", "ne", "is", "at", "or"]
        var words: [String] = []
        for _ in 0..<2000 {
            let n = 1 + rng.int(below: 3)
            words.append((0..<n).map { _ in syllables[rng.int(below: syllables.count)] }.joined())
        }
        var texts: [String] = []
        for _ in 0..<count {
            var t = ""
            while t.utf8.count < 80 + rng.int(below: 70) {
                // Zipf-like: low indices are much more common.
                let u = rng.uniform()
                t += (t.isEmpty ? "" : " ") + words[Int(Double(words.count) * u * u * u)]
            }
            texts.append(t + ".")
        }
        var times: [Double] = []
        for _ in 0..<3 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try BPETokenizer.train(corpus: texts, vocabSize: vocabSize)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return times.sorted()[1]
    }

    /// Peak resident memory of this process so far (VmHWM), in MB; nil where /proc is absent.
    public static func peakResidentMB() -> Double? {
        processStatusKB("VmHWM").map { Double($0) / 1024 }
    }

    /// A memory field of this process's /proc/self/status (`VmHWM`, `VmRSS`, ...), in kB; nil
    /// where /proc is absent or the field is missing.
    public static func processStatusKB(_ field: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return line.split(separator: " ").compactMap { Int($0) }.first
        }
        return nil
    }
}
