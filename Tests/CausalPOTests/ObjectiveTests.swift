import CPOSupport
import Foundation
import Testing
@testable import CausalPO

func randomVector(_ n: Int, _ rng: inout SeededRandom, scale: Double = 1, shift: Double = 0) -> [Double] {
    (0..<n).map { _ in shift + scale * rng.gaussian() }
}

/// A batch with everything every objective needs.
func randomBatch(rows: Int = 8, samples: Int = 8, seed: UInt64) -> ObjectiveBatch {
    var rng = SeededRandom(seed: seed)
    let logPR = randomVector(rows, &rng, scale: 2, shift: -30)
    let logP = zip(logPR, randomVector(rows, &rng, scale: 0.5)).map { $0 + $1 }
    let y = randomVector(rows, &rng, scale: 10, shift: 50)
    let ghat = zip(y, randomVector(rows, &rng, scale: 5)).map { $0 + $1 }
    let s0 = randomVector(samples, &rng, scale: 2, shift: -28)
    let s = zip(s0, randomVector(samples, &rng, scale: 0.5)).map { $0 + $1 }
    let sg = randomVector(samples, &rng, scale: 5, shift: 50)
    let ft = zip(logPR, randomVector(rows, &rng, scale: 0.3)).map { $0 + $1 }
    let threshold = y.sorted()[rows * 3 / 4]
    let pairs = (0..<rows).flatMap { i in (0..<rows).compactMap { j in y[i] > y[j] + 5 ? (chosen: i, rejected: j) : nil } }
    return ObjectiveBatch(logP: logP, logPR: logPR, outcomes: y, ghat: ghat, sampleLogP: s, sampleLogP0: s0,
                          sampleGhat: sg, logPFT: ft, selected: y.map { $0 >= threshold }, outcomeSD: 10, pairs: pairs)
}

@Suite("objectives")
struct ObjectiveTests {
    static let optionSets: [ObjectiveOptions] = [
        ObjectiveOptions(),
        ObjectiveOptions(normalization: .horvitzThompson),
        ObjectiveOptions(rwrTemperature: 0.5, dpoBeta: 0.3),
        // Horvitz-Thompson with the absolute ratio clip: bounds that clip some rows and samples.
        ObjectiveOptions(htClip: 1.5),
        ObjectiveOptions(htClip: 3),
        // The robust objective: the worst case within Λ = 2, self-normalized and un-normalized.
        ObjectiveOptions(robustLambda: 2),
        ObjectiveOptions(normalization: .horvitzThompson, robustLambda: 2),
    ]

    /// Central differences of the loss against the returned gradient, for every objective,
    /// with respect to both the row log-probs and the f0-sample log-probs.
    @Test(arguments: Method.allCases, optionSets)
    func gradientMatchesFiniteDifferences(_ method: Method, _ options: ObjectiveOptions) {
        let b = randomBatch(seed: 1)
        let out = Objectives.evaluate(method, b, options: options)
        let eps = 1e-5
        for i in 0..<b.logP.count {
            var p = b, m = b
            p.logP[i] += eps
            m.logP[i] -= eps
            let fd = (Objectives.evaluate(method, p, options: options).loss - Objectives.evaluate(method, m, options: options).loss) / (2 * eps)
            #expect(abs(fd - out.gradLogP[i]) < 1e-6 * max(1, abs(fd)), "\(method) row \(i): fd \(fd) vs \(out.gradLogP[i])")
        }
        for j in 0..<b.sampleLogP.count {
            var p = b, m = b
            p.sampleLogP[j] += eps
            m.sampleLogP[j] -= eps
            let fd = (Objectives.evaluate(method, p, options: options).loss - Objectives.evaluate(method, m, options: options).loss) / (2 * eps)
            #expect(abs(fd - out.gradSampleLogP[j]) < 1e-6 * max(1, abs(fd)), "\(method) sample \(j)")
        }
    }

