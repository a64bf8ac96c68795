import CPOSupport
import Foundation
import Testing
@testable import OutcomeData

/// Seeded worlds whose passages share a small vocabulary, so that many passages are
/// word-prefixes of others and many continuations start other passages: composed texts are
/// read back as other passages, longer or shorter ones, and invalid words.
enum EntangledWorlds {
    struct Shape {
        var attributes: Int
        var pool: ClosedRange<Int>
        var vocabulary: Int
        var words: ClosedRange<Int>
        /// Share of passages made by extending or cutting an earlier passage.
        var prefixShare: Double
        var counts: [Int]
        var attention: Int
        var invalidEffect: Double
        var kind: OutcomeKind = .continuous
    }

    static func make(_ shape: Shape, seed: UInt64) -> World {
        var rng = SeededRandom(seed: seed)
        var seen = Set<[String]>()
        var all: [[String]] = []
        var attributes: [World.Attribute] = []
        func word() -> String { "w\(rng.int(below: shape.vocabulary))" }
        for a in 0..<shape.attributes {
            var passages: [String] = []
            let size = shape.pool.lowerBound + rng.int(below: shape.pool.count)
            var tries = 0
            while passages.count < size && tries < 200 {
                tries += 1
                var words: [String]
                if !all.isEmpty && rng.uniform() < shape.prefixShare {
                    words = all[rng.int(below: all.count)]
                    if words.count > 1 && rng.uniform() < 0.4 {
                        words.removeLast(1 + rng.int(below: words.count - 1))
                    } else {
                        for _ in 0...rng.int(below: 2) { words.append(word()) }
                    }
                } else {
                    let n = shape.words.lowerBound + rng.int(below: shape.words.count)
                    words = (0..<n).map { _ in word() }
                }
                guard seen.insert(words).inserted else { continue }
                all.append(words)
                passages.append(render(words, &rng))
            }
            attributes.append(World.Attribute(name: "a\(a)", effect: (2 * rng.gaussian() * 100).rounded() / 100,
                                              passages: passages))
        }
        let readers = shape.kind == .binary || rng.uniform() < 0.5
            ? World.Readers(trait: "t", prevalence: 0.3, effect: 0.8) : nil
        return World(name: "entangled", outcomeKind: shape.kind, baseline: shape.kind == .binary ? -0.4 : 10,
                     noiseSD: 1, passageCounts: shape.counts, attention: shape.attention,
                     invalidEffect: shape.invalidEffect, readers: readers, attributes: attributes)
    }

    /// A passage as a person might write it: a capital, punctuation, sometimes a dangling
    /// hyphen or a leading apostrophe (which normalization drops at a passage's edge).
    static func render(_ words: [String], _ rng: inout SeededRandom) -> String {
        var parts = words
        parts[0] = parts[0].prefix(1).uppercased() + parts[0].dropFirst()
        if parts.count > 2 && rng.uniform() < 0.3 { parts[1] += "," }
        switch rng.int(below: 5) {
        case 0: return "'" + parts.joined(separator: " ") + "."
        case 1: return parts.joined(separator: " ") + " -"
        case 2: return parts.joined(separator: " ") + "-"
        default: return parts.joined(separator: " ") + "."
        }
    }

    /// The largest score over every composable text, by the oracle, and a text attaining it.
    static func bruteForce(_ w: World) -> (score: Double, value: Double) {
        var best: (score: Double, value: Double) = (-.infinity, -.infinity)
        w.forEachComposition { c in
            let r = w.oracle(w.text(of: c))
            if r.value > best.value { best = (r.score, r.value) }
        }
        return best
    }
}

@Suite("exact V* in worlds with prefix relations")
struct WorldOptimumTests {
    typealias Shape = EntangledWorlds.Shape

