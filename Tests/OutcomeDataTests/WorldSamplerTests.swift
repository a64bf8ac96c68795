import Foundation
import Testing
@testable import OutcomeData

/// Independent reference computations for the world tests (plain products, no logs).
enum WorldReference {
    /// A tiny world: 3 attributes with pools of 2, 1 and 3 passages, texts of 1-3 passages,
    /// attention 2 (so a third passage counts for nothing), readers and tilts.
    static let tinyTOML = """
        name = "tiny-confounded"
        [outcome]
        baseline = 1.0
        noise_sd = 1.5
        [design]
        passages = [1, 2, 3]
        attention = 2
        invalid_effect = -1
        [readers]
        trait = "t"
        prevalence = 0.3
        effect = 4
        [[attribute]]
        name = "a"
        effect = 2
        passages = ["A one.", "A two."]
        [[attribute]]
        name = "b"
        effect = -1
        passages = ["B one."]
        [[attribute]]
        name = "c"
        effect = 0.5
        passages = ["C one.", "C two.", "C three."]
        [observational]
        tilt = { a = 1.0, b = -0.7 }
        """

    /// `P(x | C)` by the definition in WorldFileFormat.md, written out directly.
    static func probability(_ w: World, _ c: Composition, observational: Bool, trait: Int) -> Double {
        var p = Double(w.passageCounts.filter { $0 == c.attributes.count }.count) / Double(w.passageCounts.count)
        var remaining = Array(w.attributes.indices)
        func weight(_ i: Int) -> Double {
            observational ? exp(Double(trait) * (w.tilt[w.attributes[i].name] ?? 0)) : 1
        }
        for (a, _) in zip(c.attributes, c.passages) {
            p *= weight(a) / remaining.map(weight).reduce(0, +)
            p /= Double(w.attributes[a].passages.count)
            remaining.removeAll { $0 == a }
        }
        return p
    }

    /// `S(x)` of a composed text by definition (worlds without prefix relations).
    static func score(_ w: World, _ c: Composition) -> Double {
        var seen: [Int] = []
        for a in c.attributes.prefix(w.attention) where !seen.contains(a) { seen.append(a) }
        return seen.reduce(0) { $0 + w.attributes[$1].effect }
    }

    static func logistic(_ z: Double) -> Double { 1 / (1 + exp(-z)) }

