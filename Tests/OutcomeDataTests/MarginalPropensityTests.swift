import Foundation
import Testing
@testable import OutcomeData

/// The hidden-trait study's propensities: each text's probability averaged over readers, what a
/// log that never recorded the reader trait would hold.
@Suite("marginal propensities and the hidden-trait world")
struct MarginalPropensityTests {
    /// Every sampled row's marginal propensity is Σ_c P(C = c)·P(x | c) under its design; for
    /// randomized rows it is the exact propensity itself.
    @Test func marginalPropensityAveragesOverReaders() throws {
        let w = try SampleData.world("bike-week")
        let p = try #require(w.readers).prevalence
        for s in w.sample(rows: 200, design: .observational, seed: 4) {
            let mixture = p * exp(w.logPropensity(s.composition, design: .observational, trait: 1))
                + (1 - p) * exp(w.logPropensity(s.composition, design: .observational, trait: -1))
            #expect(abs(exp(s.logMarginalPropensity) / mixture - 1) < 1e-12)
            #expect(s.logPropensity == w.logPropensity(s.composition, design: .observational, trait: s.trait))
        }
        for s in w.sample(rows: 200, design: .randomized, seed: 4) {
            #expect(abs(s.logMarginalPropensity - s.logPropensity) < 1e-12)
        }
    }

    /// The in-memory dataset carries the marginal propensities when asked, the reader's own
    /// otherwise (as the CSV does).
    @Test func datasetsCarryTheMarginalPropensityWhenAsked() throws {
        let w = try SampleData.world("bike-week")
        let samples = w.sample(rows: 50, design: .observational, seed: 5)
        let own = WorldDatasets.dataset(world: w, samples: samples, source: "world:bike-week")
        let marginal = WorldDatasets.dataset(world: w, samples: samples, source: "world:bike-week", marginal: true)
        #expect(own.rows.map(\.logPropensity) == samples.map(\.logPropensity))
        #expect(marginal.rows.map(\.logPropensity) == samples.map(\.logMarginalPropensity))
        #expect(marginal.rows.map(\.text) == own.rows.map(\.text) && marginal.rows.map(\.outcome) == own.rows.map(\.outcome))
        #expect(samples.contains { $0.logMarginalPropensity != $0.logPropensity })
    }

    /// bike-week, the worked example: the hidden trait implies a moderate Λ (2.32, in the
    /// header and the README), yet its confounding reverses which of two policies looks better.
    /// Exact, by enumeration: with marginal propensities, V_SNIPW of a policy P^f tends to
    /// Σ_x P^f(x)·E[Y | x] under the log, where E[Y | x] = baseline + S(x) + β·E[C | x].
    @Test func bikeWeekHidesAModerateButMisleadingTrait() throws {
        let w = try SampleData.world("bike-week")
        #expect((1.5...3).contains(w.hiddenTraitLambda))
        #expect(abs(w.hiddenTraitLambda - 2.32) < 0.005, "\(w.hiddenTraitLambda)")
        let r = try #require(w.readers)
        func policy(favouring name: String) -> World {
            var f = w
            f.tilt = [name: 1]
            return f
        }
        func values(_ f: World) -> (truth: Double, logSays: Double) {
            var truth = 0.0, logSays = 0.0
            for c in w.allCompositions() {
                let pf = exp(f.logPropensity(c, design: .observational, trait: 1))
                let plus = r.prevalence * exp(w.logPropensity(c, design: .observational, trait: 1))
                let minus = (1 - r.prevalence) * exp(w.logPropensity(c, design: .observational, trait: -1))
                let meanTrait = (plus - minus) / (plus + minus)
                truth += pf * w.trueValue(of: c)
                logSays += pf * (w.baseline + w.structuralScore(c) + r.effect * meanTrait)
            }
            return (truth, logSays)
        }
        let routes = values(policy(favouring: "routes")), safety = values(policy(favouring: "safety"))
        #expect(routes.logSays > routes.truth + 2.5, "routes: \(routes)")
        #expect(safety.logSays < safety.truth - 2, "safety: \(safety)")
        #expect(safety.truth > routes.truth && routes.logSays > safety.logSays)
    }

    /// `world check` names the Λ a hidden trait implies, only for worlds with an observational design.
    @Test func worldCheckPrintsTheHiddenTraitLambda() throws {
        let w = try SampleData.world("bike-week")
        #expect(WorldDatasets.summary(world: w, path: "bike-week.toml").contains("'regular-cyclist' implies Λ = 2.32"))
        var randomizedOnly = w
        randomizedOnly.hasObservationalDesign = false
        #expect(!WorldDatasets.summary(world: randomizedOnly, path: "x.toml").contains("Λ"))
    }
}
