import Foundation
import Testing
@testable import CausalPO

/// Every objective's loss and per-sequence coefficients (dLoss/dlogP) on a batch of three rows
/// and three f0 samples, against its formula in CausalPO.docc/Methods.md written out by hand;
/// and the direction each one pushes. (`ObjectiveTests.gradientMatchesFiniteDifferences` checks
/// that the coefficients are the loss's derivatives; these check the loss itself.)
@Suite("objective values by hand")
struct ObjectiveValueTests {
    /// Three rows and three f0 samples:
    ///   rows:    logP − logP^R = (0.5, 0, −0.5), Y = (3, 1, 2), ĝ = (2, 1.5, 2.5): residuals (1, −0.5, −0.5);
    ///            logP − logP^FT = (0.25, 0.5, 0); rows 0 and 2 selected; sd(Y) = 2;
    ///            pairs by outcome (0, 1), (0, 2), (2, 1);
    ///   samples: logP − logP^{f0} = (0, 0.5, −0.5), ĝ = (2, 4, 1).
    static let batch = ObjectiveBatch(
        logP: [-1, -2, -3], logPR: [-1.5, -2, -2.5], outcomes: [3, 1, 2], ghat: [2, 1.5, 2.5],
        sampleLogP: [-2, -1, -3], sampleLogP0: [-2, -1.5, -2.5], sampleGhat: [2, 4, 1],
        logPFT: [-1.25, -2.5, -3], selected: [true, false, true], outcomeSD: 2, pairs: [(0, 1), (0, 2), (2, 1)])

    struct ByHand {
        var loss: Double
        var gradLogP: [Double]
        var gradSampleLogP: [Double]
        var weights: [Double] = []
        var sampleWeights: [Double] = []
    }

    // The rows' importance weights e^{logP − logP^R} = (e^0.5, 1, e^−0.5) and the samples' (1, e^0.5, e^−0.5).
    static let rowRatios = [exp(0.5), 1, exp(-0.5)]
    static let sampleRatios = [1, exp(0.5), exp(-0.5)]

    /// V_OUT = Σ_j w̃_j ĝ_j, w̃ = softmax(logP̃ − logP̃0), dLoss/dlogP̃_j = −w̃_j (ĝ_j − V_OUT).
    static var outcomeTerm: (value: Double, grad: [Double], weights: [Double]) {
        let z = 1 + exp(0.5) + exp(-0.5)
        let w = [1 / z, exp(0.5) / z, exp(-0.5) / z]
        let v = (2 + 4 * exp(0.5) + 1 * exp(-0.5)) / z
        return (v, [-w[0] * (2 - v), -w[1] * (4 - v), -w[2] * (1 - v)], w)
    }