    /// Solves `A x = b` by Gaussian elimination with partial pivoting.
    static func solve(_ a: [[Double]], _ b: [Double]) -> [Double] {
        var m = a
        var v = b
        let n = v.count
        for col in 0..<n {
            let pivot = (col..<n).max { abs(m[$0][col]) < abs(m[$1][col]) }!
            m.swapAt(col, pivot)
            v.swapAt(col, pivot)
            for r in (col + 1)..<n {
                let f = m[r][col] / m[col][col]
                for k in col..<n { m[r][k] -= f * m[col][k] }
                v[r] -= f * v[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            var s = v[r]
            for k in (r + 1)..<n { s -= m[r][k] * x[k] }
            x[r] = s / m[r][r]
        }
        return x
    }

    static func inverse(_ a: [[Double]]) -> [[Double]] {
        let n = a.count
        var cols: [[Double]] = []
        for j in 0..<n {
            var e = [Double](repeating: 0, count: n)
            e[j] = 1
            cols.append(solve(a, e))
        }
        return (0..<n).map { i in (0..<n).map { j in cols[j][i] } }
    }

    /// OLS coefficients with heteroskedasticity-robust (HC0) standard errors.
    static func ols(_ x: [[Double]], _ y: [Double]) -> (beta: [Double], se: [Double]) {
        let p = x[0].count
        var xtx = [[Double]](repeating: [Double](repeating: 0, count: p), count: p)
        var xty = [Double](repeating: 0, count: p)
        for (row, yi) in zip(x, y) {
            for i in 0..<p {
                xty[i] += row[i] * yi
                for j in 0..<p { xtx[i][j] += row[i] * row[j] }
            }
        }
        let beta = solve(xtx, xty)
        var meat = [[Double]](repeating: [Double](repeating: 0, count: p), count: p)
        for (row, yi) in zip(x, y) {
            let e = yi - zip(row, beta).reduce(0) { $0 + $1.0 * $1.1 }
            for i in 0..<p { for j in 0..<p { meat[i][j] += e * e * row[i] * row[j] } }
        }
        let bread = inverse(xtx)
        var se: [Double] = []
        for i in 0..<p {
            var v = 0.0
            for k in 0..<p { for l in 0..<p { v += bread[i][k] * meat[k][l] * bread[l][i] } }
            se.append(v.squareRoot())
        }
        return (beta, se)
    }

    static func meanAndSE(_ xs: [Double]) -> (mean: Double, se: Double) {
        let n = Double(xs.count)
        let mean = xs.reduce(0, +) / n
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        return (mean, (variance / n).squareRoot())
    }
}

@Suite("world propensities and sampling")
struct WorldSamplerTests {
    typealias R = WorldReference

    @Test func propensitiesAreExactAndSumToOneOverTheSupport() throws {
        let w = try WorldFixtures.world(R.tinyTOML)
        let support = w.allCompositions()
        // k=1: 2+1+3; k=2: ordered pairs 2·1+2·3+1·3, twice; k=3: 3! orders · 2·1·3.
        #expect(support.count == 6 + 22 + 36)
        #expect(Set(support).count == support.count)
        for design in WorldDesign.allCases {
            for trait in [-1, 1, 0] {
                var total = 0.0
                for c in support {
                    let lp = w.logPropensity(c, design: design, trait: trait)
                    let ref = R.probability(w, c, observational: design == .observational, trait: trait)
                    #expect(abs(exp(lp) - ref) < 1e-13)
                    total += exp(lp)
                }
                #expect(abs(total - 1) < 1e-12, "\(design) C=\(trait)")
            }
            let marginal = support.reduce(0.0) { $0 + exp(w.marginalLogPropensity($1, design: design)) }
            #expect(abs(marginal - 1) < 1e-12)
        }
        // Hand-computed values.
        let c = Composition(attributes: [0, 2], passages: [1, 2])
        #expect(abs(w.logPropensity(c, design: .randomized, trait: 1) - log(1.0 / 108)) < 1e-12)
        #expect(w.logPropensity(c, design: .randomized, trait: 1) == w.logPropensity(c, design: .randomized, trait: -1))
        let e = M_E
        let first = e / (e + exp(-0.7) + 1)
        #expect(abs(exp(w.logPropensity(Composition(attributes: [0], passages: [0]), design: .observational, trait: 1))
            - first / 3 / 2) < 1e-14)
        let plus = exp(w.logPropensity(c, design: .observational, trait: 1))
        let minus = exp(w.logPropensity(c, design: .observational, trait: -1))
        #expect(abs(exp(w.marginalLogPropensity(c, design: .observational)) - (0.3 * plus + 0.7 * minus)) < 1e-14)
        #expect(w.marginalLogPropensity(c, design: .randomized) == w.logPropensity(c, design: .randomized, trait: 0))
        // Sequences the design cannot produce.
        for bad in [Composition(attributes: [0, 0], passages: [0, 1]), Composition(attributes: [1], passages: [1]),
                    Composition(attributes: [3], passages: [0]), Composition(attributes: [], passages: [])] {
            #expect(w.logPropensity(bad, design: .randomized, trait: 1) == -.infinity)
            #expect(w.logPropensity(bad, design: .observational, trait: -1) == -.infinity)
        }
    }

