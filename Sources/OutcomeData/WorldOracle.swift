import Foundation

/// What the oracle found in a string and what it is worth (<doc:WorldFileFormat>, "Oracle").
public struct OracleResult: Sendable, Hashable {
    /// One passage found in the text: `attribute` and the index of the passage in its pool.
    public struct Match: Sendable, Hashable {
        public var attribute: Int
        public var passage: Int
    }

    /// `g*(x)`: the expected response of a random reader to the text.
    public var value: Double
    /// Every passage found, in text order (repeats included).
    public var matches: [Match]
    /// The distinct attributes among the first `attention` matches, in order of first
    /// appearance: the ones whose effects count.
    public var countedAttributes: [Int]
    /// Each maximal run of words outside any match, normalized (lower case, no punctuation).
    public var invalidSegments: [String]
    /// `S(x)`: effects of `countedAttributes` plus `invalidEffect * invalidSegments.count`.
    public var score: Double
    // Made only by `World.oracle(_:)`: no public initializer.
}

extension World {
    /// Scores any string.
    ///
    /// The string and every passage are normalized (``World/normalizedWords(_:)``: lower case;
    /// punctuation other than in-word apostrophes and hyphens removed; whitespace collapsed).
    /// The words are then scanned left to right: at each position the longest passage whose
    /// words follow there is taken as a match; a word where no passage starts belongs to an
    /// invalid segment, and each maximal run of such words is one segment.
    ///
    /// Scoring: readers read the first `attention` *matched passages* (invalid segments do not
    /// use up attention); among those, each distinct attribute adds its effect once (a second
    /// passage of the same attribute uses a slot and adds nothing). Every invalid segment,
    /// before or after the attention limit, adds `invalidEffect`. The empty string has no
    /// matches and no invalid segments.
    public func oracle(_ text: String) -> OracleResult {
        let (matches, invalid) = matcher.scan(World.normalizedWords(text))
        var (counted, s) = attentionScore(matches.lazy.map(\.attribute))
        s += invalidEffect * Double(invalid.count)
        return OracleResult(value: expectedValue(score: s), matches: matches, countedAttributes: counted,
                            invalidSegments: invalid, score: s)
    }

    /// The words of `text` as the oracle compares them: lower-cased; letters, digits and
    /// combining marks form words; an apostrophe (' ’ ʼ) or hyphen (- ‐ ‑) is kept, as `'` or
    /// `-`, only between two word characters ("don't", "well-loved"); every other character
    /// (punctuation, symbols, dashes, whitespace) separates words. Passages are equal "after
    /// normalization" when these word lists are equal.
    ///
    /// (Punctuation acts as a separator rather than vanishing, so "month.Without" reads as two
    /// words, as a reader would; for ordinary text, with punctuation before a space, the two
    /// readings agree.)
    public static func normalizedWords(_ text: String) -> [String] {
        let scalars = Array(text.lowercased().unicodeScalars)
        var words: [String] = []
        var current = String.UnicodeScalarView()
        for i in scalars.indices {
            let u = scalars[i]
            if isWordScalar(u) {
                current.append(u)
                continue
            }
            if let joiner = joinerForm(u), i > 0, i + 1 < scalars.count,
               isWordScalar(scalars[i - 1]), isWordScalar(scalars[i + 1]) {
                current.append(joiner)
                continue
            }
            if !current.isEmpty {
                words.append(String(current))
                current = String.UnicodeScalarView()
            }
        }
        if !current.isEmpty { words.append(String(current)) }
        return words
    }

    /// `normalizedWords(text)` joined by single spaces.
    public static func normalize(_ text: String) -> String {
        normalizedWords(text).joined(separator: " ")
    }

    private static func isWordScalar(_ u: Unicode.Scalar) -> Bool {
        if u.isASCII {
            let v = u.value
            return (v >= 0x61 && v <= 0x7A) || (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A)
        }
        let p = u.properties
        if p.isAlphabetic || p.numericType != nil { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }

    private static func joinerForm(_ u: Unicode.Scalar) -> Unicode.Scalar? {
        switch u.value {
        case 0x27, 0x2019, 0x02BC: return "'"
        case 0x2D, 0x2010, 0x2011: return "-"
        default: return nil
        }
    }
}

/// A word trie over every passage of a world, for left-to-right longest-match scanning.
struct PassageMatcher: Sendable, Hashable {
    struct Node: Sendable, Hashable {
        var children: [Int: Int] = [:]
        var terminal: OracleResult.Match?
    }

    private var wordIDs: [String: Int] = [:]
    private var nodes: [Node] = [Node()]
    /// No passage's words are a proper prefix of another's (and none is empty or a duplicate,
    /// which a parsed world never has): then a composed text always parses back into exactly
    /// the passages it was composed of.
    private(set) var prefixFree = true

    init(_ attributes: [World.Attribute]) {
        var degenerate = false
        for (a, attribute) in attributes.enumerated() {
            for (p, passage) in attribute.passages.enumerated() {
                var node = 0
                for word in World.normalizedWords(passage) {
                    let id: Int
                    if let known = wordIDs[word] {
                        id = known
                    } else {
                        id = wordIDs.count
                        wordIDs[word] = id
                    }
                    if let next = nodes[node].children[id] {
                        node = next
                    } else {
                        nodes.append(Node())
                        nodes[node].children[id] = nodes.count - 1
                        node = nodes.count - 1
                    }
                }
                // The first passage wins a (normally rejected) duplicate; an empty passage
                // never matches.
                if node != 0 && nodes[node].terminal == nil {
                    nodes[node].terminal = OracleResult.Match(attribute: a, passage: p)
                } else {
                    degenerate = true
                }
            }
        }
        prefixFree = !degenerate && !nodes.contains { $0.terminal != nil && !$0.children.isEmpty }
    }

    /// Matches in text order and the invalid segments (runs of unmatched words).
    func scan(_ words: [String]) -> (matches: [OracleResult.Match], invalid: [String]) {
        let ids = words.map { wordIDs[$0] ?? -1 }
        var matches: [OracleResult.Match] = []
        var invalid: [String] = []
        var run: [String] = []
        var i = 0
        while i < ids.count {
            var node = 0
            var j = i
            var best: (end: Int, match: OracleResult.Match)?
            while j < ids.count, ids[j] >= 0, let next = nodes[node].children[ids[j]] {
                node = next
                j += 1
                if let t = nodes[node].terminal { best = (j, t) }
            }
            if let best {
                if !run.isEmpty {
                    invalid.append(run.joined(separator: " "))
                    run.removeAll()
                }
                matches.append(best.match)
                i = best.end
            } else {
                run.append(words[i])
                i += 1
            }
        }
        if !run.isEmpty { invalid.append(run.joined(separator: " ")) }
        return (matches, invalid)
    }
}