    /// The paper's objective (`ObjectiveOptions()`); a new method must add its closed form here.
    static func byHand(_ method: Method) -> ByHand {
        let none = [0.0, 0, 0]
        switch method {
        case .ft:
            // −(1/B) Σ logP.
            return ByHand(loss: (1 + 2 + 3) / 3.0, gradLogP: [-1 / 3.0, -1 / 3.0, -1 / 3.0], gradSampleLogP: none)
        case .ooRLHF:
            let o = outcomeTerm
            return ByHand(loss: -o.value, gradLogP: none, gradSampleLogP: o.grad, sampleWeights: o.weights)
        case .cpo:
            // Hajek: w = softmax(logP − logP^R), V = Σ w Y, dLoss/dlogP_i = −w_i (Y_i − V).
            let z = exp(0.5) + 1 + exp(-0.5)
            let w = [exp(0.5) / z, 1 / z, exp(-0.5) / z]
            let v = (3 * exp(0.5) + 1 + 2 * exp(-0.5)) / z
            return ByHand(loss: -v, gradLogP: [-w[0] * (3 - v), -w[1] * (1 - v), -w[2] * (2 - v)], gradSampleLogP: none, weights: w)
        case .drCPO:
            // Σ w (Y − ĝ) + V_OUT: the residual term on the rows, V_OUT on the samples.
            let z = exp(0.5) + 1 + exp(-0.5)
            let w = [exp(0.5) / z, 1 / z, exp(-0.5) / z]
            let vr = (1 * exp(0.5) - 0.5 - 0.5 * exp(-0.5)) / z
            let o = outcomeTerm
            return ByHand(loss: -(vr + o.value), gradLogP: [-w[0] * (1 - vr), -w[1] * (-0.5 - vr), -w[2] * (-0.5 - vr)],
                          gradSampleLogP: o.grad, weights: w, sampleWeights: o.weights)
        case .filteredSFT:
            // −(1/k) Σ_{selected} logP, k = 2: rows 0 and 2.
            return ByHand(loss: (1 + 3) / 2.0, gradLogP: [-0.5, 0, -0.5], gradSampleLogP: none, weights: [0.5, 0, 0.5])
        case .rwr:
            // ω = softmax(Y / (τ·sd)) = softmax(1.5, 0.5, 1), loss = −Σ ω logP.
            let z = exp(1.5) + exp(0.5) + exp(1.0)
            let omega = [exp(1.5) / z, exp(0.5) / z, exp(1.0) / z]
            return ByHand(loss: omega[0] * 1 + omega[1] * 2 + omega[2] * 3, gradLogP: omega.map { -$0 }, gradSampleLogP: none,
                          weights: omega)
        case .dpo:
            // z = β[(logP_c − logFT_c) − (logP_r − logFT_r)] with β = 0.1 and logP − logFT = (0.25, 0.5, 0):
            // pairs (0, 1): −0.025, (0, 2): 0.025, (2, 1): −0.05. loss = mean log(1 + e^{−z}); each pair
            // adds ∓β σ(−z)/3 to its chosen and rejected rows.
            let beta = 0.1
            let z01 = -0.025, z02 = 0.025, z21 = -0.05
            let loss = (log(1 + exp(-z01)) + log(1 + exp(-z02)) + log(1 + exp(-z21))) / 3
            let s01 = 1 / (1 + exp(z01)), s02 = 1 / (1 + exp(z02)), s21 = 1 / (1 + exp(z21))
            return ByHand(loss: loss, gradLogP: [-beta * (s01 + s02) / 3, beta * (s01 + s21) / 3, beta * (s02 - s21) / 3],
                          gradSampleLogP: none)
        }
    }

