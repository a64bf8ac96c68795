import CPOSupport
import CausalPO
import Foundation
import OutcomeData
import Testing

/// The sensitivity analysis checked against a truth: a world whose observational log hides the
/// reader trait. The estimator gets only the log's marginal propensities, so its point estimate
/// is confounded; the world knows the Λ the hidden trait implies, and the bounds at that Λ must
/// cover the true value.
@Suite("sensitivity against a hidden trait")
struct HiddenTraitSensitivityTests {
    /// Four appeals; committed readers (+1) answer 20 points higher and were shown the harmful
    /// "pressure" appeal far more often, the helpful "thanks" appeal far less.
    static let world = World(
        name: "hidden-trait", baseline: 50, noiseSD: 10, passageCounts: [2],
        readers: .init(trait: "committed", prevalence: 0.5, effect: 20),
        attributes: [
            .init(name: "thanks", effect: 6, passages: ["Thank you for everything you already do."]),
            .init(name: "pressure", effect: -4, passages: ["Everyone is watching who turns up."]),
            .init(name: "facts", effect: 2, passages: ["Ten volunteers cleared a mile last spring."]),
            .init(name: "fun", effect: 3, passages: ["There is soup and music at noon."]),
        ],
        tilt: ["thanks": -1.2, "pressure": 1.5], hasObservationalDesign: true)

    @Test func impliedLambdaIsTheLargestPropensityRatioOverTexts() {
        let w = Self.world
        var worst = 1.0
        for c in w.allCompositions() {
            let m = w.marginalLogPropensity(c, design: .observational)
            for t in [1, -1] { worst = max(worst, exp(abs(w.logPropensity(c, design: .observational, trait: t) - m))) }
        }
        #expect(abs(w.hiddenTraitLambda - worst) < 1e-12)
        #expect(w.hiddenTraitLambda > 1.5)
        var untilted = w
        untilted.tilt = [:]
        #expect(untilted.hiddenTraitLambda == 1)
        var noReaders = w
        noReaders.readers = nil
        #expect(noReaders.hiddenTraitLambda == 1)
    }

    /// The value of a policy that favours the thanks appeal (the log's design for trait −1
    /// readers), estimated from the confounded log, where thanks went mostly to the low
    /// responders: over 40 seeds the
    /// bootstrap interval of the bounds at the implied Λ covers the truth in at least 90%, while
    /// the point estimate's own 95% interval misses it in most.
    @Test func boundsAtTheImpliedLambdaCoverTheTruthWhereThePointEstimateMisses() throws {
        let w = Self.world
        var truth = 0.0
        for c in w.allCompositions() { truth += exp(w.logPropensity(c, design: .observational, trait: -1)) * w.trueValue(of: c) }
        let lambda = w.hiddenTraitLambda
        var boundsCover = 0, pointCovers = 0
        var bias = 0.0
        let seeds = 40
        for seed in 0..<seeds {
            let rows = w.sample(rows: 1000, design: .observational, seed: UInt64(seed))
            let x = EstimatorInputs(
                logP: rows.map { w.logPropensity($0.composition, design: .observational, trait: -1) },
                logPR: rows.map { w.marginalLogPropensity($0.composition, design: .observational) },
                outcomes: rows.map(\.outcome), ghat: rows.map { _ in 0 }, sampleLogP: [], sampleLogP0: [], sampleGhat: [],
                normalization: .hajek)
            let point = Estimators.snipw(logP: x.logP, logPR: x.logPR, outcomes: x.outcomes)
            if point.covers(truth) { pointCovers += 1 }
            bias += point.value - truth
            let a = try #require(Sensitivity.analyze(x, estimator: .snipw, reference: nil, lambdas: [1, lambda],
                                                     replicates: 100, seed: UInt64(seed)))
            #expect(a.bounds[1].lower <= a.bounds[0].lower && a.bounds[1].upper >= a.bounds[0].upper)
            if a.bounds[1].covers(truth) { boundsCover += 1 }
        }
        let boundShare = Double(boundsCover) / Double(seeds), pointShare = Double(pointCovers) / Double(seeds)
        #expect(boundShare >= 0.9, "bounds at Λ = \(lambda) cover the truth in \(boundShare) of seeds")
        #expect(pointShare <= 0.5, "the point estimate's interval covers the truth in \(pointShare) of seeds")
        #expect(abs(bias / Double(seeds)) > 1, "mean error of the point estimate \(bias / Double(seeds))")
    }
}
