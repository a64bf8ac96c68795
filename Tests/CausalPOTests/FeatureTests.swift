import CPOSupport
import Foundation
import Testing
@testable import CausalPO

@Suite("features")
struct FeatureTests {
    /// FNV-1a 64 test vectors (the first three from the FNV reference; all computed
    /// independently): pinned so that features never change between runs, builds or machines.
    @Test func fnvHashIsPinned() {
        #expect(TextFeaturizer.fnv1a64("") == 0xcbf2_9ce4_8422_2325)
        #expect(TextFeaturizer.fnv1a64("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(TextFeaturizer.fnv1a64("foobar") == 0x8594_4171_f739_67e8)
        #expect(TextFeaturizer.fnv1a64("economy") == 0xa203_5ba9_438c_1277)
        #expect(TextFeaturizer.fnv1a64("café") == 0x48e8_823a_cfa4_0d89)
    }

    @Test func slotsArePinned() {
        let f = TextFeaturizer(FeatureConfig(signHashing: true))
        #expect(f.slot(ofTerm: "economy").index == 2526)
        #expect(f.slot(ofTerm: "economy").sign == -1)
        #expect(f.slot(ofTerm: "the economy").index == 4980)
        #expect(f.slot(ofTerm: "the economy").sign == 1)
        #expect(f.slot(ofTerm: "don't").index == 2694)
        let small = TextFeaturizer(FeatureConfig(dimension: 1000))
        #expect(small.slot(ofTerm: "economy").index == 398)
        #expect(small.slot(ofTerm: "economy").sign == 1)   // sign hashing off
    }

    @Test func wordsAreLowercasedWithInWordConnectors() {
        let w = TextFeaturizer.words("Don’t STOP—the well-known 3rd-party's Café!!  a--b 'quoted' x-")
        #expect(w == ["don't", "stop", "the", "well-known", "3rd-party's", "café", "a", "b", "quoted", "x"])
        #expect(TextFeaturizer.words("") == [])
        #expect(TextFeaturizer.words(" ... ") == [])
    }

    @Test func bigramHashesMatchTheirStrings() {
        // The featurizer hashes bigrams incrementally; it must agree with hashing "w1 w2".
        let f = TextFeaturizer(FeatureConfig(normalization: .counts))
        let text = "The economy, the ECONOMY. Jobs!"
        let terms = f.terms(text)
        #expect(terms == ["the", "economy", "the", "economy", "jobs", "the economy", "economy the", "the economy", "economy jobs"])
        let expected = SparseVector(merging: terms.map { (f.slot(ofTerm: $0).index, 1.0) })
        #expect(f.features(text) == expected)
        #expect(expected.values.sorted() == [1, 1, 1, 2, 2, 2])   // the, economy, "the economy" twice; jobs, "economy the", "economy jobs" once
    }

    @Test(arguments: FeatureNormalization.allCases)
    func normalizationsTransformCounts(_ normalization: FeatureNormalization) {
        let f = TextFeaturizer(FeatureConfig(bigrams: false, normalization: normalization))
        let x = f.features("vote vote vote now")
        let vote = f.slot(ofTerm: "vote").index
        let now = f.slot(ofTerm: "now").index
        #expect(x.indices == [vote, now].sorted())
        let v = x.values[x.indices.firstIndex(of: vote)!]
        let n = x.values[x.indices.firstIndex(of: now)!]
        switch normalization {
        case .counts: #expect(v == 3 && n == 1)
        case .log1p: #expect(v == Foundation.log1p(3) && n == Foundation.log1p(1))
        case .binary: #expect(v == 1 && n == 1)
        }
    }

    @Test func signHashingFlipsTheSignedCount() {
        let f = TextFeaturizer(FeatureConfig(bigrams: false, signHashing: true, normalization: .counts))
        let x = f.features("economy economy")
        #expect(x.indices == [2526])
        #expect(x.values == [-2])
    }

    @Test func featuresAreDeterministic() {
        let a = TextFeaturizer()
        let b = TextFeaturizer(FeatureConfig())
        let text = "A reader's support rose after the well-known argument about jobs and freedom."
        #expect(a.features(text) == b.features(text))
        #expect(a.features(text).nonZeroCount == 2 * TextFeaturizer.words(text).count - 1)
    }

    @Test func sparseVectorMergesSortsAndDropsZeros() {
        let v = SparseVector(merging: [(5, 1), (2, 3), (5, -1), (9, 0.5), (2, 1)])
        #expect(v.indices == [2, 9])
        #expect(v.values == [4, 0.5])
        #expect(v.dot([0, 0, 1, 0, 0, 0, 0, 0, 0, 2]) == 5)
    }
}
