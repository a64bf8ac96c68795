import Foundation

/// How a document's hashed term counts become feature values.
public enum FeatureNormalization: String, Codable, Sendable, Hashable, CaseIterable {
    /// The (signed) count of the terms hashed to a slot.
    case counts
    /// sign(c)·log(1 + |c|) of the signed count c: repeated words count, with diminishing returns.
    case log1p
    /// sign(c): presence only.
    case binary
}

/// What the text featurizer extracts (see `TextFeaturizer`).
public struct FeatureConfig: Codable, Sendable, Hashable {
    public static let defaultDimension = 1 << 14

    /// Number of hash slots d (any positive integer; a power of two is customary).
    public var dimension: Int
    /// Add word bigrams ("w1 w2") to the unigrams.
    public var bigrams: Bool
    /// Multiply each term's contribution by a ±1 sign taken from its hash, so that colliding
    /// terms cancel on average instead of adding up (Weinberger et al. 2009).
    public var signHashing: Bool
    public var normalization: FeatureNormalization

    public init(dimension: Int = FeatureConfig.defaultDimension, bigrams: Bool = true, signHashing: Bool = false,
                normalization: FeatureNormalization = .log1p) {
        precondition(dimension > 0, "the feature dimension must be positive")
        self.dimension = dimension
        self.bigrams = bigrams
        self.signHashing = signHashing
        self.normalization = normalization
    }
}

/// A sparse vector: strictly increasing slot indices and their (non-zero) values.
public struct SparseVector: Codable, Sendable, Hashable {
    public private(set) var indices: [Int]
    public private(set) var values: [Double]

    /// `indices` must be strictly increasing and aligned with `values`.
    public init(indices: [Int], values: [Double]) {
        precondition(indices.count == values.count, "indices and values must align")
        for k in indices.indices.dropFirst() {
            precondition(indices[k - 1] < indices[k], "sparse indices must be strictly increasing")
        }
        self.indices = indices
        self.values = values
    }

    /// Sums the values of repeated indices, sorts, and drops exact zeros.
    public init(merging pairs: [(index: Int, value: Double)]) {
        let sorted = pairs.sorted { $0.index < $1.index }
        var idx: [Int] = []
        var val: [Double] = []
        idx.reserveCapacity(sorted.count)
        val.reserveCapacity(sorted.count)
        for (i, v) in sorted {
            if let last = idx.last, last == i { val[val.count - 1] += v } else { idx.append(i); val.append(v) }
        }
        var k = 0
        for j in idx.indices where val[j] != 0 {
            idx[k] = idx[j]
            val[k] = val[j]
            k += 1
        }
        indices = Array(idx[0..<k])
        values = Array(val[0..<k])
    }

    public var nonZeroCount: Int { indices.count }

    /// x·v for a dense v that covers every index.
    public func dot(_ dense: [Double]) -> Double {
        var s = 0.0
        for k in indices.indices { s += values[k] * dense[indices[k]] }
        return s
    }
}

/// Turns texts into hashed bag-of-words features for the outcome model ĝ.
///
/// Words: the text is lower-cased (`String.lowercased()`), then a word is a maximal run of
/// letters, digits and combining marks; an apostrophe (' or ’) or hyphen (- ‐ ‑) joins two such
/// runs into one word ("don't", "well-known") when it has a word character on both sides, and
/// is stored as ' or - so typographic variants match. Everything else separates words.
///
/// Terms: each word (unigram) and, if `bigrams`, each adjacent pair written "w1 w2" (one
/// space; a word never contains a space, so the two kinds cannot collide as strings).
///
/// Hash: FNV-1a 64 over the term's UTF-8 bytes. This is FIXED: the same text gives the same
/// features in every process and on every machine (never Swift's per-process seeded `Hasher`).
/// The slot is `(h ^ (h >> 32)) % d` (xor-folding the high half in, as FNV's authors advise for
/// small tables, because FNV's low bits alone mix poorly); with sign hashing the sign is bit 63
/// of h (1 → −1).
///
/// Values: the signed counts of the terms in each slot, normalized per `FeatureNormalization`.
public struct TextFeaturizer: Codable, Sendable, Hashable {
    public var config: FeatureConfig

    public init(_ config: FeatureConfig = FeatureConfig()) {
        self.config = config
    }

    public var dimension: Int { config.dimension }

    // MARK: hashing

    public static let fnvOffsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    public static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3