    @Test func sampledFrequenciesMatchTheDesign() throws {
        let w = try WorldFixtures.world(R.tinyTOML)
        let support = w.allCompositions()
        let supportSet = Set(support)
        let n = 20_000
        func z(_ count: Int, _ total: Int, _ p: Double) -> Double {
            (Double(count) / Double(total) - p) / (p * (1 - p) / Double(total)).squareRoot()
        }
        for design in WorldDesign.allCases {
            let rows = w.sample(rows: n, design: design, seed: 2024)
            // Readers: C = +1 with the prevalence, whatever the design.
            let plus = rows.filter { $0.trait == 1 }.count
            #expect(rows.allSatisfy { $0.trait == 1 || $0.trait == -1 })
            #expect(abs(z(plus, n, 0.3)) < 4.5)
            for trait in [1, -1] {
                let group = rows.filter { $0.trait == trait }
                let observational = design == .observational
                // Every composition, including which passage of each pool.
                var counts: [Composition: Int] = [:]
                for r in group { counts[r.composition, default: 0] += 1 }
                #expect(counts.keys.allSatisfy { supportSet.contains($0) })
                for c in support {
                    let p = R.probability(w, c, observational: observational, trait: trait)
                    #expect(abs(z(counts[c] ?? 0, group.count, p)) < 5, "\(design) C=\(trait) \(c)")
                }
                // Inclusion rate of each attribute vs its exact marginal by enumeration.
                for a in w.attributes.indices {
                    let exact = support.filter { $0.attributes.contains(a) }
                        .reduce(0.0) { $0 + R.probability(w, $1, observational: observational, trait: trait) }
                    let hits = group.filter { $0.composition.attributes.contains(a) }.count
                    #expect(abs(z(hits, group.count, exact)) < 4.5, "\(design) C=\(trait) attribute \(a)")
                }
            }
        }
        // Randomized inclusion is uniform: Σ_k P(k)·k/A = (1+2+3)/3/3 = 2/3 for every attribute.
        let rows = w.sample(rows: n, design: .randomized, seed: 7)
        for a in w.attributes.indices {
            #expect(abs(z(rows.filter { $0.composition.attributes.contains(a) }.count, n, 2.0 / 3)) < 4.5)
        }
    }

    @Test func observationalRegressionIsConfoundedExactlyAsPredicted() throws {
        let toml = """
            name = "ols"
            [outcome]
            baseline = 10
            noise_sd = 2
            [design]
            passages = [1, 2]
            attention = 3
            [readers]
            trait = "t"
            prevalence = 0.5
            effect = 6
            [[attribute]]
            name = "a"
            effect = 1
            passages = ["A one.", "A two."]
            [[attribute]]
            name = "b"
            effect = -1
            passages = ["B one."]
            [[attribute]]
            name = "c"
            effect = 0.5
            passages = ["C one."]
            [observational]
            tilt = { a = 1.5, b = -0.5 }
            """
        let w = try WorldFixtures.world(toml)
        func features(_ c: Composition) -> [Double] {
            [1] + w.attributes.indices.map { c.attributes.contains($0) ? 1 : 0 }
        }
        // Population OLS over (composition, C) with their exact probabilities.
        var exx = [[Double]](repeating: [Double](repeating: 0, count: 4), count: 4)
        var exy = [Double](repeating: 0, count: 4)
        for (trait, pc) in [(1, 0.5), (-1, 0.5)] {
            for c in w.allCompositions() {
                let p = pc * R.probability(w, c, observational: true, trait: trait)
                let x = features(c)
                let y = 10 + R.score(w, c) + 6 * Double(trait)
                for i in 0..<4 {
                    exy[i] += p * x[i] * y
                    for j in 0..<4 { exx[i][j] += p * x[i] * x[j] }
                }
            }
        }
        let analytic = R.solve(exx, exy)

        let rows = w.sample(rows: 20_000, design: .observational, seed: 99)
        let fit = R.ols(rows.map { features($0.composition) }, rows.map(\.outcome))
        let a = 1  // coefficient of attribute "a"
        #expect(abs(fit.beta[a] - analytic[a]) < 1.96 * fit.se[a], "naive \(fit.beta[a]) vs analytic \(analytic[a]) ± \(fit.se[a])")
        // The confounding is plain: the naive coefficient is far from the true effect 1.
        #expect(analytic[a] - 1 > 2)
        #expect(abs(fit.beta[a] - 1) > 20 * fit.se[a])

        // The same regression on randomized data recovers the causal effects.
        let randomized = w.sample(rows: 20_000, design: .randomized, seed: 99)
        let clean = R.ols(randomized.map { features($0.composition) }, randomized.map(\.outcome))
        for (i, effect) in w.attributes.map(\.effect).enumerated() {
            #expect(abs(clean.beta[i + 1] - effect) < 4 * clean.se[i + 1])
        }
    }

