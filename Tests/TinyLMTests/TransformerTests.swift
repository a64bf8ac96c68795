import CPOSupport
import Foundation
import Testing
@testable import TinyLM

/// Small shapes that still exercise every code path: two layers, two heads, vectors wider than
/// the head size, a context the batch fills.
let smallConfigs: [ModelConfig] = [
    ModelConfig(vocabSize: 263, contextLength: 9, dModel: 16, heads: 2, layers: 2, tiedHead: true),
    ModelConfig(vocabSize: 270, contextLength: 7, dModel: 12, heads: 3, layers: 1, tiedHead: false),
]

/// Larger-than-default initial weights, so gradients are well above finite-difference noise.
func testModel(_ cfg: ModelConfig, seed: UInt64, compute: Compute) -> Transformer {
    let m = try! Transformer(config: cfg, seed: seed, compute: compute)
    var rng = SeededRandom(seed: seed ^ 0xABCD)
    for (name, range) in m.layout.tensors {
        for i in range {
            if name.hasSuffix(".b") { m.params[i] = Float(rng.gaussian() * 0.1) }
            else if name.contains("ln") { m.params[i] = Float(1 + rng.gaussian() * 0.1) }
            else { m.params[i] = Float(rng.gaussian() * 0.3) }
        }
    }
    return m
}

@Suite("transformer forward and backward")
struct TransformerTests {
    @Test(arguments: smallConfigs)
    func forwardMatchesDoubleReference(_ cfg: ModelConfig) {
        for compute in allComputes {
            let model = testModel(cfg, seed: 1, compute: compute)
            let seqs = randomSequences(count: 5, lengths: 2...(cfg.contextLength + 1), vocab: cfg.vocabSize, seed: 2)
            let r = model.forward(seqs, entropy: true)
            for (i, s) in seqs.enumerated() {
                let ref = referenceLogSoftmax(params: model.params.array, config: cfg, inputs: Array(s.dropLast()))
                var lp = 0.0, ent = 0.0
                for pos in 0..<(s.count - 1) {
                    lp += ref[pos][Int(s[pos + 1])]
                    ent -= ref[pos].reduce(0) { $0 + exp($1) * $1 }
                }
                #expect(abs(r.logProbs[i] - lp) < 1e-4 * max(1, abs(lp)), "\(compute) seq \(i)")
                #expect(abs(r.entropySums![i] - ent) < 1e-4 * max(1, abs(ent)))
                #expect(r.tokenCounts[i] == s.count - 1)
            }
        }
    }

    /// Interface (b)'s per-sequence logP is the sum of the per-token log-probs that interface
    /// (a)'s loss averages, and neither depends on what else is in the batch (padding, shards).
    @Test func logProbsAreBatchIndependentAndMatchTokenLoss() {
        let cfg = smallConfigs[0]
        let model = testModel(cfg, seed: 3, compute: Compute(threads: 2))
        let seqs = randomSequences(count: 7, lengths: 2...10, vocab: cfg.vocabSize, seed: 4)
        let batched = model.forward(seqs).logProbs
        var total = 0.0, tokens = 0
        for (i, s) in seqs.enumerated() {
            let alone = model.forward([s]).logProbs[0]
            #expect(abs(alone - batched[i]) < 1e-5 * max(1, abs(alone)))
            let ce = model.nextTokenLoss([s])
            #expect(abs(-ce * Double(s.count - 1) - alone) < 1e-5 * max(1, abs(alone)))
            total += alone
            tokens += s.count - 1
        }
        #expect(abs(model.nextTokenLoss(seqs) - (-total / Double(tokens))) < 1e-6)
    }

