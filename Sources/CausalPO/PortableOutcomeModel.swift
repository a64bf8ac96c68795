import Foundation

/// ĝ in a documented portable form (`ghat.json` of an export): what another program needs to
/// compute exactly the predictions of a `CrossFittedOutcomeModel` on new texts, and nothing of
/// how it was fitted.
///
///     {"format": "cpo-tui-ghat", "version": 1, "kind": "ridge" | "logistic",
///      "featurizer": {"dimension": 16384, "bigrams": true, "sign_hashing": false,
///                     "normalization": "log1p" | "counts" | "binary", "hash": "fnv1a64",
///                     "words": "<the word rule>"},
///      "combine": "mean", "negated_outcomes": false,
///      "models": [{"intercept": 53.2, "indices": [3, 17, ...], "values": [0.12, -0.4, ...]}, ...]}
///
/// ĝ(text) = mean over `models` of b + x·β (ridge) or σ(b + x·β) (logistic), x the
/// featurizer's hashed features of the text (`TextFeaturizer` is the definition), b the
/// model's `intercept`, β zero but at `indices` (strictly increasing), where it is `values`.
/// A model fitted to negated outcomes (`negated_outcomes`) is used as it is, never negated back.
public struct PortableOutcomeModel: Codable, Sendable, Equatable {
    public static let format = "cpo-tui-ghat"
    public static let version = 1
    /// The only hash and combination rule of version 1.
    public static let hash = "fnv1a64"
    public static let combine = "mean"

    /// One fold model: its intercept and its non-zero weights.
    public struct Model: Codable, Sendable, Equatable {
        public var intercept: Double
        /// Hash slots with a non-zero weight, strictly increasing, each below the dimension.
        public var indices: [Int]
        public var values: [Double]

        public init(intercept: Double, indices: [Int], values: [Double]) {
            self.intercept = intercept
            self.indices = indices
            self.values = values
        }

