import CPOSupport
import Foundation

/// Hashed character n-grams of a text: the judge's features, chosen to be unlike ĝ's words
/// (`TextFeaturizer`), so that the judge's errors do not simply repeat ĝ's.
///
/// The text is lower-cased; every run of characters that are not letters, digits or combining
/// marks becomes one space, and a space is added at each end ("Don't go!" → " don t go ").
/// Every run of `minLength`...`maxLength` consecutive characters (Unicode scalars) is a term,
/// hashed with FNV-1a 64 over its UTF-8 bytes, started from the hash of "char-ngram" (so the
/// slots differ from ĝ's even for a term both could see), into `dimension` slots. A slot's
/// value is the number of terms in it.
public struct CharacterNGramFeaturizer: Codable, Sendable, Hashable {
    public var minLength: Int
    public var maxLength: Int
    public var dimension: Int

    public init(minLength: Int = 3, maxLength: Int = 5, dimension: Int = 1 << 20) {
        precondition(minLength >= 1 && maxLength >= minLength && dimension > 0, "n-gram lengths must satisfy 1 ≤ min ≤ max")
        self.minLength = minLength
        self.maxLength = maxLength
        self.dimension = dimension
    }

    static let salt = TextFeaturizer.fnv1a64("char-ngram")

    /// The text as the n-grams see it: lower-cased, separators folded to single spaces, padded.
    public static func normalized(_ text: String) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = [" "]
        for s in text.lowercased().unicodeScalars {
            if TextFeaturizer.isWordScalar(s) {
                out.append(s)
            } else if out.last != " " {
                out.append(" ")
            }
        }
        if out.last != " " { out.append(" ") }
        return out
    }

    /// The n-gram counts of one text, by slot.
    public func counts(_ text: String) -> SparseVector {
        let s = Self.normalized(text)
        var pairs: [(index: Int, value: Double)] = []
        pairs.reserveCapacity(s.count * (maxLength - minLength + 1))
        let utf8 = s.map { Array(String($0).utf8) }
        for start in s.indices {
            var h = Self.salt
            for length in 1...maxLength where start + length <= s.count {
                h = TextFeaturizer.fnv1a64(utf8[start + length - 1], state: h)
                if length >= minLength { pairs.append((Int((h ^ (h >> 32)) % UInt64(dimension)), 1)) }
            }
        }
        return SparseVector(merging: pairs)
    }
}

/// How well a judge tells texts apart, measured on the rows it was fitted to only: its
/// cross-validated quality, and a permutation test of that quality against chance.
public struct JudgeAssessment: Codable, Sendable, Hashable {
    /// The judge can tell texts apart when its cross-validated quality beats chance (R² > 0,
    /// AUC > ½) and beats the same procedure refitted on permuted outcomes at this level.
    public static let significance = 0.05

    /// Cross-validated R² (continuous outcomes) or AUC (binary) over the rows.
    public var quality: OutcomeModelQuality
    /// (1 + #{permutations whose quality ≥ `quality`}) / (1 + permutations).
    public var pValue: Double
    public var permutations: Int
    /// Rows the judge was fitted to (the held-out rows).
    public var rows: Int
    /// Neighbours per prediction.
    public var neighbors: Int

    public init(quality: OutcomeModelQuality, pValue: Double, permutations: Int, rows: Int, neighbors: Int) {
        self.quality = quality
        self.pValue = pValue
        self.permutations = permutations
        self.rows = rows
        self.neighbors = neighbors
    }

    /// Whether the judge's scores carry information about the outcome (see `significance`).
    public var informative: Bool {
        let chance: Double = quality.metric == .r2 ? 0 : 0.5
        return quality.value > chance && pValue <= Self.significance
    }

    /// "cross-validated R² 0.012 on 414 held-out rows (permutation p 0.030)".
    public var summary: String {
        String(format: "cross-validated %@ %.3f on %d held-out rows (permutation p %.3f, %d neighbours)",
               quality.metric.rawValue, quality.value, rows, pValue, neighbors)
    }

    /// What a reader should conclude from the judge's win rates, in one sentence.
    public var verdict: String {
        if informative { return "the judge tells texts apart better than chance (\(summary))" }
        let chance = quality.metric == .r2 ? "0" : "0.5"
        return "the judge cannot tell texts apart (\(summary); it needs a \(quality.metric.rawValue) above \(chance) "
            + "and p ≤ \(Self.significance)), so its win rates are not evidence for or against any method"
    }
}