    /// L = Σ a_i logP_i + Σ k_i KL_i + Σ e_i H_i through forward/backward, against central
    /// differences on a sample of entries of every parameter tensor.
    @Test(arguments: smallConfigs)
    func fullModelGradientMatchesFiniteDifferences(_ cfg: ModelConfig) {
        let compute = Compute(threads: 2).fp32   // finite differences check the fp32 gradient
        let model = testModel(cfg, seed: 5, compute: compute)
        let reference = testModel(cfg, seed: 6, compute: compute)
        let seqs = randomSequences(count: 4, lengths: 3...(cfg.contextLength + 1), vocab: cfg.vocabSize, seed: 7)
        let a: [Float] = [0.9, -0.4, 0.3, 0.6], k: [Float] = [0.2, 0.5, -0.1, 0.3], e: [Float] = [-0.3, 0.1, 0.4, 0.2]
        func loss() -> Double {
            let r = model.forward(seqs, reference: reference, entropy: true)
            var L = 0.0
            for i in 0..<seqs.count {
                L += Double(a[i]) * r.logProbs[i] + Double(k[i]) * r.klSums![i] + Double(e[i]) * r.entropySums![i]
            }
            return L
        }
        _ = loss()
        model.zeroGrad()
        model.backward(.init(logProb: a, kl: k, entropy: e))
        let analytic = model.grads.array
        var rng = SeededRandom(seed: 8)
        for (name, range) in model.layout.tensors {
            // Every entry of small tensors; a random sample of the large ones.
            let picks = range.count <= 48 ? Array(range) : (0..<48).map { _ in range.lowerBound + rng.int(below: range.count) }
            var an: [Double] = [], fd: [Double] = []
            for i in picks {
                let old = model.params[i]
                let eps: Float = 1e-2
                model.params[i] = old + eps
                let lp = loss()
                model.params[i] = old - eps
                let lm = loss()
                model.params[i] = old
                fd.append((lp - lm) / Double(2 * eps))
                an.append(Double(analytic[i]))
            }
            let err = relativeError(an, fd)
            #expect(err < 5e-3, "\(name): relative error \(err)")
        }
    }

    /// Interface (a): the gradient of the mean cross-entropy, checked the same way.
    @Test func nextTokenLossGradientMatchesFiniteDifferences() {
        let cfg = smallConfigs[0]
        let model = testModel(cfg, seed: 9, compute: Compute(threads: 1).fp32)
        let seqs = randomSequences(count: 3, lengths: 2...(cfg.contextLength + 1), vocab: cfg.vocabSize, seed: 10)
        model.zeroGrad()
        model.nextTokenLoss(seqs, backward: true)
        let analytic = model.grads.array
        var rng = SeededRandom(seed: 11)
        var an: [Double] = [], fd: [Double] = []
        for _ in 0..<200 {
            let i = rng.int(below: model.parameterCount)
            let old = model.params[i]
            model.params[i] = old + 1e-2
            let lp = model.nextTokenLoss(seqs)
            model.params[i] = old - 1e-2
            let lm = model.nextTokenLoss(seqs)
            model.params[i] = old
            fd.append((lp - lm) / 2e-2)
            an.append(Double(analytic[i]))
        }
        #expect(relativeError(an, fd) < 5e-3)
    }

    /// Gradients do not depend on the kernel path or on how the batch is split over threads.
    @Test func gradientsAgreeAcrossPathsAndThreads() {
        let cfg = smallConfigs[0]
        let seqs = randomSequences(count: 5, lengths: 2...10, vocab: cfg.vocabSize, seed: 12)
        var results: [[Float]] = []
        for compute in allComputes {
            let model = testModel(cfg, seed: 13, compute: compute)
            model.zeroGrad()
            model.nextTokenLoss(seqs, backward: true)
            results.append(model.grads.array)
        }
        let base = results[0].map(Double.init)
        for r in results.dropFirst() { #expect(relativeError(r.map(Double.init), base) < 1e-4) }
    }

    @Test func invalidConfigurationsAreRefused() {
        #expect(throws: ModelConfigError.self) { try Transformer(config: ModelConfig(vocabSize: 258), seed: 0) }
        #expect(throws: ModelConfigError.self) { try Transformer(config: ModelConfig(contextLength: 0), seed: 0) }
        #expect(throws: ModelConfigError.self) { try Transformer(config: ModelConfig(dModel: 10, heads: 3), seed: 0) }
        #expect(ParameterLayout(.tiny).count == 470_528)   // the reference count in TinyLM.docc/Kernels.md, "Anchors"
    }
}

@Suite("batches and workspaces")
struct BatchIndependenceTests {
    let cfg = ModelConfig(vocabSize: 263, contextLength: 12, dModel: 16, heads: 2, layers: 2)