        /// The weight of slot `index` (0 where none is stored).
        func weight(_ index: Int) -> Double {
            var lo = 0, hi = indices.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if indices[mid] < index { lo = mid + 1 } else { hi = mid }
            }
            return lo < indices.count && indices[lo] == index ? values[lo] : 0
        }
    }

    /// The featurizer's settings, with the rule that turns a text into words, written out for
    /// readers in other languages.
    public struct Featurizer: Codable, Sendable, Equatable {
        public var dimension: Int
        public var bigrams: Bool
        public var signHashing: Bool
        public var normalization: FeatureNormalization
        public var hash: String
        public var words: String

        enum CodingKeys: String, CodingKey {
            case dimension, bigrams, signHashing = "sign_hashing", normalization, hash, words
        }
    }

    /// The word rule of `TextFeaturizer`, as its documentation states it.
    public static let wordRule = """
        The text is lower-cased (Unicode default case mapping), then a word is a maximal run of letters, digits and \
        combining marks (Unicode Alphabetic, any Numeric_Type, or general category Mn/Mc/Me); an apostrophe (U+0027 or \
        U+2019) or hyphen (U+002D, U+2010, U+2011) joins two such runs into one word when it has a word character on both \
        sides, and is stored as U+0027 or U+002D. Everything else separates words. Terms: each word, then (with bigrams) \
        each adjacent pair written "w1 w2" with one space. Hash: FNV-1a 64 over the term's UTF-8 bytes; slot = \
        (h ^ (h >> 32)) mod dimension; with sign hashing the sign is -1 when bit 63 of h is set. Values: the signed counts \
        per slot, then log1p: sign(c)*log(1+|c|), counts: c, binary: sign(c).
        """

    public var kind: OutcomeModelKind
    public var featurizer: Featurizer
    public var negatedOutcomes: Bool
    public var models: [Model]

    enum CodingKeys: String, CodingKey {
        case format, version, kind, featurizer, combine, negatedOutcomes = "negated_outcomes", models
    }

    /// The portable form of a fitted ĝ: its K fold models with only their non-zero weights.
    public init(_ model: CrossFittedOutcomeModel) {
        kind = model.kind
        let c = model.featurizer.config
        featurizer = Featurizer(dimension: c.dimension, bigrams: c.bigrams, signHashing: c.signHashing,
                                normalization: c.normalization, hash: Self.hash, words: Self.wordRule)
        negatedOutcomes = model.negatedOutcomes
        models = model.models.map { m in
            let slots = m.weights.indices.filter { m.weights[$0] != 0 }
            return Model(intercept: m.intercept, indices: slots, values: slots.map { m.weights[$0] })
        }
    }

    /// Reads the format and version first, so that a file of another kind or a later version
    /// is named as such rather than reported as a missing key; then checks every value.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let format = try? c.decode(String.self, forKey: .format)
        guard format == Self.format else {
            throw PortableOutcomeModelError.notAModel(found: format)
        }
        let version = try? c.decode(Int.self, forKey: .version)
        guard version == Self.version else {
            throw PortableOutcomeModelError.unknownVersion(found: version)
        }
        kind = try c.decode(OutcomeModelKind.self, forKey: .kind)
        featurizer = try c.decode(Featurizer.self, forKey: .featurizer)
        let combine = try c.decode(String.self, forKey: .combine)
        negatedOutcomes = try c.decode(Bool.self, forKey: .negatedOutcomes)
        models = try c.decode([Model].self, forKey: .models)
        if combine != Self.combine { throw PortableOutcomeModelError.invalid("\"combine\" is \"\(combine)\"; version 1 knows only \"mean\"") }
        if let problem { throw PortableOutcomeModelError.invalid(problem) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.format, forKey: .format)
        try c.encode(Self.version, forKey: .version)
        try c.encode(kind, forKey: .kind)
        try c.encode(featurizer, forKey: .featurizer)
        try c.encode(Self.combine, forKey: .combine)
        try c.encode(negatedOutcomes, forKey: .negatedOutcomes)
        try c.encode(models, forKey: .models)
    }

    /// What makes these values unusable, if anything.
    public var problem: String? {
        if featurizer.dimension < 1 { return "the featurizer's \"dimension\" must be at least 1 (got \(featurizer.dimension))" }
        if featurizer.hash != Self.hash { return "the featurizer's \"hash\" is \"\(featurizer.hash)\"; version 1 knows only \"\(Self.hash)\"" }
        if models.isEmpty { return "\"models\" is empty; a fitted ĝ has at least one model" }
        for (k, m) in models.enumerated() {
            if m.indices.count != m.values.count {
                return "model \(k) has \(m.indices.count) indices but \(m.values.count) values; they must align"
            }
            if !m.intercept.isFinite || !m.values.allSatisfy(\.isFinite) { return "model \(k) holds a number that is not finite" }
            for (j, i) in m.indices.enumerated() {
                if i < 0 || i >= featurizer.dimension { return "model \(k): index \(i) is outside 0..<\(featurizer.dimension)" }
                if j > 0 && m.indices[j - 1] >= i { return "model \(k): indices must be strictly increasing (\(m.indices[j - 1]) then \(i))" }
            }
        }
        return nil
    }

    /// The featurizer this model's features come from.
    public var textFeaturizer: TextFeaturizer {
        TextFeaturizer(FeatureConfig(dimension: featurizer.dimension, bigrams: featurizer.bigrams, signHashing: featurizer.signHashing,
                                     normalization: featurizer.normalization))
    }

    /// ĝ(x) for features made by `textFeaturizer`: the same arithmetic, in the same order, as
    /// `CrossFittedOutcomeModel.predict`, so the result is the same to the bit.
    public func predict(_ x: SparseVector) -> Double {
        models.reduce(0) { sum, m in
            var eta = m.intercept
            for k in x.indices.indices { eta += x.values[k] * m.weight(x.indices[k]) }
            return sum + (kind == .ridge ? eta : logisticFunction(eta))
        } / Double(models.count)
    }

    public func predict(_ texts: [String]) -> [Double] {
        let f = textFeaturizer
        return texts.map { predict(f.features($0)) }
    }
}

/// Why a ghat.json cannot be used; each says what to do.
public enum PortableOutcomeModelError: Error, CustomStringConvertible, Equatable {
    case notAModel(found: String?)
    case unknownVersion(found: Int?)
    case invalid(String)

    public var description: String {
        switch self {
        case .notAModel(let found):
            return "this is not a cpo-tui ĝ file: its \"format\" is \(found.map { "\"\($0)\"" } ?? "missing"), not \"\(PortableOutcomeModel.format)\". "
                + "Pass the ghat.json that cpo-tui export wrote."
        case .unknownVersion(let found):
            return "ĝ file version \(found.map(String.init) ?? "missing") is not one this cpo-tui reads (it reads version \(PortableOutcomeModel.version)). "
                + "Export again with this cpo-tui, or use the cpo-tui that wrote it."
        case .invalid(let problem):
            return "the ĝ file is damaged: \(problem). Export it again."
        }
    }
}