    /// Small random worlds of every kind, each against the oracle on every composable text.
    @Test func searchEqualsBruteForceOnSmallWorlds() {
        var differsFromClosedForm = 0
        var searched = 0
        for seed in UInt64(1)...48 {
            var rng = SeededRandom(seed: seed &* 7919)
            let attributes = 3 + rng.int(below: 3)
            let counts = Array(Set((0...rng.int(below: 2)).map { _ in 1 + rng.int(below: attributes) })).sorted()
            let invalid = [-1.5, 0, 0.7, 2.5][rng.int(below: 4)]
            let shape = Shape(attributes: attributes, pool: attributes > 4 ? 1...2 : 1...3, vocabulary: 3 + rng.int(below: 3), words: 1...3,
                              prefixShare: 0.5, counts: counts, attention: 1 + rng.int(below: 4),
                              invalidEffect: invalid, kind: seed % 3 == 0 ? .binary : .continuous)
            let w = EntangledWorlds.make(shape, seed: seed)
            guard !w.matcher.prefixFree else { continue }
            let (bruteScore, bruteValue) = EntangledWorlds.bruteForce(w)
            let best = w.bestComposition
            let score = w.oracle(w.text(of: best)).score
            #expect(abs(score - bruteScore) <= 1e-12 * max(1, abs(bruteScore)), "seed \(seed): \(w.attributes)")
            #expect(abs(w.bestValue - bruteValue) <= 1e-12 * max(1, abs(bruteValue)), "seed \(seed)")
            #expect(w.trueValue(of: best) == w.bestValue)
            #expect(w.logPropensity(best, design: .randomized, trait: 1) > -.infinity)
            if OptimumSearch(w).optimum() != nil { searched += 1 }
            if abs(w.topEffectsOptimum().value - w.bestValue) > 1e-9 { differsFromClosedForm += 1 }
        }
        // The worlds exercise the search, and often the closed form would be wrong.
        #expect(searched >= 30)
        #expect(differsFromClosedForm >= 8)
    }

    /// A composed text's score from its passages' words equals the oracle's on its text,
    /// whatever punctuation sits at the passages' edges.
    @Test func compositionScanMatchesTheOracle() {
        for seed in UInt64(1)...12 {
            let shape = Shape(attributes: 4, pool: 1...3, vocabulary: 4, words: 1...3, prefixShare: 0.5,
                              counts: [1, 2, 3, 4], attention: 3, invalidEffect: -0.5)
            let w = EntangledWorlds.make(shape, seed: seed)
            for s in w.sample(rows: 300, design: .randomized, seed: seed) {
                let text = w.text(of: s.composition)
                #expect(w.structuralScore(s.composition) == w.oracle(text).score, "\(text)")
                let joined = zip(s.composition.attributes, s.composition.passages).flatMap {
                    World.normalizedWords(w.attributes[$0].passages[$1])
                }
                #expect(World.normalizedWords(text) == joined)
            }
        }
    }

    /// The prefix relations of real texts ("... special status." / "... special status and its
    /// freedoms.") inside one attribute, with continuations that start no passage, leave the
    /// closed form exact: the search recognizes it without a search.
    @Test func prefixesWithinAnAttributeKeepTheClosedForm() throws {
        let w = World(name: "p", baseline: 0, noiseSD: 1, passageCounts: [2, 3], attention: 2, invalidEffect: -1, attributes: [
            .init(name: "a", effect: 1, passages: ["Congress kept its special status.", "Congress kept its special status and its freedoms."]),
            .init(name: "b", effect: 2, passages: ["Police used brutal tactics.", "Police used brutal tactics, which led to bloodshed."]),
            .init(name: "c", effect: 3, passages: ["Flags fly."]),
        ])
        let prefixFree = w.matcher.prefixFree
        #expect(!prefixFree)
        #expect(OptimumSearch(w).optimum() == nil)
        #expect(w.bestValue == 5)
        #expect(EntangledWorlds.bruteForce(w).value == 5)
        // A passage that continues another across the boundary entangles them.
        var x = w
        x.attributes[2].passages.append("And its freedoms are gone.")
        #expect(OptimumSearch(x).optimum() != nil)
        #expect(abs(x.bestValue - EntangledWorlds.bruteForce(x).value) < 1e-12)
    }

