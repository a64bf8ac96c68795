import Foundation
import Testing
@testable import OutcomeData

@Suite("world best value V*")
struct WorldValueTests {
    typealias R = WorldReference

    /// max of trueValue over the enumerated support, and that trueValue agrees with the oracle
    /// on every composed text.
    static func enumeratedBest(_ w: World) -> Double {
        var best = -Double.infinity
        for c in w.allCompositions() {
            let v = w.trueValue(of: c)
            #expect(v == w.oracle(w.text(of: c)).value)
            best = max(best, v)
        }
        return best
    }

    @Test func attentionShorterThanTheLongestText() throws {
        // attention 2 < 3 passages: the third passage counts for nothing.
        let w = try WorldFixtures.world(R.tinyTOML)
        #expect(w.matcher.prefixFree)
        let expected = 1 + (2 + 0.5) + 4 * (2 * 0.3 - 1)
        #expect(abs(w.bestValue - expected) < 1e-12)
        #expect(abs(Self.enumeratedBest(w) - w.bestValue) < 1e-12)
        #expect(w.trueValue(of: w.bestComposition) == w.bestValue)
        #expect(Set(w.bestComposition.attributes.prefix(2)) == [0, 2])
        #expect(w.logPropensity(w.bestComposition, design: .randomized, trait: 1) > -.infinity)
    }

    @Test func negativeEffectsFavorTheShortestText() throws {
        let toml = """
            name = "all-bad"
            [outcome]
            baseline = 50
            noise_sd = 1
            [design]
            passages = [3, 2]
            [[attribute]]
            name = "a"
            effect = -1
            passages = ["A."]
            [[attribute]]
            name = "b"
            effect = -2
            passages = ["B."]
            [[attribute]]
            name = "c"
            effect = -3
            passages = ["C."]
            [[attribute]]
            name = "d"
            effect = -0.5
            passages = ["D."]
            """
        let w = try WorldFixtures.world(toml)
        #expect(w.bestValue == 50 - 1.5)
        #expect(w.bestComposition == Composition(attributes: [3, 0], passages: [0, 0]))
        #expect(Self.enumeratedBest(w) == w.bestValue)
    }

    @Test func binaryWorld() throws {
        let toml = R.tinyTOML.replacingOccurrences(of: "baseline = 1.0\nnoise_sd = 1.5", with: "kind = \"binary\"\nbaseline = -0.5")
            .replacingOccurrences(of: "attention = 2", with: "attention = 1")
        let w = try WorldFixtures.world(toml)
        let expected = 0.3 * R.logistic(-0.5 + 2 + 4) + 0.7 * R.logistic(-0.5 + 2 - 4)
        #expect(abs(w.bestValue - expected) < 1e-12)
        #expect(abs(Self.enumeratedBest(w) - w.bestValue) < 1e-12)
        #expect(w.bestComposition.attributes.first == 0)
    }

    @Test func contractExampleWorld() throws {
        let w = try WorldFixtures.world(WorldFixtures.example)
        // k = 3 with every attribute: 6 - 3 + 2; k = 2 with urgency and hope: 8.
        #expect(w.bestValue == 55 + 8)
        #expect(abs(Self.enumeratedBest(w) - w.bestValue) < 1e-12)
    }

    @Test func prefixWorldsAreSearchedThroughTheOracle() throws {
        // "One." + "Two three four." reads as "one two | three | four": three passages from a
        // two-passage text, worth more than any text that parses as composed.
        let toml = """
            name = "misparse"
            [outcome]
            noise_sd = 1
            [design]
            passages = [2]
            [[attribute]]
            name = "x"
            effect = 1
            passages = ["One."]
            [[attribute]]
            name = "y"
            effect = 1
            passages = ["Two three four."]
            [[attribute]]
            name = "z"
            effect = 1
            passages = ["One two."]
            [[attribute]]
            name = "w"
            effect = 1
            passages = ["Three."]
            [[attribute]]
            name = "v"
            effect = 1
            passages = ["Four."]
            """
        let w = try WorldFixtures.world(toml)
        #expect(!w.matcher.prefixFree)
        #expect(w.bestValue == 3)
        #expect(Self.enumeratedBest(w) == 3)
        #expect(w.bestComposition == Composition(attributes: [0, 1], passages: [0, 0]))
        #expect(w.oracle(w.text(of: w.bestComposition)).matches.map(\.attribute) == [2, 3, 4])
    }
}