    /// A sequence's log-prob, KL and entropy are the same bits whatever else its batch holds (and
    /// so however long the batch is padded): callers may group sequences as they like (Lab
    /// scores them shortest first).
    @Test func aSequenceScoresTheSameInAnyBatch() {
        let seqs = randomSequences(count: 9, lengths: 2...13, vocab: 256, seed: 21)
        for compute in allComputes {
            let model = testModel(cfg, seed: 22, compute: compute)
            let reference = testModel(cfg, seed: 23, compute: compute)
            let all = model.forward(seqs, reference: reference, entropy: true)
            for (i, s) in seqs.enumerated() {
                let alone = model.forward([s], reference: reference, entropy: true)
                #expect(alone.logProbs[0].bitPattern == all.logProbs[i].bitPattern, "\(compute)")
                #expect(alone.klSums![0].bitPattern == all.klSums![i].bitPattern, "\(compute)")
                #expect(alone.entropySums![0].bitPattern == all.entropySums![i].bitPattern, "\(compute)")
            }
            let reversed = model.forward(seqs.reversed()).logProbs
            #expect(reversed.reversed().map(\.bitPattern) == all.logProbs.map(\.bitPattern), "\(compute)")
        }
    }

    /// Models that share a workspace compute what each computes with its own: forward results
    /// and gradients are the same bits, with and without a reference model, and the shared
    /// workspace is one set of activations, not one per model.
    @Test func sharedWorkspaceChangesNoNumber() {
        let seqs = randomSequences(count: 6, lengths: 2...13, vocab: 256, seed: 24)
        let coefficients = Transformer.Coefficients(logProb: (0..<6).map { Float($0) - 2.5 }, kl: (0..<6).map { 0.1 * Float($0) })
        func step(_ model: Transformer, _ reference: Transformer) -> (ForwardBits, [Float]) {
            model.zeroGrad()
            let r = model.forward(seqs, reference: reference)
            model.backward(coefficients)
            return (ForwardBits(r), model.grads.array)
        }
        for compute in allComputes {
            let ft = testModel(cfg, seed: 25, compute: compute)
            let alone = ft.copy(), shared = ft.copy()
            for p in 0..<alone.parameterCount where p % 7 == 0 {
                alone.params[p] += 0.01
                shared.params[p] += 0.01
            }
            shared.shareWorkspace(with: ft)
            // Passes of FT in between overwrite the shared activations; each forward lays them out again.
            _ = ft.forward(Array(seqs.prefix(2)))
            let a = step(alone, ft), b = step(shared, ft)
            #expect(a.0 == b.0, "\(compute)")
            #expect(a.1.map(\.bitPattern) == b.1.map(\.bitPattern), "\(compute)")
            _ = ft.forward(seqs)
            let c = step(shared, ft)
            #expect(c.0 == a.0 && c.1.map(\.bitPattern) == a.1.map(\.bitPattern), "\(compute)")
            #expect(shared.workspace === ft.workspace && alone.workspace !== ft.workspace)
            #expect(shared.workspaceBytes == ft.workspaceBytes)
        }
    }

    /// A forward result as bit patterns (NaN-safe equality).
    struct ForwardBits: Equatable {
        var logProbs: [UInt64], kl: [UInt64]?, entropy: [UInt64]?
        init(_ r: Transformer.ForwardResult) {
            logProbs = r.logProbs.map(\.bitPattern)
            kl = r.klSums?.map(\.bitPattern)
            entropy = r.entropySums?.map(\.bitPattern)
        }
    }
}
