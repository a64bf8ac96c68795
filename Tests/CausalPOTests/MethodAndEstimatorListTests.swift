import Foundation
import Testing
@testable import CausalPO

@Suite("methods describe themselves")
struct MethodDescriptionTests {
    @Test func exactlyOneReferenceAndEveryOtherMethodTrains() {
        #expect(Method.allCases.filter { $0.role == .reference } == [Method.reference])
        #expect(Method.reference == .ft && !Method.reference.trains)
        for m in Method.allCases where m != .reference { #expect(m.trains, "\(m)") }
        let baselines = [Method.filteredSFT, .rwr, .dpo].map(\.isAssociationBaseline)
        let causal = [Method.ft, .ooRLHF, .cpo, .drCPO].map(\.isAssociationBaseline)
        #expect(baselines == [true, true, true] && causal == [false, false, false, false])
    }

    /// What each method reads, as CausalPO.docc/Methods.md describes it.
    @Test func inputsFollowTheMethods() {
        let f0 = Method.ooRLHF.spec, cpo = Method.cpo.spec, dr = Method.drCPO.spec
        #expect(f0.f0Samples && !f0.readsRows && cpo.readsRows && !cpo.f0Samples && dr.readsRows && dr.f0Samples)
        #expect(!Method.ft.spec.readsRows && !Method.ft.spec.f0Samples)
        #expect(Method.filteredSFT.spec.rows == .topQuantile && Method.rwr.spec.rows == .all)
        #expect(Method.dpo.spec.pairs == .byOutcome && Method.cpo.spec.pairs == .none)
        for m in Method.allCases where !m.trains {
            #expect(!m.spec.readsRows && !m.spec.f0Samples && m.spec.options.isEmpty, "the reference \(m) trains on nothing")
        }
    }

    static func perturbed(_ o: ObjectiveOptions, _ option: ObjectiveOption) -> ObjectiveOptions {
        var p = o
        switch option {
        case .normalization: p.normalization = o.normalization == .hajek ? .horvitzThompson : .hajek
        case .clip: p.clip = 0.05
        case .filterQuantile: p.filterQuantile = 0.6
        case .rwrTemperature: p.rwrTemperature = 0.3
        case .dpoBeta: p.dpoBeta = 0.7
        case .htClip: p.htClip = 1.5
        case .robustLambda: p.robustLambda = 2
        }
        return p
    }

    /// A method's objective changes with the options it lists and with no other.
    @Test(arguments: Method.allCases)
    func optionsAreTheOnesThatChangeTheObjective(_ method: Method) {
        let b = randomBatch(seed: 11)
        let base = Objectives.evaluate(method, b, options: ObjectiveOptions())
        for option in ObjectiveOption.allCases {
            let out = Objectives.evaluate(method, b, options: Self.perturbed(ObjectiveOptions(), option))
            let same = out.loss == base.loss && out.gradLogP == base.gradLogP && out.gradSampleLogP == base.gradSampleLogP
            if !method.spec.options.contains(option) {
                #expect(same, "\(method) changed with \(option), which it does not list")
            } else if option != .filterQuantile {
                #expect(!same, "\(method) lists \(option) but ignores it")
            }
        }
    }

    /// filtered-SFT keeps the outcomes from sorted position ⌊n·(1 − q)⌋ (counted from 0) up.
    @Test func topQuantileSelection() {
        let y = [5.0, 1, 4, 2, 3]
        #expect(Objectives.topQuantileSelection(outcomes: y, quantile: 0.4) == [true, false, true, false, false])
        #expect(Objectives.topQuantileSelection(outcomes: y, quantile: 0.25) == [true, false, true, false, false])   // ⌊3.75⌋ = 3: the 4th smallest
        #expect(Objectives.topQuantileSelection(outcomes: y, quantile: 0.2) == [true, false, false, false, false])
        #expect(Objectives.topQuantileSelection(outcomes: y, quantile: 1) == [true, true, true, true, true])
        #expect(Objectives.topQuantileSelection(outcomes: [2, 2, 1, 2], quantile: 0.25) == [true, true, false, true])   // ties kept
        #expect(Objectives.topQuantileSelection(outcomes: [], quantile: 0.25) == [])
    }

    @Test func outcomeRankedPairs() {
        let pairs = Objectives.outcomeRankedPairs(outcomes: [2, 3, 2, 1])
        #expect(pairs.map { [$0.chosen, $0.rejected] } == [[0, 3], [1, 0], [1, 2], [1, 3], [2, 3]])
    }
}

@Suite("the estimator list")
struct EstimatorListTests {
    /// Three rows with weights w = P^f/P^R = 1, 2, 3 and two f0 samples with weights 1, 3.
    static let inputs = EstimatorInputs(
        logP: [-10, -10 + log(2.0), -10 + log(3.0)], logPR: [-10, -10, -10], outcomes: [1, 2, 4], ghat: [1, 1, 1],
        sampleLogP: [-5, -5 + log(3.0)], sampleLogP0: [-5, -5], sampleGhat: [2, 6], normalization: .hajek)