    /// FNV-1a 64 of `bytes`, continuing from `state` (the offset basis for a fresh hash).
    @inline(__always)
    public static func fnv1a64<S: Sequence>(_ bytes: S, state: UInt64 = fnvOffsetBasis) -> UInt64 where S.Element == UInt8 {
        var h = state
        for b in bytes {
            h ^= UInt64(b)
            h = h &* fnvPrime
        }
        return h
    }

    /// FNV-1a 64 of the UTF-8 bytes of `s`.
    public static func fnv1a64(_ s: String) -> UInt64 { fnv1a64(s.utf8) }

    /// The slot and sign a term hash maps to.
    @inline(__always)
    public func slot(ofHash h: UInt64) -> (index: Int, sign: Double) {
        let index = Int((h ^ (h >> 32)) % UInt64(config.dimension))
        let sign: Double = config.signHashing && (h >> 63) == 1 ? -1 : 1
        return (index, sign)
    }

    /// The slot and sign of a term: a word, or a bigram written "w1 w2".
    public func slot(ofTerm term: String) -> (index: Int, sign: Double) {
        slot(ofHash: Self.fnv1a64(term))
    }

    // MARK: words

    @inline(__always)
    static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 {
            return (v >= 0x61 && v <= 0x7a) || (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5a)
        }
        let p = s.properties
        if p.isAlphabetic || p.numericType != nil { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }

    /// The byte an in-word connector is stored as (' or -), or nil if `s` is not one.
    @inline(__always)
    static func connectorByte(_ s: Unicode.Scalar) -> UInt8? {
        switch s.value {
        case 0x27, 0x2019: return 0x27          // ' ’
        case 0x2d, 0x2010, 0x2011: return 0x2d  // - ‐ ‑
        default: return nil
        }
    }

    /// Calls `body` with the UTF-8 bytes of each word of `text`, in order.
    static func forEachWord(_ text: String, _ body: (ArraySlice<UInt8>) -> Void) {
        var word: [UInt8] = []
        word.reserveCapacity(32)
        var pending: UInt8? = nil
        for s in text.lowercased().unicodeScalars {
            if isWordScalar(s) {
                if let c = pending { word.append(c); pending = nil }
                if s.value < 0x80 { word.append(UInt8(s.value)) } else { UTF8.encode(s) { word.append($0) } }
            } else if let c = connectorByte(s), !word.isEmpty, pending == nil {
                pending = c
            } else {
                if !word.isEmpty { body(word[...]); word.removeAll(keepingCapacity: true) }
                pending = nil
            }
        }
        if !word.isEmpty { body(word[...]) }
    }

    /// The words of `text` as the featurizer sees them.
    public static func words(_ text: String) -> [String] {
        var out: [String] = []
        forEachWord(text) { out.append(String(decoding: $0, as: UTF8.self)) }
        return out
    }

    /// The terms (unigrams, then bigrams if configured) of `text`, for inspection.
    public func terms(_ text: String) -> [String] {
        let w = Self.words(text)
        guard config.bigrams, w.count > 1 else { return w }
        return w + (1..<w.count).map { w[$0 - 1] + " " + w[$0] }
    }

    // MARK: features

    /// The hashed, normalized features of one text.
    public func features(_ text: String) -> SparseVector {
        var pairs: [(index: Int, value: Double)] = []
        pairs.reserveCapacity(64)
        var previous: UInt64? = nil
        Self.forEachWord(text) { word in
            let h = Self.fnv1a64(word)
            let u = slot(ofHash: h)
            pairs.append((u.index, u.sign))
            if config.bigrams, let p = previous {
                let hb = Self.fnv1a64(word, state: Self.fnv1a64(CollectionOfOne(0x20), state: p))
                let b = slot(ofHash: hb)
                pairs.append((b.index, b.sign))
            }
            previous = h
        }
        let merged = SparseVector(merging: pairs)
        let values: [Double]
        switch config.normalization {
        case .counts: values = merged.values
        case .log1p: values = merged.values.map { $0 < 0 ? -Foundation.log1p(-$0) : Foundation.log1p($0) }
        case .binary: values = merged.values.map { $0 < 0 ? -1 : 1 }
        }
        return SparseVector(indices: merged.indices, values: values)
    }

    /// The features of each text.
    public func features(_ texts: [String]) -> [SparseVector] { texts.map { features($0) } }
}
