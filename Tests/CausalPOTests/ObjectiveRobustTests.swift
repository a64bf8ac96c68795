import CPOSupport
import Foundation
import Testing
@testable import CausalPO

/// The robust objective (`ObjectiveOptions.robustLambda`): CPO's value, and DR-CPO's residual
/// term, replaced by their worst case within the sensitivity model. Its gradient is checked by
/// finite differences with the other option sets (`ObjectiveTests.optionSets`).
@Suite("the robust objective")
struct ObjectiveRobustTests {
    static let normalizations: [WeightNormalization] = [.hajek, .horvitzThompson]

    /// A batch whose outcomes and residuals take both signs (`randomBatch`'s are all positive).
    static func mixedBatch(seed: UInt64) -> ObjectiveBatch {
        var b = randomBatch(seed: seed)
        b.outcomes = b.outcomes.map { ($0 - 50) / 10 }
        b.ghat = b.outcomes.map { $0 * 0.5 }
        return b
    }

    /// Λ = 1 is the plain objective bit for bit, for every method, with or without clipping.
    @Test(arguments: normalizations)
    func lambdaOneIsThePlainObjective(_ normalization: WeightNormalization) {
        let b = randomBatch(seed: 21)
        for base in [ObjectiveOptions(normalization: normalization), ObjectiveOptions(normalization: normalization, clip: 0.1)] {
            var one = base
            one.robustLambda = 1
            for method in Method.allCases {
                let plain = Objectives.evaluate(method, b, options: base), robust = Objectives.evaluate(method, b, options: one)
                #expect(plain.loss.bitPattern == robust.loss.bitPattern, "\(method)")
                #expect(plain.gradLogP.map(\.bitPattern) == robust.gradLogP.map(\.bitPattern), "\(method)")
                #expect(plain.gradSampleLogP.map(\.bitPattern) == robust.gradSampleLogP.map(\.bitPattern), "\(method)")
                #expect(plain.weights.map(\.bitPattern) == robust.weights.map(\.bitPattern), "\(method)")
                #expect(plain.clippedShare == robust.clippedShare, "\(method)")
            }
        }
    }