    /// 8 attributes with 40 passages each, entangled: far beyond brute force (more than 10^17
    /// texts of 8 passages), found by the search in milliseconds.
    @Test func largeEntangledWorld() {
        for (seed, kind, invalid) in [(UInt64(11), OutcomeKind.continuous, -1.0), (12, .binary, 0.6), (13, .continuous, 0)] {
            let shape = Shape(attributes: 8, pool: 40...40, vocabulary: 40, words: 3...8, prefixShare: 0.35,
                              counts: [2, 3, 5, 8], attention: 3, invalidEffect: invalid, kind: kind)
            let w = EntangledWorlds.make(shape, seed: seed)
            #expect(w.attributes.allSatisfy { $0.passages.count == 40 })
            let prefixFree = w.matcher.prefixFree
            #expect(!prefixFree)
            let (best, value) = w.optimum()
            #expect(w.trueValue(of: best) == value)
            #expect(w.logPropensity(best, design: .randomized, trait: 1) > -.infinity)
            // No sampled text beats it.
            for s in w.sample(rows: 2_000, design: .randomized, seed: seed) { #expect(s.trueValue <= value + 1e-12) }
        }
    }

    /// The hidden trait's Λ from the range of the trait log-ratio equals the largest factor
    /// over every composable text, with repeated tilts (unnamed attributes: 0) and without.
    @Test func hiddenTraitLambdaEqualsTheLargestFactorOverTexts() {
        for seed in UInt64(1)...16 {
            var rng = SeededRandom(seed: seed)
            let count = 3 + rng.int(below: 4)
            var attributes: [World.Attribute] = []
            var tilt: [String: Double] = [:]
            for a in 0..<count {
                attributes.append(.init(name: "a\(a)", effect: 1, passages: ["P\(a) one.", "P\(a) two."]))
                switch rng.int(below: 3) {
                case 0: break
                case 1: tilt["a\(a)"] = 0.7
                default: tilt["a\(a)"] = (rng.gaussian() * 100).rounded() / 100
                }
            }
            if tilt.values.allSatisfy({ $0 == 0 }) { tilt["a0"] = 1.3 }
            let counts = Array(Set((0...rng.int(below: 3)).map { _ in 1 + rng.int(below: count) })).sorted()
            let w = World(name: "l", baseline: 0, noiseSD: 1, passageCounts: counts,
                          readers: .init(trait: "t", prevalence: 0.1 + 0.8 * rng.uniform(), effect: 1),
                          attributes: attributes, tilt: tilt, hasObservationalDesign: true)
            var worst = 0.0
            for c in w.allCompositions() {
                let marginal = w.marginalLogPropensity(c, design: .observational)
                for trait in [1, -1] {
                    worst = max(worst, abs(w.logPropensity(c, design: .observational, trait: trait) - marginal))
                }
            }
            #expect(abs(log(w.hiddenTraitLambda) - worst) < 1e-12, "seed \(seed)")
        }
    }
}

/// A world built from the Hong Kong survey experiment (../shared/data, Fong & Grimmer wave 1) the
/// way a user would: each snippet under the one treatment flag every text showing it carries,
/// effects from the differences in mean support, texts of 2 or 3 snippets. Many snippets are
/// word-prefixes of others ("... special status." / "... special status and its freedoms.").
@Suite("V* of a world built from real texts", .enabled(if: sharedDataAvailable, "../shared/data is not present"))
struct RealTextWorldOptimumTests {
    static let flags = ["treatycommit", "brave", "evil", "flag", "threat", "economy", "treatyviolation"]