/// The judge of win rates on a user's data: a k-nearest-neighbour regression on TF-IDF
/// weighted character n-grams (`CharacterNGramFeaturizer`), fitted on the held-out rows only.
///
/// It differs from ĝ (a ridge on hashed words, fitted on the training rows) in its rows, its
/// features and its model class, so that a method which learned ĝ's mistakes (OO-RLHF) is not
/// rewarded for them by a judge that makes the same ones.
///
/// - Features: TF-IDF of the n-gram counts, `log(1 + count) · idf`, with
///   `idf = log((1 + n) / (1 + df)) + 1` over the n rows, scaled to unit length.
/// - Prediction: the k rows most similar by cosine similarity (ties to the earlier row), their
///   outcomes averaged with the similarities as weights; the mean outcome when none is similar.
///   For binary outcomes that is a probability.
/// - k: from `neighborGrid`, the one with the best leave-one-out quality over the rows.
/// - Quality (`assessment`): nested 5-fold cross-validation within the rows (each fold predicted
///   by neighbours outside it, with k chosen by leave-one-out on those), and a permutation test:
///   the same procedure on `permutations` seeded shuffles of the outcomes.
///
/// Encoded as its rows and settings; the index is rebuilt when decoded (deterministically, so
/// a restored judge predicts exactly as the saved one).
public struct NearestNeighborJudge: Sendable {
    public static let neighborGrid = [5, 10, 20, 40, 80, 160]
    public static let folds = 5
    public static let defaultPermutations = 99

    public let kind: OutcomeModelKind
    public let featurizer: CharacterNGramFeaturizer
    public let texts: [String]
    public let outcomes: [Double]
    public let neighbors: Int
    public let assessment: JudgeAssessment
    let index: NeighborIndex

    /// Fits the judge on `texts` and their outcomes (the held-out rows), and assesses it.
    public static func fit(texts: [String], outcomes: [Double], kind: OutcomeModelKind, seed: UInt64,
                           featurizer: CharacterNGramFeaturizer = CharacterNGramFeaturizer(),
                           permutations: Int = defaultPermutations) throws(OutcomeModelError) -> NearestNeighborJudge {
        try OutcomeModel.validate(rows: texts.count, outcomes: outcomes, kind: kind, lambdas: [1])
        guard texts.count >= 2 * folds else { throw .tooFewRowsForFolds(rows: texts.count, folds: folds) }
        let index = NeighborIndex(texts: texts, featurizer: featurizer)
        let cv = CrossValidation(index: index, kind: kind, seed: seed)
        let k = cv.bestNeighbors(outcomes: outcomes, excluding: nil)
        let observed = cv.quality(outcomes: outcomes)
        var rng = SeededRandom(seed: SeededRandom.derivedSeed(seed, "judge-permutations"))
        var atLeast = 0
        for _ in 0..<permutations {
            var y = outcomes
            rng.shuffle(&y)
            let q = cv.quality(outcomes: y).value
            if q.isNaN || q >= observed.value { atLeast += 1 }
        }
        let assessment = JudgeAssessment(quality: observed, pValue: Double(1 + atLeast) / Double(1 + permutations),
                                         permutations: permutations, rows: texts.count, neighbors: k)
        return NearestNeighborJudge(kind: kind, featurizer: featurizer, texts: texts, outcomes: outcomes, neighbors: k,
                                    assessment: assessment, index: index)
    }

    /// The judge's score of each text: its k most similar rows' outcomes, similarity-weighted.
    public func predict(_ newTexts: [String]) -> [Double] {
        let prior = outcomes.reduce(0, +) / Double(outcomes.count)
        return newTexts.map { text in
            let sims = index.similarities(to: index.vector(text))
            let top = NeighborIndex.nearest(sims, count: neighbors, excluding: { _ in false })
            return Self.weightedMean(top.map { ($0.similarity, outcomes[$0.row]) }) ?? prior
        }
    }

    /// Σ s·y / Σ s over positive similarities s; nil when none is positive.
    static func weightedMean(_ pairs: [(similarity: Double, outcome: Double)]) -> Double? {
        var sw = 0.0, swy = 0.0
        for (s, y) in pairs where s > 0 {
            sw += s
            swy += s * y
        }
        return sw > 0 ? swy / sw : nil
    }
}