    @Test func outcomesFollowTheResponseModel() throws {
        let w = try WorldFixtures.world(WorldFixtures.example)
        let n = 20_000
        for design in WorldDesign.allCases {
            let rows = w.sample(rows: n, design: design, seed: 5)
            // E[Y] = E[g*(X)] for continuous outcomes in both designs: E[beta*C] = beta*(2p-1).
            let diff = R.meanAndSE(rows.map { $0.outcome - $0.trueValue })
            #expect(abs(diff.mean) < 4.5 * diff.se, "\(design)")
            // Noise: Y - (baseline + S + beta*C) ~ N(0, noise_sd²).
            let residuals = rows.map { $0.outcome - (55 + R.score(w, $0.composition) + 10 * Double($0.trait)) }
            let r = R.meanAndSE(residuals)
            #expect(abs(r.mean) < 4.5 * r.se)
            let sd = r.se * Double(n).squareRoot()
            #expect(abs(sd / 18 - 1) < 0.03)
            for row in rows.prefix(500) {
                #expect(row.text == w.text(of: row.composition))
                #expect(row.trueValue == w.trueValue(of: row.composition))
                #expect(row.logPropensity == w.logPropensity(row.composition, design: design, trait: row.trait))
                #expect(row.design == design)
            }
        }

        let binary = try WorldFixtures.world(R.tinyTOML.replacingOccurrences(
            of: "baseline = 1.0\nnoise_sd = 1.5", with: "kind = \"binary\"\nbaseline = -0.5"))
        #expect(binary.outcomeKind == .binary)
        let randomized = binary.sample(rows: n, design: .randomized, seed: 6)
        #expect(randomized.allSatisfy { $0.outcome == 0 || $0.outcome == 1 })
        let d = R.meanAndSE(randomized.map { $0.outcome - $0.trueValue })
        #expect(abs(d.mean) < 4.5 * d.se)
        // P(Y=1 | x, C) = logistic(baseline + S + beta*C), row by row, within each trait group.
        let logged = binary.sample(rows: n, design: .observational, seed: 6)
        #expect(logged.allSatisfy { $0.outcome == 0 || $0.outcome == 1 })
        for trait in [1, -1] {
            let e = R.meanAndSE(logged.filter { $0.trait == trait }.map {
                $0.outcome - R.logistic(-0.5 + R.score(binary, $0.composition) + 4 * Double(trait))
            })
            #expect(abs(e.mean) < 4.5 * e.se, "C=\(trait)")
        }
    }

    @Test func samplesAreSeeded() throws {
        let w = try WorldFixtures.world(WorldFixtures.example)
        let a = w.sample(rows: 200, design: .observational, seed: 42)
        #expect(a == w.sample(rows: 200, design: .observational, seed: 42))
        #expect(a != w.sample(rows: 200, design: .observational, seed: 43))
        #expect(Array(a.prefix(50)) == w.sample(rows: 50, design: .observational, seed: 42))
        let r = w.sample(rows: 200, design: .randomized, seed: 42)
        #expect(r.map(\.composition) != a.map(\.composition))
        #expect(w.sample(rows: 0, design: .randomized, seed: 1).isEmpty)
    }

    @Test func worldsWithoutReadersOrObservationalSectionSampleUniformly() throws {
        let w = try WorldFixtures.world(WorldFixtures.minimal)
        let rows = w.sample(rows: 400, design: .observational, seed: 3)
        #expect(rows.allSatisfy { $0.trait == 0 })
        // No tilt: the observational propensity equals the randomized one.
        for row in rows.prefix(20) {
            #expect(row.logPropensity == w.logPropensity(row.composition, design: .randomized, trait: 0))
            #expect(abs(row.logPropensity - log(1.0 / 2 / 1 / Double(w.attributes[row.composition.attributes[0]].passages.count)
                / Double(w.attributes[row.composition.attributes[1]].passages.count))) < 1e-12)
        }
        // Without readers the outcome has no trait shift: Y - (baseline + S) ~ N(0, 1).
        let residual = R.meanAndSE(rows.map { $0.outcome - R.score(w, $0.composition) })
        #expect(abs(residual.mean) < 4.5 * residual.se)
    }
}