    /// The snippets of each flag (in order of first appearance) and each flag's effect.
    static func snippets() throws -> (pools: [[String]], effects: [Double]) {
        let path = sharedDataDirectory.appendingPathComponent("hongkong-fong-grimmer/HKData.csv").path
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var reader = CSVReader(bytes: bytes, file: path)
        let records = try reader.readAll()
        let header = records[0].values
        func column(_ name: String) throws -> Int { try #require(header.firstIndex(of: name)) }
        let flagColumns = try flags.map(column)
        let textColumns = try ["text1", "text2", "text3"].map(column)
        let response = try column("resp")
        var order: [String] = []
        var common: [String: Set<Int>] = [:]
        var sums = [(with: Double, withCount: Double, without: Double, withoutCount: Double)](
            repeating: (0, 0, 0, 0), count: flags.count)
        for record in records.dropFirst() {
            let v = record.values
            let on = Set(flagColumns.indices.filter { v[flagColumns[$0]] == "1" })
            let y = try #require(Double(v[response]))
            for f in flags.indices {
                if on.contains(f) { sums[f].with += y; sums[f].withCount += 1 } else { sums[f].without += y; sums[f].withoutCount += 1 }
            }
            for c in textColumns {
                let snippet = v[c].trimmingCharacters(in: .whitespaces)
                guard !snippet.isEmpty else { continue }
                if common[snippet] == nil { order.append(snippet) }
                common[snippet] = (common[snippet] ?? Set(flags.indices)).intersection(on)
            }
        }
        var pools = [[String]](repeating: [], count: flags.count)
        for snippet in order {
            let f = try #require(common[snippet]?.first)
            #expect(common[snippet]?.count == 1)
            pools[f].append(snippet)
        }
        let effects = sums.map { (($0.with / $0.withCount - $0.without / $0.withoutCount) * 100).rounded() / 100 }
        return (pools, effects)
    }

    static func toml(_ pools: [[String]], _ effects: [Double], attention: Int, invalid: Double) -> String {
        var lines = ["name = \"hong-kong\"", "[outcome]", "baseline = 65", "noise_sd = 25", "[design]",
                     "passages = [2, 3]", "attention = \(attention)", "invalid_effect = \(invalid)"]
        for (f, pool) in pools.enumerated() {
            lines += ["[[attribute]]", "name = \"\(flags[f])\"", "effect = \(effects[f])", "passages = ["]
            for p in pool {
                lines.append("  \"" + p.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\",")
            }
            lines.append("]")
        }
        return lines.joined(separator: "\n")
    }

    /// The whole world: 202 snippets. With `invalid_effect <= 0` no text can score more than
    /// the largest `attention` effects, and the search's text reaches that bound.
    @Test func wholeWorldReachesTheBound() throws {
        let (pools, effects) = try Self.snippets()
        #expect(pools.map(\.count) == [100, 17, 19, 14, 20, 15, 17])
        for attention in [2, 3] {
            let w = try WorldFixtures.world(Self.toml(pools, effects, attention: attention, invalid: -2))
            let prefixFree = w.matcher.prefixFree
            #expect(!prefixFree)
            let bound = effects.filter { $0 > 0 }.sorted(by: >).prefix(attention).reduce(0, +)
            #expect(effects.filter { $0 > 0 }.count >= attention)
            #expect(abs(w.bestValue - (65 + bound)) < 1e-12)
            #expect(w.trueValue(of: w.bestComposition) == w.bestValue)
        }
    }

    /// Smaller worlds of the same snippets, each attribute with a prefix pair when it has one
    /// (and once with a snippet that continues another across the boundary), against the
    /// oracle on every composable text.
    @Test func subWorldsEqualBruteForce() throws {
        let (pools, effects) = try Self.snippets()
        let words = pools.map { $0.map(World.normalizedWords) }
        for seed in UInt64(1)...3 {
            var rng = SeededRandom(seed: seed)
            var small: [[String]] = []
            for f in pools.indices {
                let pairs = pools[f].indices.flatMap { i in
                    pools[f].indices.filter { j in j != i && words[f][j].starts(with: words[f][i]) }.map { (i, $0) }
                }
                var chosen: [Int] = []
                if !pairs.isEmpty {
                    let (i, j) = pairs[rng.int(below: pairs.count)]
                    chosen = [i, j]
                }
                var others = pools[f].indices.filter { !chosen.contains($0) }
                rng.shuffle(&others)
                chosen += others.prefix(3 - chosen.count)
                small.append(chosen.sorted().map { pools[f][$0] })
            }
            if seed == 3 { small[3].append("And its freedoms are at stake.") }
            let w = try WorldFixtures.world(Self.toml(small, effects, attention: 2 + Int(seed % 2), invalid: seed == 2 ? 1.5 : -2))
            let prefixFree = w.matcher.prefixFree
            #expect(!prefixFree)
            // Prefix pairs inside an attribute keep the closed form; the added snippet does not.
            #expect((OptimumSearch(w).optimum() != nil) == (seed == 3))
            let brute = EntangledWorlds.bruteForce(w)
            #expect(abs(w.bestValue - brute.value) < 1e-12, "seed \(seed)")
            #expect(w.trueValue(of: w.bestComposition) == w.bestValue)
        }
    }
}