extension NearestNeighborJudge: Codable {
    private enum CodingKeys: String, CodingKey { case kind, featurizer, texts, outcomes, neighbors, assessment }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let texts = try c.decode([String].self, forKey: .texts)
        let outcomes = try c.decode([Double].self, forKey: .outcomes)
        let neighbors = try c.decode(Int.self, forKey: .neighbors)
        guard !texts.isEmpty, texts.count == outcomes.count, neighbors >= 1 else {
            throw DecodingError.dataCorruptedError(forKey: .texts, in: c, debugDescription: "the judge's rows do not fit together")
        }
        let featurizer = try c.decode(CharacterNGramFeaturizer.self, forKey: .featurizer)
        guard featurizer.minLength >= 1, featurizer.maxLength >= featurizer.minLength, featurizer.dimension > 0 else {
            throw DecodingError.dataCorruptedError(forKey: .featurizer, in: c, debugDescription: "invalid n-gram settings")
        }
        self.init(kind: try c.decode(OutcomeModelKind.self, forKey: .kind), featurizer: featurizer, texts: texts,
                  outcomes: outcomes, neighbors: neighbors, assessment: try c.decode(JudgeAssessment.self, forKey: .assessment),
                  index: NeighborIndex(texts: texts, featurizer: featurizer))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(featurizer, forKey: .featurizer)
        try c.encode(texts, forKey: .texts)
        try c.encode(outcomes, forKey: .outcomes)
        try c.encode(neighbors, forKey: .neighbors)
        try c.encode(assessment, forKey: .assessment)
    }
}

extension NearestNeighborJudge: Equatable {
    public static func == (a: NearestNeighborJudge, b: NearestNeighborJudge) -> Bool {
        a.kind == b.kind && a.featurizer == b.featurizer && a.texts == b.texts && a.outcomes == b.outcomes
            && a.neighbors == b.neighbors && a.assessment == b.assessment
    }
}

/// The judge's rows as unit TF-IDF vectors, with an inverted index for similarities, and each
/// row's nearest other rows (for cross-validation).
struct NeighborIndex: Sendable {
    let featurizer: CharacterNGramFeaturizer
    let idf: [Int: Double]
    /// idf of a slot no row has.
    let unseenIDF: Double
    /// slot → (row, value) of every row with that slot.
    let postings: [Int: [(row: Int, value: Double)]]
    /// Each row's most similar other rows, most similar first (at most 4 × the largest k).
    let neighborLists: [[(row: Int, similarity: Double)]]

    var count: Int { neighborLists.count }

    init(texts: [String], featurizer: CharacterNGramFeaturizer) {
        self.featurizer = featurizer
        let counts = texts.map { featurizer.counts($0) }
        let n = Double(texts.count)
        var df: [Int: Int] = [:]
        for c in counts { for i in c.indices { df[i, default: 0] += 1 } }
        let idf = df.mapValues { Foundation.log((1 + n) / (1 + Double($0))) + 1 }
        let unseen = Foundation.log(1 + n) + 1
        self.idf = idf
        unseenIDF = unseen
        var postings: [Int: [(row: Int, value: Double)]] = [:]
        let vectors = counts.map { Self.weighted($0, idf: idf, unseen: unseen) }
        for (row, v) in vectors.enumerated() {
            for k in v.indices.indices { postings[v.indices[k], default: []].append((row, v.values[k])) }
        }
        self.postings = postings
        let length = min(texts.count - 1, 4 * (NearestNeighborJudge.neighborGrid.last ?? 80))
        var lists: [[(row: Int, similarity: Double)]] = []
        for (row, v) in vectors.enumerated() {
            let sims = Self.similarities(v, postings: postings, rows: texts.count)
            lists.append(Self.nearest(sims, count: length, excluding: { $0 == row }))
        }
        neighborLists = lists
    }

    /// log(1 + count) · idf, scaled to unit length.
    static func weighted(_ c: SparseVector, idf: [Int: Double], unseen: Double) -> SparseVector {
        var values = zip(c.indices, c.values).map { Foundation.log1p($1) * (idf[$0] ?? unseen) }
        let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if norm > 0 { values = values.map { $0 / norm } }
        return SparseVector(indices: c.indices, values: values)
    }

    func vector(_ text: String) -> SparseVector { Self.weighted(featurizer.counts(text), idf: idf, unseen: unseenIDF) }

    func similarities(to v: SparseVector) -> [Double] { Self.similarities(v, postings: postings, rows: count) }

    /// The cosine similarity of `v` with every row.
    static func similarities(_ v: SparseVector, postings: [Int: [(row: Int, value: Double)]], rows: Int) -> [Double] {
        var sims = [Double](repeating: 0, count: rows)
        for k in v.indices.indices {
            guard let list = postings[v.indices[k]] else { continue }
            let x = v.values[k]
            for p in list { sims[p.row] += x * p.value }
        }
        return sims
    }