    @Test func hajekWeightsAreUniformAtThePolicyThatGeneratedTheData() {
        var b = randomBatch(seed: 2)
        b.logP = b.logPR
        let out = Objectives.cpo(b, options: ObjectiveOptions())
        for w in out.weights { #expect(abs(w - 1.0 / 8) < 1e-12) }
        let mean = b.outcomes.reduce(0, +) / 8
        #expect(abs(out.value - mean) < 1e-9)
    }

    @Test func drCPOWithPerfectOutcomeModelIsTheOutcomeTerm() {
        var b = randomBatch(seed: 3)
        b.ghat = b.outcomes
        let dr = Objectives.drCPO(b, options: ObjectiveOptions())
        let oo = Objectives.ooRLHF(b)
        #expect(abs(dr.loss - oo.loss) < 1e-9)
        for g in dr.gradLogP { #expect(abs(g) < 1e-12) }
        #expect(dr.gradSampleLogP == oo.gradSampleLogP)
    }

    @Test(arguments: [WeightNormalization.hajek, .horvitzThompson])
    func drCPOWithZeroOutcomeModelIsCPO(_ norm: WeightNormalization) {
        var b = randomBatch(seed: 4)
        b.ghat = b.outcomes.map { _ in 0 }
        b.sampleGhat = b.sampleGhat.map { _ in 0 }
        let dr = Objectives.drCPO(b, options: ObjectiveOptions(normalization: norm))
        let cpo = Objectives.cpo(b, options: ObjectiveOptions(normalization: norm))
        #expect(abs(dr.loss - cpo.loss) < 1e-9)
        for (a, c) in zip(dr.gradLogP, cpo.gradLogP) { #expect(abs(a - c) < 1e-12) }
        for g in dr.gradSampleLogP { #expect(g == 0) }
    }

    @Test func cpoHajekGradientIgnoresAConstantShiftOfOutcomes() {
        let b = randomBatch(seed: 5)
        var shifted = b
        shifted.outcomes = b.outcomes.map { $0 + 1000 }
        let g1 = Objectives.cpo(b, options: ObjectiveOptions()).gradLogP
        let g2 = Objectives.cpo(shifted, options: ObjectiveOptions()).gradLogP
        for (a, c) in zip(g1, g2) { #expect(abs(a - c) < 1e-9) }
        // Horvitz-Thompson is not shift-invariant: the shift changes its gradient.
        let h1 = Objectives.cpo(b, options: ObjectiveOptions(normalization: .horvitzThompson)).gradLogP
        let h2 = Objectives.cpo(shifted, options: ObjectiveOptions(normalization: .horvitzThompson)).gradLogP
        #expect(zip(h1, h2).contains { abs($0 - $1) > 1e-3 })
    }

    @Test func clippingStopsRowsThatAlreadyMovedFar() {
        var b = randomBatch(seed: 6)
        b.logP = b.logPR
        b.logP[0] += 2          // ratio ≫ 1 + ε for row 0
        let clipped = Objectives.cpo(b, options: ObjectiveOptions(clip: 0.2))
        let free = Objectives.cpo(b, options: ObjectiveOptions())
        #expect(clipped.clippedShare > 0)
        // Row 0 is clipped exactly when its unclipped gradient would raise its ratio further.
        if free.gradLogP[0] < 0 { #expect(clipped.gradLogP[0] == 0) } else { #expect(clipped.gradLogP[0] == free.gradLogP[0]) }
        // Nothing is clipped at the start (all ratios 1).
        var start = b
        start.logP = b.logPR
        #expect(Objectives.cpo(start, options: ObjectiveOptions(clip: 0.2)).clippedShare == 0)
    }

    @Test func tokenTermsAreMeansOverTokens() {
        let c = Objectives.tokenTermCoefficients(tokenCounts: [10, 20], options: ObjectiveOptions(entropyBonus: 0.1, klToFT: 0.5))
        #expect(abs(c.kl[0] - 0.5 / 20) < 1e-15 && abs(c.kl[1] - 0.5 / 40) < 1e-15)
        #expect(abs(c.entropy[0] + 0.1 / 20) < 1e-15)
        let off = Objectives.tokenTermCoefficients(tokenCounts: [10], options: ObjectiveOptions())
        #expect(off.kl == [0] && off.entropy == [0])
    }
}
