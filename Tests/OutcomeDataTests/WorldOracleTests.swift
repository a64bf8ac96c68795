import Foundation
import Testing
@testable import OutcomeData

@Suite("world oracle")
struct WorldOracleTests {
    typealias Match = OracleResult.Match

    static func example() throws -> World { try WorldFixtures.world(WorldFixtures.example) }

    @Test func normalizationKeepsInWordApostrophesAndHyphensOnly() {
        #expect(World.normalizedWords("  Don’t STOP the well-loved   library!! ") == ["don't", "stop", "the", "well-loved", "library"])
        #expect(World.normalizedWords("'Quoted' -- dashes - and — em–dash; e.g. U.S.") ==
            ["quoted", "dashes", "and", "em", "dash", "e", "g", "u", "s"])
        #expect(World.normalizedWords("month.Without\nhelp\t,the") == ["month", "without", "help", "the"])
        #expect(World.normalizedWords("Café 0-100 naïve") == ["café", "0-100", "naïve"])
        #expect(World.normalizedWords("?!. ,") == [])
    }

    @Test func recoversComposedTextsDespiteCaseSpacingAndPunctuation() throws {
        let w = try Self.example()
        // guilt, then urgency passage 2: the exact composed text.
        let c = Composition(attributes: [1, 0], passages: [0, 1])
        let text = w.text(of: c)
        #expect(text == "You walked past us last year, and the year before. Without help the doors close before winter.")
        let exact = w.oracle(text)
        #expect(exact.matches == [Match(attribute: 1, passage: 0), Match(attribute: 0, passage: 1)])
        #expect(exact.countedAttributes == [1, 0])
        #expect(exact.invalidSegments.isEmpty)
        #expect(exact.score == 3)
        #expect(exact.value == 55 + 3 + 10 * 0)
        #expect(exact.value == w.trueValue(of: c))

        let variants = [
            "YOU WALKED PAST US LAST YEAR AND THE YEAR BEFORE\n\n   without help, the doors close before winter!!!",
            "you walked past us last year; and the year before... Without help -- the doors close before winter?",
            "  «You walked past us last year, and the year before»   (Without help the doors close before winter.) ",
        ]
        for v in variants {
            let r = w.oracle(v)
            #expect(r == exact, "\(v)")
        }
    }

    @Test func invalidSegmentsAreMaximalRunsOfUnmatchedWords() throws {
        let w = try Self.example()
        let text = "Hello there! The roof money runs out at the end of the month. Buy our raffle tickets, please. "
            + "You walked past us last year, and the year before. So long."
        let r = w.oracle(text)
        #expect(r.matches == [Match(attribute: 0, passage: 0), Match(attribute: 1, passage: 0)])
        #expect(r.invalidSegments == ["hello there", "buy our raffle tickets please", "so long"])
        #expect(r.score == 6 - 3 + 3 * -5)
        #expect(r.value == 55 + r.score)

        let garbage = w.oracle("Nothing here matches any passage at all.")
        #expect(garbage.matches.isEmpty)
        #expect(garbage.invalidSegments == ["nothing here matches any passage at all"])
        #expect(garbage.score == -5)

        let empty = w.oracle("")
        #expect(empty.matches.isEmpty && empty.invalidSegments.isEmpty)
        #expect(empty.score == 0)
        #expect(empty.value == 55)

        // A passage cut short is not a match: its words are one invalid segment.
        let cut = w.oracle("Without help the doors close.")
        #expect(cut.matches.isEmpty)
        #expect(cut.invalidSegments == ["without help the doors close"])
    }

    @Test func attentionCountsMatchedPassagesAndRepeatsCountOnce() throws {
        let toml = """
            name = "attention"
            [outcome]
            baseline = 0
            noise_sd = 1
            [design]
            passages = [1, 2, 3]
            attention = 2
            invalid_effect = -1
            [[attribute]]
            name = "a"
            effect = 1
            passages = ["Alpha one.", "Alpha two."]
            [[attribute]]
            name = "b"
            effect = 10
            passages = ["Beta."]
            [[attribute]]
            name = "c"
            effect = 100
            passages = ["Gamma."]
            """
        let w = try WorldFixtures.world(toml)
        // Only the first two matched passages are read; junk does not use up attention.
        let r = w.oracle("junk Alpha one. more junk Beta. Gamma. trailing")
        #expect(r.matches.map(\.attribute) == [0, 1, 2])
        #expect(r.countedAttributes == [0, 1])
        #expect(r.invalidSegments.count == 3)
        #expect(r.score == 1 + 10 - 3)
        // A second passage of an attribute uses a slot but adds nothing.
        let repeated = w.oracle("Alpha one. Alpha two. Gamma.")
        #expect(repeated.countedAttributes == [0])
        #expect(repeated.score == 1)
        // structuralScore agrees with the oracle on composed texts (fast path).
        #expect(w.matcher.prefixFree)
        for c in w.allCompositions() {
            #expect(w.structuralScore(c) == w.oracle(w.text(of: c)).score)
        }
    }

    @Test func longestMatchWinsWhenOnePassageIsAPrefixOfAnother() throws {
        let toml = """
            name = "prefix"
            [outcome]
            noise_sd = 1
            [design]
            passages = [1, 2]
            invalid_effect = -1
            [[attribute]]
            name = "short"
            effect = 1
            passages = ["Please help."]
            [[attribute]]
            name = "long"
            effect = 5
            passages = ["Please help the library."]
            [[attribute]]
            name = "other"
            effect = 2
            passages = ["The library needs you."]
            """
        let w = try WorldFixtures.world(toml)
        #expect(!w.matcher.prefixFree)
        #expect(w.oracle("Please help the library.").matches == [Match(attribute: 1, passage: 0)])
        #expect(w.oracle("Please help.").matches == [Match(attribute: 0, passage: 0)])
        // "Please help." + "The library needs you." reads "please help the library | needs you":
        // the longer passage swallows the boundary, and the rest is invalid.
        let c = Composition(attributes: [0, 2], passages: [0, 0])
        let r = w.oracle(w.text(of: c))
        #expect(r.matches == [Match(attribute: 1, passage: 0)])
        #expect(r.invalidSegments == ["needs you"])
        #expect(r.score == 5 - 1)
        // trueValue and structuralScore follow the oracle in such worlds.
        #expect(w.structuralScore(c) == 4)
        #expect(w.trueValue(of: c) == r.value)
        // Partial overlap without a full longer match falls back to the shorter passage.
        let partial = w.oracle("Please help the village.")
        #expect(partial.matches == [Match(attribute: 0, passage: 0)])
        #expect(partial.invalidSegments == ["the village"])
    }

    @Test func recoversEverySampledText() throws {
        let w = try Self.example()
        for design in WorldDesign.allCases {
            for s in w.sample(rows: 300, design: design, seed: 11) {
                let r = w.oracle(s.text)
                let expected = zip(s.composition.attributes, s.composition.passages).map { Match(attribute: $0, passage: $1) }
                #expect(r.matches == expected)
                var counted: [Int] = []
                for a in s.composition.attributes.prefix(w.attention) where !counted.contains(a) { counted.append(a) }
                #expect(r.countedAttributes == counted)
                #expect(r.invalidSegments.isEmpty)
                #expect(r.value == s.trueValue)
                // Sloppy copies of the same text are scored identically.
                let sloppy = "  " + s.text.uppercased().replacingOccurrences(of: ".", with: " ;  ") + "\n"
                #expect(w.oracle(sloppy) == r)
            }
        }
    }

    @Test func trueValueUsesTheReaderMixture() throws {
        let binary = WorldFixtures.example
            .replacingOccurrences(of: "kind = \"continuous\"", with: "kind = \"binary\"")
            .replacingOccurrences(of: "baseline = 55.0", with: "baseline = -0.5")
            .replacingOccurrences(of: "prevalence = 0.5", with: "prevalence = 0.3")
            .replacingOccurrences(of: "effect = 10.0", with: "effect = 1.5")
            .replacingOccurrences(of: "effect = 6.0", with: "effect = 0.75")
        let w = try WorldFixtures.world(binary)
        func logistic(_ z: Double) -> Double { 1 / (1 + exp(-z)) }
        let r = w.oracle("The roof money runs out at the end of the month. zzz")
        let s = 0.75 - 5.0
        #expect(r.score == s)
        let mixture: Double = 0.3 * logistic(-0.5 + s + 1.5) + 0.7 * logistic(-0.5 + s - 1.5)
        #expect(abs(r.value - mixture) < 1e-12)

        let continuous = try Self.example()
        let r2 = continuous.oracle("Without help the doors close before winter.")
        let shift: Double = 10 * (2 * 0.5 - 1)
        #expect(r2.value == 55 + 6 + shift)
    }
}
