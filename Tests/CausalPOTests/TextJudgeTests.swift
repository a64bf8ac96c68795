import CPOSupport
import Foundation
import Testing
@testable import CausalPO

@Suite("the user-data judge")
struct TextJudgeTests {
    @Test func characterNGramsOfAShortText() {
        #expect(CharacterNGramFeaturizer.normalized("Don't GO!!") == Array(" don t go ".unicodeScalars))
        // " ab " has the 3-grams " ab", "ab " and the 4-gram " ab ": three terms.
        let f = CharacterNGramFeaturizer(minLength: 3, maxLength: 5, dimension: 1 << 20)
        let c = f.counts("Ab!")
        #expect(c.values.reduce(0, +) == 3)
        var expected: [Int] = []
        for term in [" ab", "ab ", " ab "] {
            let h = TextFeaturizer.fnv1a64(term.utf8, state: CharacterNGramFeaturizer.salt)
            expected.append(Int((h ^ (h >> 32)) % UInt64(1 << 20)))
        }
        #expect(c.indices == expected.sorted())
        // The same text gives the same features, and case or punctuation do not matter.
        #expect(f.counts("ab") == c && f.counts("  AB ...") == c)
    }

    /// Predictions in closed form: the nearest rows' outcomes weighted by cosine similarity.
    @Test func predictionsAreSimilarityWeightedNeighbours() throws {
        let texts = ["red apple pie", "green apple tart", "blue whale song", "red apple cake", "grey whale song", "sweet apple pie",
                     "old whale tale", "red cherry pie", "deep whale call", "hot apple pie"]
        let y: [Double] = [10, 12, 40, 11, 42, 9, 39, 13, 41, 10]
        let judge = try NearestNeighborJudge.fit(texts: texts, outcomes: y, kind: .ridge, seed: 1, permutations: 9)
        let k = judge.neighbors
        let query = "red apple pie"
        let sims = judge.index.similarities(to: judge.index.vector(query))
        #expect(abs(sims[0] - 1) < 1e-12, "a row is most similar to itself")
        let top = sims.indices.sorted { sims[$0] != sims[$1] ? sims[$0] > sims[$1] : $0 < $1 }.prefix(k)
        let expected = top.reduce(0) { $0 + sims[$1] * y[$1] } / top.reduce(0) { $0 + sims[$1] }
        #expect(abs(judge.predict([query])[0] - expected) < 1e-12)
        // A text sharing nothing with any row gets the mean outcome.
        #expect(abs(judge.predict(["zzz"])[0] - y.reduce(0, +) / 10) < 1e-12)
        // Whale texts score higher than pie texts.
        let p = judge.predict(["a whale song", "an apple pie"])
        #expect(p[0] > p[1] + 5)
    }

    /// Rows where one sentence shifts the outcome by `signal` (noise sd 10): the judge tells
    /// texts apart. The same texts with outcomes that ignore them: it does not.
    static func rows(signal: Double, count: Int, seed: UInt64) -> (texts: [String], outcomes: [Double]) {
        var r = SeededRandom(seed: seed)
        let openings = ["Please join us", "Come along", "We need you", "Help the river", "Bring a friend"]
        let extras = ["this Saturday", "at the old mill", "with your family", "before noon", "and stay for lunch"]
        var texts: [String] = [], y: [Double] = []
        for _ in 0..<count {
            let good = r.uniform() < 0.5
            texts.append("\(openings[r.int(below: 5)]) \(extras[r.int(below: 5)])." + (good ? " Children get free badges." : " Parking is limited."))
            y.append(50 + (good ? signal : 0) + 10 * r.gaussian())
        }
        return (texts, y)
    }

    @Test func aJudgeWithSignalIsInformativeAndOneWithoutIsNot() throws {
        let strong = Self.rows(signal: 15, count: 200, seed: 3)
        let a = try NearestNeighborJudge.fit(texts: strong.texts, outcomes: strong.outcomes, kind: .ridge, seed: 5).assessment
        print("signal: \(a.summary)")
        #expect(a.quality.metric == .r2 && a.quality.value > 0.05 && a.pValue <= 0.02 && a.informative)
        #expect(a.rows == 200 && a.permutations == NearestNeighborJudge.defaultPermutations)
        let none = Self.rows(signal: 0, count: 200, seed: 3)
        let b = try NearestNeighborJudge.fit(texts: none.texts, outcomes: none.outcomes, kind: .ridge, seed: 5).assessment
        print("no signal: \(b.summary)")
        #expect(!b.informative)
        #expect(b.verdict.contains("cannot tell texts apart") && a.verdict.contains("better than chance"))
    }

    /// The permutation test holds its level: on 40 datasets without signal, the judge is called
    /// informative in at most 6 (5% expected: 2; P(≥ 7 | 5%) < 0.01).
    @Test func theVerdictRarelyFindsSignalInNoise() throws {
        var informative = 0
        for seed: UInt64 in 0..<40 {
            let d = Self.rows(signal: 0, count: 60, seed: 100 + seed)
            if try NearestNeighborJudge.fit(texts: d.texts, outcomes: d.outcomes, kind: .ridge, seed: seed, permutations: 39)
                .assessment.informative { informative += 1 }
        }
        print("informative on noise: \(informative) of 40")
        #expect(informative <= 6)
    }

    @Test func binaryOutcomesAreJudgedByAUC() throws {
        let d = Self.rows(signal: 8, count: 120, seed: 9)
        let labels = d.outcomes.map { $0 > 54 ? 1.0 : 0.0 }
        let judge = try NearestNeighborJudge.fit(texts: d.texts, outcomes: labels, kind: .logistic, seed: 2, permutations: 19)
        #expect(judge.assessment.quality.metric == .auc && judge.assessment.quality.value > 0.6)
        #expect(judge.predict(d.texts).allSatisfy { (0...1).contains($0) })
    }

    /// Saved and restored (as a checkpoint keeps it), the judge predicts exactly as before.
    @Test func aDecodedJudgePredictsExactlyTheSame() throws {
        let d = Self.rows(signal: 8, count: 80, seed: 4)
        let judge = try NearestNeighborJudge.fit(texts: d.texts, outcomes: d.outcomes, kind: .ridge, seed: 1, permutations: 9)
        let back = try JSONDecoder().decode(NearestNeighborJudge.self, from: JSONEncoder().encode(judge))
        #expect(back == judge)
        let probe = ["Come along this Saturday. Children get free badges.", "Parking is limited.", "something else entirely"]
        #expect(back.predict(probe) == judge.predict(probe))
    }

    @Test func tooFewRowsAreRefused() {
        #expect(throws: OutcomeModelError.tooFewRowsForFolds(rows: 9, folds: 5)) {
            try NearestNeighborJudge.fit(texts: Array(repeating: "a", count: 9), outcomes: Array(repeating: 1, count: 9), kind: .ridge, seed: 0)
        }
        #expect(throws: OutcomeModelError.countMismatch(rows: 10, outcomes: 9)) {
            try NearestNeighborJudge.fit(texts: Array(repeating: "a", count: 10), outcomes: Array(repeating: 1, count: 9), kind: .ridge, seed: 0)
        }
    }
}