    static func expectClose(_ a: [Double], _ b: [Double], _ what: String, tolerance: Double = 1e-12,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.count == b.count, "\(what): \(a.count) vs \(b.count) entries", sourceLocation: sourceLocation)
        for (i, (x, y)) in zip(a, b).enumerated() {
            #expect(abs(x - y) < tolerance, "\(what)[\(i)]: \(x) vs \(y)", sourceLocation: sourceLocation)
        }
    }

    static func expect(_ out: ObjectiveOutput, equals e: ByHand, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(abs(out.loss - e.loss) < 1e-12, "\(what) loss: \(out.loss) vs \(e.loss)", sourceLocation: sourceLocation)
        expectClose(out.gradLogP, e.gradLogP, "\(what) dLoss/dlogP", sourceLocation: sourceLocation)
        expectClose(out.gradSampleLogP, e.gradSampleLogP, "\(what) dLoss/dlogP̃", sourceLocation: sourceLocation)
        expectClose(out.weights, e.weights, "\(what) weights", sourceLocation: sourceLocation)
        expectClose(out.sampleWeights, e.sampleWeights, "\(what) sample weights", sourceLocation: sourceLocation)
    }

    @Test(arguments: Method.allCases)
    func lossAndCoefficientsByHand(_ method: Method) {
        #expect(Objectives.outcomeRankedPairs(outcomes: Self.batch.outcomes).map { [$0.chosen, $0.rejected] } == [[0, 1], [0, 2], [2, 1]])
        Self.expect(Objectives.evaluate(method, Self.batch, options: ObjectiveOptions()), equals: Self.byHand(method), "\(method)")
    }

    // MARK: The options each formula reads

    /// Horvitz-Thompson: w_i = e^{logP − logP^R}/B, V = Σ w Y, dLoss/dlogP_i = −w_i r_i. V_OUT
    /// stays self-normalized.
    @Test func horvitzThompsonByHand() {
        let opts = ObjectiveOptions(normalization: .horvitzThompson)
        let w = Self.rowRatios.map { $0 / 3 }
        Self.expect(Objectives.cpo(Self.batch, options: opts),
                    equals: ByHand(loss: -(3 * w[0] + 1 * w[1] + 2 * w[2]), gradLogP: [-3 * w[0], -1 * w[1], -2 * w[2]],
                                   gradSampleLogP: [0, 0, 0], weights: w), "CPO")
        let o = Self.outcomeTerm
        Self.expect(Objectives.drCPO(Self.batch, options: opts),
                    equals: ByHand(loss: -(1 * w[0] - 0.5 * w[1] - 0.5 * w[2] + o.value), gradLogP: [-1 * w[0], 0.5 * w[1], 0.5 * w[2]],
                                   gradSampleLogP: o.grad, weights: w, sampleWeights: o.weights), "DR-CPO")
        // With positive outcomes every row is pushed up, the likelier and better ones most.
        let g = Objectives.cpo(Self.batch, options: opts).gradLogP
        #expect(g.allSatisfy { $0 < 0 } && g[0] < g[2] && g[2] < g[1])
    }

    /// RWR's temperature in units of sd(Y): τ = 0.5 gives ω = softmax(Y / 1) = softmax(3, 1, 2);
    /// DPO's β = 0.5 scales every margin (and its coefficients) by 5 relative to β = 0.1.
    @Test func temperatureAndBetaByHand() {
        let z = exp(3.0) + exp(1.0) + exp(2.0)
        let omega = [exp(3.0) / z, exp(1.0) / z, exp(2.0) / z]
        Self.expect(Objectives.rwr(Self.batch, options: ObjectiveOptions(rwrTemperature: 0.5)),
                    equals: ByHand(loss: omega[0] * 1 + omega[1] * 2 + omega[2] * 3, gradLogP: omega.map { -$0 },
                                   gradSampleLogP: [0, 0, 0], weights: omega), "RWR τ 0.5")
        let beta = 0.5
        let z01 = -0.125, z02 = 0.125, z21 = -0.25
        let s01 = 1 / (1 + exp(z01)), s02 = 1 / (1 + exp(z02)), s21 = 1 / (1 + exp(z21))
        Self.expect(Objectives.dpo(Self.batch, options: ObjectiveOptions(dpoBeta: beta)),
                    equals: ByHand(loss: (log(1 + exp(-z01)) + log(1 + exp(-z02)) + log(1 + exp(-z21))) / 3,
                                   gradLogP: [-beta * (s01 + s02) / 3, beta * (s01 + s21) / 3, beta * (s02 - s21) / 3],
                                   gradSampleLogP: [0, 0, 0]), "DPO β 0.5")
    }

    // MARK: Which way each method pushes

    /// RWR pushes every row's likelihood up, a better row's more: the coefficients are −ω,
    /// ordered by outcome, summing to −1; a lower temperature concentrates them on the best row.
    @Test func rwrPushesBetterRowsUpMore() {
        let g = Objectives.rwr(Self.batch, options: ObjectiveOptions()).gradLogP
        // Y = (3, 1, 2): row 0 most, then row 2, then row 1.
        #expect(g[0] < g[2] && g[2] < g[1] && g[1] < 0)
        #expect(abs(g.reduce(0, +) + 1) < 1e-12)
        let sharp = Objectives.rwr(Self.batch, options: ObjectiveOptions(rwrTemperature: 0.25)).gradLogP
        #expect(sharp[0] < g[0] && sharp[1] > g[1])
    }

    /// filtered-SFT touches only the selected rows, each by −1/k, whatever the others' outcomes
    /// or log-probabilities; with none selected it does nothing.
    @Test func filteredSFTTouchesOnlyTheSelectedRows() {
        var b = Self.batch
        let before = Objectives.filteredSFT(b)
        b.logP[1] -= 7
        b.outcomes = [-5, 100, 0]
        let after = Objectives.filteredSFT(b)
        #expect(after.loss == before.loss && after.gradLogP == before.gradLogP && after.gradLogP[1] == 0)
        b.selected = [false, false, false]
        let empty = Objectives.filteredSFT(b)
        #expect(empty.loss == 0 && empty.gradLogP == [0, 0, 0])
    }

    /// DPO widens the margin of every preferred text: a small step against the coefficients
    /// raises each pair's z (and lowers the loss). It is blind to a shift shared by all rows
    /// (the coefficients sum to 0), and at logP = logFT every pair's loss is log 2.
    @Test func dpoWidensEveryPreferredMargin() {
        let opts = ObjectiveOptions()
        let b = Self.batch
        let out = Objectives.dpo(b, options: opts)
        #expect(abs(out.gradLogP.reduce(0, +)) < 1e-15)
        var stepped = b
        stepped.logP = zip(b.logP, out.gradLogP).map { $0 - 0.1 * $1 }
        func margin(_ x: ObjectiveBatch, _ c: Int, _ r: Int) -> Double { (x.logP[c] - x.logPFT![c]) - (x.logP[r] - x.logPFT![r]) }
        for (c, r) in b.pairs { #expect(margin(stepped, c, r) > margin(b, c, r), "pair (\(c), \(r))") }
        #expect(Objectives.dpo(stepped, options: opts).loss < out.loss)
        var atFT = b
        atFT.logP = b.logPFT!
        #expect(abs(Objectives.dpo(atFT, options: opts).loss - log(2)) < 1e-15)
    }

    /// CPO (Hajek) pushes up the rows above the weighted mean and down those below it; OO-RLHF
    /// does the same to the f0 samples by ĝ and never reads the rows' outcomes.
    @Test func cpoAndOORLHFPushTowardBetterTexts() {
        let cpo = Objectives.cpo(Self.batch, options: ObjectiveOptions())
        // V ≈ 2.20: row 0 (Y = 3) up, rows 1 and 2 (Y = 1, 2) down, row 1 more than its weight alone says.
        #expect(cpo.gradLogP[0] < 0 && cpo.gradLogP[1] > 0 && cpo.gradLogP[2] > 0)
        let oo = Objectives.ooRLHF(Self.batch)
        // ĝ = (2, 4, 1), V_OUT ≈ 2.78: sample 1 up, samples 0 and 2 down.
        #expect(oo.gradSampleLogP[1] < 0 && oo.gradSampleLogP[0] > 0 && oo.gradSampleLogP[2] > 0)
        var b = Self.batch
        b.outcomes = [-40, 7, 1000]
        let other = Objectives.ooRLHF(b)
        #expect(other.loss == oo.loss && other.gradSampleLogP == oo.gradSampleLogP && other.gradLogP == [0, 0, 0])
    }

    // MARK: The ratio clip (`clip`) under both weight kinds

    /// Hajek, ρ_i = B·w_i. Four rows with logP − logP^R = (0.5, 0.5, −0.5, −0.5) and Y = (3, 0, 3, 0):
    /// w = (e^.5, e^.5, e^−.5, e^−.5)/Z, Z = 2e^.5 + 2e^−.5, V = 1.5, ρ = 4w ≈ (1.46, 1.46, 0.54, 0.54).
    /// With ε = 0.2:
    ///   row 0: ρ > 1.2 and pushed up (Y > V): clipped, coefficient 0;
    ///   row 1: ρ > 1.2 but pushed down (toward 1): keeps −w(0 − 1.5) = 1.5 e^.5/Z;
    ///   row 2: ρ < 0.8 but pushed up (toward 1): keeps −w(3 − 1.5) = −1.5 e^−.5/Z;
    ///   row 3: ρ < 0.8 and pushed down: clipped.
    /// The loss is the unclipped value; the band's edges are 1 ± ε exactly.
    @Test func hajekRatioClipByHand() {
        let b = ObjectiveBatch(logP: [-1.5, -1.5, -2.5, -2.5], logPR: [-2, -2, -2, -2], outcomes: [3, 0, 3, 0])
        let z = 2 * exp(0.5) + 2 * exp(-0.5)
        let w = [exp(0.5) / z, exp(0.5) / z, exp(-0.5) / z, exp(-0.5) / z]
        let free = [-1.5 * w[0], 1.5 * w[1], -1.5 * w[2], 1.5 * w[3]]
        let clipped = Objectives.cpo(b, options: ObjectiveOptions(clip: 0.2))
        Self.expect(clipped, equals: ByHand(loss: -1.5, gradLogP: [0, free[1], free[2], 0], gradSampleLogP: [], weights: w), "ε 0.2")
        #expect(clipped.clippedShare == 0.5)
        // ρ_high = 4e^.5/Z ≈ 1.462 and ρ_low ≈ 0.538: inside [0.5, 1.5], outside [0.55, 1.45].
        let rhoHigh = 4 * exp(0.5) / z, rhoLow = 4 * exp(-0.5) / z
        #expect(rhoHigh < 1.5 && rhoHigh > 1.45 && rhoLow > 0.5 && rhoLow < 0.55)
        let wide = Objectives.cpo(b, options: ObjectiveOptions(clip: 0.5))
        Self.expectClose(wide.gradLogP, free, "ε 0.5")
        #expect(wide.clippedShare == 0)
        Self.expectClose(Objectives.cpo(b, options: ObjectiveOptions(clip: 0.45)).gradLogP, [0, free[1], free[2], 0], "ε 0.45")
        // Batch-relative: the same rows clip when every row loses the same probability.
        var leaked = b
        leaked.logP = b.logP.map { $0 - 1 }
        #expect(Objectives.cpo(leaked, options: ObjectiveOptions(clip: 0.2)).gradLogP.map { $0 == 0 } == [true, false, false, true])
    }

    /// Horvitz-Thompson, ρ_i = e^{logP − logP^R}: the same log-ratios with Y = (3, −1, 3, −1),
    /// w = ρ/4, V = (e^.5 + e^−.5)/2, ρ ≈ (1.65, 1.65, 0.61, 0.61). With ε = 0.2:
    ///   row 0 (ρ high, pushed up): clipped;   row 1 (ρ high, Y < 0 pushes it down): keeps e^.5/4;
    ///   row 2 (ρ low, pushed up): keeps −3e^−.5/4;   row 3 (ρ low, pushed down): clipped.
    /// The ratio is absolute: when every row loses probability, every ratio leaves the band low.
    @Test func horvitzThompsonRatioClipByHand() {
        let b = ObjectiveBatch(logP: [-1.5, -1.5, -2.5, -2.5], logPR: [-2, -2, -2, -2], outcomes: [3, -1, 3, -1])
        let w = [exp(0.5) / 4, exp(0.5) / 4, exp(-0.5) / 4, exp(-0.5) / 4]
        let free = [-3 * w[0], 1 * w[1], -3 * w[2], 1 * w[3]]
        let v = (exp(0.5) + exp(-0.5)) / 2
        let hajekOff = ObjectiveOptions(normalization: .horvitzThompson)
        Self.expect(Objectives.cpo(b, options: hajekOff), equals: ByHand(loss: -v, gradLogP: free, gradSampleLogP: [], weights: w), "unclipped")
        var opts = hajekOff
        opts.clip = 0.2
        let clipped = Objectives.cpo(b, options: opts)
        Self.expect(clipped, equals: ByHand(loss: -v, gradLogP: [0, free[1], free[2], 0], gradSampleLogP: [], weights: w), "ε 0.2")
        #expect(clipped.clippedShare == 0.5)
        // e^.5 ≈ 1.6487 lies inside [0.35, 1.65] but not [0.4, 1.6]; e^−.5 ≈ 0.607 inside both.
        opts.clip = 0.65
        Self.expectClose(Objectives.cpo(b, options: opts).gradLogP, free, "ε 0.65")
        opts.clip = 0.6
        let edge = Objectives.cpo(b, options: opts)
        Self.expectClose(edge.gradLogP, [0, free[1], free[2], free[3]], "ε 0.6")
        #expect(edge.clippedShare == 0.25)
        // Every row loses one nat: ρ ≈ (0.61, 0.61, 0.22, 0.22), all below 0.8; the rows pushed
        // down (Y = −1) stop, the rows pushed up keep their gradient.
        var leaked = b
        leaked.logP = b.logP.map { $0 - 1 }
        opts.clip = 0.2
        let out = Objectives.cpo(leaked, options: opts)
        #expect(out.gradLogP.map { $0 == 0 } == [false, true, false, true] && out.gradLogP[0] < 0 && out.gradLogP[2] < 0)
    }

    /// DR-CPO clips its residual term exactly as CPO clips its value (with ĝ = 0 on the rows the
    /// two coincide); the f0 samples' term is not clipped by `clip`.
    @Test(arguments: [WeightNormalization.hajek, .horvitzThompson])
    func drCPOClipsOnlyItsResidualTerm(_ normalization: WeightNormalization) {
        var b = ObjectiveBatch(logP: [-1.5, -1.5, -2.5, -2.5], logPR: [-2, -2, -2, -2], outcomes: [3, -1, 3, -1],
                               ghat: [0, 0, 0, 0], sampleLogP: [-2, -1, -3, -2], sampleLogP0: [-2, -2, -2, -2], sampleGhat: [4, 0, 9, 1])
        let opts = ObjectiveOptions(normalization: normalization, clip: 0.2)
        let dr = Objectives.drCPO(b, options: opts), cpo = Objectives.cpo(b, options: opts)
        #expect(dr.gradLogP == cpo.gradLogP && dr.clippedShare == cpo.clippedShare && cpo.clippedShare > 0)
        #expect(dr.gradSampleLogP == Objectives.ooRLHF(b).gradSampleLogP)
        b.ghat = nil
        #expect(Objectives.cpo(b, options: opts).gradLogP == cpo.gradLogP)
    }
}