    /// The `count` rows with the largest similarities (ties: the earlier row first), skipping `excluding`.
    static func nearest(_ sims: [Double], count: Int, excluding: (Int) -> Bool) -> [(row: Int, similarity: Double)] {
        let order = sims.indices.filter { !excluding($0) }.sorted { sims[$0] != sims[$1] ? sims[$0] > sims[$1] : $0 < $1 }
        return order.prefix(count).map { ($0, sims[$0]) }
    }
}

/// Nested cross-validation of the judge within its rows (fixed folds, so permuted outcomes are
/// judged by exactly the same procedure).
struct CrossValidation {
    let index: NeighborIndex
    let kind: OutcomeModelKind
    let fold: [Int]
    let grid: [Int]

    init(index: NeighborIndex, kind: OutcomeModelKind, seed: UInt64) {
        self.index = index
        self.kind = kind
        let folds = NearestNeighborJudge.folds
        fold = CrossFittedOutcomeModel.foldAssignment(count: index.count, folds: folds, seed: seed)
        // Every k must leave neighbours to spare inside the rows outside a fold.
        let inside = index.count - (index.count + folds - 1) / folds - 1
        let usable = NearestNeighborJudge.neighborGrid.filter { $0 <= inside }
        grid = usable.isEmpty ? [max(1, inside)] : usable
    }

    /// Predictions for `rows` at every k of the grid, from neighbours that `allowed` admits.
    func predictions(rows: [Int], outcomes y: [Double], allowed: (Int) -> Bool, prior: Double) -> [[Double]] {
        let kMax = grid.last ?? 1
        var out = [[Double]](repeating: [Double](repeating: prior, count: rows.count), count: grid.count)
        for (r, i) in rows.enumerated() {
            var sw = 0.0, swy = 0.0, taken = 0, g = 0
            for nb in index.neighborLists[i] where allowed(nb.row) {
                if nb.similarity > 0 {
                    sw += nb.similarity
                    swy += nb.similarity * y[nb.row]
                }
                taken += 1
                while g < grid.count && taken == grid[g] {
                    out[g][r] = sw > 0 ? swy / sw : prior
                    g += 1
                }
                if taken >= kMax { break }
            }
            // Fewer neighbours than k (a short list): what was found.
            while g < grid.count {
                out[g][r] = sw > 0 ? swy / sw : prior
                g += 1
            }
        }
        return out
    }

    func score(_ predictions: [Double], _ targets: [Double]) -> Double {
        OutcomeModelQuality.of(kind: kind, predictions: predictions, targets: targets).value
    }

    /// The k with the best leave-one-out quality on the rows outside fold `excluding` (all rows
    /// when nil); ties go to the smaller k.
    func bestNeighbors(outcomes y: [Double], excluding f: Int?) -> Int {
        let rows = index.neighborLists.indices.filter { f == nil || fold[$0] != f }
        let prior = rows.reduce(0) { $0 + y[$1] } / Double(max(1, rows.count))
        let preds = predictions(rows: rows, outcomes: y, allowed: { f == nil || fold[$0] != f }, prior: prior)
        let targets = rows.map { y[$0] }
        var best = (k: grid[0], q: -Double.infinity)
        for (g, p) in preds.enumerated() {
            let q = score(p, targets)
            if q > best.q { best = (grid[g], q) }
        }
        return best.k
    }

    /// Nested cross-validated quality: each fold predicted from the other folds' rows, with k
    /// chosen by leave-one-out on those rows.
    func quality(outcomes y: [Double]) -> OutcomeModelQuality {
        var oof = [Double](repeating: .nan, count: index.count)
        for f in 0..<NearestNeighborJudge.folds {
            let k = bestNeighbors(outcomes: y, excluding: f)
            let g = grid.firstIndex(of: k) ?? 0
            let outside = index.neighborLists.indices.filter { fold[$0] != f }
            let prior = outside.reduce(0) { $0 + y[$1] } / Double(max(1, outside.count))
            let rows = index.neighborLists.indices.filter { fold[$0] == f }
            let p = predictions(rows: rows, outcomes: y, allowed: { fold[$0] != f }, prior: prior)[g]
            for (r, i) in rows.enumerated() { oof[i] = p[r] }
        }
        return OutcomeModelQuality.of(kind: kind, predictions: oof, targets: y)
    }
}