    /// CPO's robust value is the lower bound of its estimate on the batch, below the plain
    /// value; the weights are the adversary's (self-normalized: they sum to 1).
    @Test(arguments: normalizations, [1.5, 2, 4])
    func cpoValueIsTheLowerBound(_ normalization: WeightNormalization, _ lambda: Double) throws {
        let b = Self.mixedBatch(seed: 22)
        let options = ObjectiveOptions(normalization: normalization, robustLambda: lambda)
        let out = Objectives.cpo(b, options: options)
        let problem = try #require(WeightedMeanBounds(logRatios: zip(b.logP, b.logPR).map { $0 - $1 }, values: b.outcomes,
                                                      normalization: normalization))
        let lower = problem.bounds(lambda: lambda).lower
        #expect(abs(out.value - lower) < 1e-12 * max(1, abs(lower)), "\(out.value) vs \(lower)")
        #expect(out.value < Objectives.cpo(b, options: ObjectiveOptions(normalization: normalization)).value)
        #expect(out.weights == problem.worstCase(lambda: lambda).weights && out.clippedShare == 0)
        if normalization == .hajek { #expect(abs(out.weights.reduce(0, +) - 1) < 1e-12) }
    }

    /// DR-CPO: the lower bound of the residual term plus V_OUT, which does not involve P^R and
    /// is unchanged (its gradient on the f0 samples is the plain one, bit for bit).
    @Test(arguments: normalizations)
    func drCPOBoundsOnlyTheResidualTerm(_ normalization: WeightNormalization) throws {
        let b = Self.mixedBatch(seed: 23)
        let ghat = try #require(b.ghat)
        let plain = Objectives.drCPO(b, options: ObjectiveOptions(normalization: normalization))
        let out = Objectives.drCPO(b, options: ObjectiveOptions(normalization: normalization, robustLambda: 2))
        let residual = try #require(WeightedMeanBounds(logRatios: zip(b.logP, b.logPR).map { $0 - $1 },
                                                       values: zip(b.outcomes, ghat).map { $0 - $1 }, normalization: normalization))
        let vOut = Objectives.ooRLHF(b).value
        let expected = residual.bounds(lambda: 2).lower + vOut
        #expect(abs(out.value - expected) < 1e-12 * max(1, abs(expected)))
        #expect(out.gradSampleLogP.map(\.bitPattern) == plain.gradSampleLogP.map(\.bitPattern))
        #expect(out.sampleWeights == plain.sampleWeights)
    }

    /// Horvitz-Thompson with every value ≥ 0: the worst case is the plain value over Λ, and its
    /// gradient the plain one over Λ, the same direction (the caveat in `weightedValue`'s comment).
    @Test func horvitzThompsonWithPositiveValuesOnlyRescales() {
        let b = randomBatch(seed: 24)
        #expect(b.outcomes.allSatisfy { $0 >= 0 })
        let plain = Objectives.cpo(b, options: ObjectiveOptions(normalization: .horvitzThompson))
        let robust = Objectives.cpo(b, options: ObjectiveOptions(normalization: .horvitzThompson, robustLambda: 3))
        #expect(abs(robust.value - plain.value / 3) < 1e-12 * abs(plain.value))
        for (r, p) in zip(robust.gradLogP, plain.gradLogP) { #expect(abs(r - p / 3) < 1e-12 * max(1e-300, abs(p))) }
    }

    /// Self-normalized, the worst case changes the direction: it weighs the rows with the lowest
    /// outcomes Λ² times the others, so its gradient is not a multiple of the plain one.
    @Test func hajekChangesTheDirection() {
        let b = randomBatch(seed: 25)
        let plain = Objectives.cpo(b, options: ObjectiveOptions()).gradLogP
        let robust = Objectives.cpo(b, options: ObjectiveOptions(robustLambda: 2)).gradLogP
        let ratios = zip(robust, plain).map { $0 / $1 }
        #expect((ratios.max() ?? 0) - (ratios.min() ?? 0) > 1e-3, "\(ratios)")
    }

    /// Degenerate batches: no rows gives 0; Horvitz-Thompson weights that are all 0 give 0, as
    /// the plain value does.
    @Test func degenerateBatches() {
        let empty = Objectives.cpo(ObjectiveBatch(logP: [], logPR: [], outcomes: []), options: ObjectiveOptions(robustLambda: 2))
        #expect(empty.value == 0 && empty.gradLogP.isEmpty && empty.weights.isEmpty)
        let zero = ObjectiveBatch(logP: [-.infinity, -.infinity], logPR: [-3, -4], outcomes: [1, -1])
        let ht = Objectives.cpo(zero, options: ObjectiveOptions(normalization: .horvitzThompson, robustLambda: 2))
        #expect(ht.value == 0 && ht.gradLogP == [0, 0])
    }

    @Test func problemNamesTheFlags() {
        for bad in [0.5, 0, -2, .nan, .infinity, 1e200] {
            #expect(ObjectiveOptions(robustLambda: bad).problem?.contains("--robust-lambda") == true, "\(bad)")
        }
        let withClip = ObjectiveOptions(clip: 0.2, robustLambda: 2).problem
        #expect(withClip?.contains("--robust-lambda") == true && withClip?.contains("--clip") == true)
        let withHTClip = ObjectiveOptions(htClip: 3, robustLambda: 2).problem
        #expect(withHTClip?.contains("--robust-lambda") == true && withHTClip?.contains("--ht-clip") == true)
        #expect(ObjectiveOptions(robustLambda: 2).problem == nil)
        #expect(ObjectiveOptions(normalization: .horvitzThompson, klTarget: 1, anchor: 1, robustLambda: 1.5).problem == nil)
        // Λ = 1 is off: clipping stays allowed.
        #expect(ObjectiveOptions(clip: 0.2, robustLambda: 1).problem == nil)
    }

    @Test func addsToThePaperAndRoundTrips() throws {
        #expect(!ObjectiveOptions.paper.addsToThePaper && ObjectiveOptions.paper.robustLambda == 1)
        #expect(ObjectiveOptions(robustLambda: 2).addsToThePaper)
        let robust = ObjectiveOptions(anchor: 1, robustLambda: 2.5)
        #expect(try JSONDecoder().decode(ObjectiveOptions.self, from: JSONEncoder().encode(robust)) == robust)
    }

    /// Options saved before the key existed read Λ = 1 (off), so saved runs resume as they trained.
    @Test func anOldConfigurationReadsOff() throws {
        let saved = ObjectiveOptions(klTarget: 0.5, anchor: 1)
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(saved)) as? [String: Any])
        #expect(object.removeValue(forKey: "robustLambda") as? Double == 1)
        let old = try JSONSerialization.data(withJSONObject: object)
        #expect(try JSONDecoder().decode(ObjectiveOptions.self, from: old) == saved)
    }
}