    /// Each estimator in closed form: V_IPW = Σ w Y / n, V_SNIPW = Σ w Y / Σ w, V_OUT = Σ w̃ ĝ / Σ w̃,
    /// the residual Σ w (Y − ĝ) / Σ w, V_DR = residual + V_OUT.
    @Test func eachEstimatorIsItsFormula() throws {
        let expected: [Estimator: Double] = [.ipw: 17.0 / 3, .snipw: 17.0 / 6, .out: 20.0 / 4, .drResidual: 11.0 / 6, .dr: 11.0 / 6 + 5]
        let all = Estimates(Self.inputs)
        for e in Estimator.allCases {
            let value = try #require(expected[e], "no closed form for \(e)")
            #expect(abs(all[e].value - value) < 1e-12, "\(e.name): \(all[e].value) vs \(value)")
            #expect(all[e] == e.estimate(Self.inputs))
        }
        var ht = Self.inputs
        ht.normalization = .horvitzThompson
        #expect(abs(Estimator.drResidual.estimate(ht).value - 11.0 / 3) < 1e-12)
        #expect(abs(Estimator.dr.estimate(ht).value - (11.0 / 3 + 5)) < 1e-12)
        // The normalization is the residual term's: the value estimators keep their own.
        #expect(Estimator.ipw.estimate(ht) == Estimator.ipw.estimate(Self.inputs))
    }

    /// The list gives exactly what the named estimators gave, field for field.
    @Test func theListEqualsTheNamedComputations() {
        let x = EstimatorInputs(
            logP: [-31.2, -29.8, -30.5, -28.9, -30.1], logPR: [-30.7, -30.2, -30.4, -29.5, -29.9], outcomes: [48, 55, 51, 60, 47],
            ghat: [50, 53, 52, 57, 49], sampleLogP: [-27.1, -28.4, -26.9, -27.7], sampleLogP0: [-27.5, -28.0, -27.2, -27.3],
            sampleGhat: [51, 54, 49, 56], normalization: .hajek)
        let e = Estimates(x)
        #expect(e[.ipw] == Estimators.ipw(logP: x.logP, logPR: x.logPR, outcomes: x.outcomes))
        #expect(e[.snipw] == Estimators.snipw(logP: x.logP, logPR: x.logPR, outcomes: x.outcomes))
        #expect(e[.out] == Estimators.out(sampleLogP: x.sampleLogP, sampleLogP0: x.sampleLogP0, sampleGhat: x.sampleGhat))
        #expect(e[.drResidual] == Estimators.residualTerm(logP: x.logP, logPR: x.logPR, outcomes: x.outcomes, ghat: x.ghat))
        #expect(e[.dr] == Estimators.dr(logP: x.logP, logPR: x.logPR, outcomes: x.outcomes, ghat: x.ghat, sampleLogP: x.sampleLogP,
                                        sampleLogP0: x.sampleLogP0, sampleGhat: x.sampleGhat))
        #expect(e.all.map(\.estimator) == Estimator.allCases)
    }

    /// Names and keys are the ones every output has used: the tables' names, metrics.jsonl's
    /// and checkpoints' keys, summary.json's keys. (A new estimator adds its own, distinct ones.)
    @Test func namesAndKeysAreStable() {
        let known: [(Estimator, name: String, metricsKey: String, summaryKey: String)] = [
            (.dr, "V_DR", "vDR", "v_dr"), (.ipw, "V_IPW", "vIPW", "v_ipw"), (.snipw, "V_SNIPW", "vSNIPW", "v_snipw"),
            (.out, "V_OUT", "vOUT", "v_out"), (.drResidual, "DR residual", "drResidual", "dr_residual"),
        ]
        for k in known {
            #expect(k.0.name == k.name && k.0.metricsKey == k.metricsKey && k.0.summaryKey == k.summaryKey, "\(k.0)")
        }
        #expect(Array(Estimator.allCases.prefix(known.count)) == known.map(\.0))
        #expect(Array(Estimator.allCases.filter(\.estimatesValue).prefix(4)) == [.dr, .ipw, .snipw, .out])
        for keys in [Estimator.allCases.map(\.name), Estimator.allCases.map(\.metricsKey), Estimator.allCases.map(\.summaryKey)] {
            #expect(Set(keys).count == keys.count, "\(keys) repeat")
        }
    }

    /// Estimates encode as one key per estimator; a key missing when decoding (an estimator
    /// added after the file was written) reads as undefined.
    @Test func estimatesEncodeFlatAndToleratePartialFiles() throws {
        let e = Estimates(Self.inputs)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(e)) as? [String: Any]
        #expect(Set(json?.keys.map { $0 } ?? []) == Set(Estimator.allCases.map(\.metricsKey)))
        #expect(try JSONDecoder().decode(Estimates.self, from: JSONEncoder().encode(e)) == e)
        let partial = try JSONDecoder().decode(Estimates.self, from: Data(#"{"vDR": {"value": 1, "standardError": 0, "lower": 1, "upper": 1}}"#.utf8))
        #expect(partial[.dr].value == 1 && partial[.ipw].value.isNaN)
    }
}
