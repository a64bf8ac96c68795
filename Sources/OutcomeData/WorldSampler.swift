import CPOSupport
import Foundation

/// One simulated row: a composed text, its reader, and the reader's response.
public struct WorldSample: Sendable, Hashable {
    public var text: String
    public var composition: Composition
    /// The response `Y`: continuous, or 0/1 for binary worlds.
    public var outcome: Double
    /// The reader's trait `C`: +1 or -1 (0 when the world has no `[readers]` section).
    public var trait: Int
    /// `log P(x)` under the design used; observational: `log P(x | C)` for this reader's `C`.
    public var logPropensity: Double
    /// `log P(x)` averaged over readers under the design used, `log Σ_c P(C = c)·P(x | c)`
    /// (`World.marginalLogPropensity`): what a log that never recorded the trait would hold.
    /// Equal to `logPropensity` for randomized rows and worlds without readers.
    public var logMarginalPropensity: Double
    public var design: WorldDesign
    /// `g*(text)`.
    public var trueValue: Double
    // Made only by `World.sample(rows:design:seed:)`: no public initializer.
}

extension World {
    /// Draws `rows` rows from `design` (<doc:WorldFileFormat>, "Semantics").
    ///
    /// Each row: the reader's trait `C` (`+1` with probability `prevalence`; always `0` without
    /// `[readers]`), then `k` uniformly from `design.passages`, then `k` distinct attributes one
    /// after another (randomized: uniformly among those not yet drawn; observational:
    /// proportionally to `exp(C * tilt[a])`), each with a passage drawn uniformly from its pool;
    /// then the response: continuous `baseline + S + beta*C + noise_sd * N(0,1)`, binary
    /// `Y = 1` with probability `logistic(baseline + S + beta*C)`, where `S` is the oracle's
    /// score of the composed text.
    ///
    /// The observational design of a world without an `[observational]` section (or without
    /// readers) has all tilts 0, so it draws texts exactly like the randomized design (from a
    /// different random stream).
    ///
    /// Seeded: the same world, design, seed and `rows` give identical rows, and the first rows
    /// of a longer sample equal a shorter one. The two designs use independent streams.
    public func sample(rows: Int, design: WorldDesign, seed: UInt64) -> [WorldSample] {
        var out: [WorldSample] = []
        out.reserveCapacity(rows)
        draw(rows: rows, design: design, seed: seed) { composition, trait, score, outcome in
            out.append(WorldSample(
                text: text(of: composition), composition: composition, outcome: outcome, trait: trait,
                logPropensity: logPropensity(composition, design: design, trait: trait),
                logMarginalPropensity: marginalLogPropensity(composition, design: design), design: design,
                trueValue: expectedValue(score: score)))
        }
        return out
    }

    /// The true values `g*` of the texts `sample(rows:design:seed:)` draws, in the same order,
    /// without building the texts, their propensities or the rows.
    func sampledTrueValues(rows: Int, design: WorldDesign, seed: UInt64) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(rows)
        draw(rows: rows, design: design, seed: seed) { _, _, score, _ in out.append(expectedValue(score: score)) }
        return out
    }

    /// The draws of ``sample(rows:design:seed:)``: each row's composition, reader trait, score
    /// and response, in order.
    private func draw(rows: Int, design: WorldDesign, seed: UInt64,
                      _ body: (_ composition: Composition, _ trait: Int, _ score: Double, _ outcome: Double) -> Void) {
        precondition(rows >= 0, "rows must not be negative")
        precondition(!passageCounts.isEmpty && passageCounts.allSatisfy { $0 >= 1 && $0 <= attributes.count },
                     "passage counts must lie between 1 and the number of attributes")
        var rng = SeededRandom(seed: SeededRandom.derivedSeed(seed, "world-sample/" + design.rawValue))
        let tilts = tiltVector()
        for _ in 0..<rows {
            let trait: Int
            if let r = readers {
                trait = rng.uniform() < r.prevalence ? 1 : -1
            } else {
                trait = 0
            }
            let k = passageCounts[rng.int(below: passageCounts.count)]
            var remaining = Array(attributes.indices)
            var attrs: [Int] = []
            var passes: [Int] = []
            attrs.reserveCapacity(k)
            passes.reserveCapacity(k)
            for _ in 0..<k {
                let pick: Int
                if design == .observational && trait != 0 {
                    let s = remaining.map { Double(trait) * tilts[$0] }
                    let m = s.max() ?? 0
                    pick = rng.categorical(s.map { exp($0 - m) })
                } else {
                    pick = rng.int(below: remaining.count)
                }
                let a = remaining.remove(at: pick)
                attrs.append(a)
                passes.append(rng.int(below: attributes[a].passages.count))
            }
            let composition = Composition(attributes: attrs, passages: passes)
            let score = structuralScore(composition)
            let mean = meanResponse(score: score, trait: trait)
            let outcome: Double
            switch outcomeKind {
            case .continuous: outcome = mean + noiseSD * rng.gaussian()
            case .binary: outcome = rng.uniform() < mean ? 1 : 0
            }
            body(composition, trait, score, outcome)
        }
    }
}
