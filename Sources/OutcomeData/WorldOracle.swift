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
    /// The trie; node 0 is the root (the empty word sequence).
    private(set) var nodes: [Node] = [Node()]
    /// The word ids of every passage: `passageWords[a][p]` for passage `p` of attribute `a`.
    private(set) var passageWords: [[[Int]]] = []
    /// No passage's words are a proper prefix of another's (and none is empty or a duplicate,
    /// which a parsed world never has): then a composed text always parses back into exactly
    /// the passages it was composed of.
    private(set) var prefixFree = true
    /// The children of `nodes` as flat arrays, for the scan's lookups: the root's by word id
    /// (-1: none), every other node's `firstChild[n]..<firstChild[n + 1]` in `childWord` and
    /// `childNode`.
    private var rootChild: [Int32] = []
    private var firstChild: [Int32] = []
    private var childWord: [Int32] = []
    private var childNode: [Int32] = []

    init(_ attributes: [World.Attribute]) {
        var degenerate = false
        for (a, attribute) in attributes.enumerated() {
            var pool: [[Int]] = []
            for (p, passage) in attribute.passages.enumerated() {
                var node = 0
                var ids: [Int] = []
                for word in World.normalizedWords(passage) {
                    let id: Int
                    if let known = wordIDs[word] {
                        id = known
                    } else {
                        id = wordIDs.count
                        wordIDs[word] = id
                    }
                    ids.append(id)
                    if let next = nodes[node].children[id] {
                        node = next
                    } else {
                        nodes.append(Node())
                        nodes[node].children[id] = nodes.count - 1
                        node = nodes.count - 1
                    }
                }
                pool.append(ids)
                // The first passage wins a (normally rejected) duplicate; an empty passage
                // never matches.
                if node != 0 && nodes[node].terminal == nil {
                    nodes[node].terminal = OracleResult.Match(attribute: a, passage: p)
                } else {
                    degenerate = true
                }
            }
            passageWords.append(pool)
        }
        prefixFree = !degenerate && !nodes.contains { $0.terminal != nil && !$0.children.isEmpty }
        rootChild = [Int32](repeating: -1, count: wordIDs.count)
        for (w, c) in nodes[0].children { rootChild[w] = Int32(c) }
        for node in nodes {
            firstChild.append(Int32(childWord.count))
            for (w, c) in node.children.sorted(by: { $0.key < $1.key }) {
                childWord.append(Int32(w))
                childNode.append(Int32(c))
            }
        }
        firstChild.append(Int32(childWord.count))
    }

    /// The child of `node` along word id `word`, or nil.
    @inline(__always)
    func child(_ node: Int, _ word: Int) -> Int? {
        if node == 0 {
            guard word >= 0 && word < rootChild.count, rootChild[word] >= 0 else { return nil }
            return Int(rootChild[word])
        }
        var i = Int(firstChild[node])
        let end = Int(firstChild[node + 1])
        while i < end {
            if childWord[i] == word { return Int(childNode[i]) }
            i += 1
        }
        return nil
    }

    /// Matches in text order and the invalid segments (runs of unmatched words).
    func scan(_ words: [String]) -> (matches: [OracleResult.Match], invalid: [String]) {
        var matches: [OracleResult.Match] = []
        var invalid: [String] = []
        var run: [String] = []
        scan(ids: words.map { wordIDs[$0] ?? -1 }, match: { match in
            if !run.isEmpty {
                invalid.append(run.joined(separator: " "))
                run.removeAll()
            }
            matches.append(match)
        }, invalid: { run.append(words[$0]) })
        if !run.isEmpty { invalid.append(run.joined(separator: " ")) }
        return (matches, invalid)
    }

    /// The attributes of the matches in the text of `c` and its number of invalid segments,
    /// scanned from the passages' word ids: the same as ``scan(_:)`` of the normalized words
    /// of `World.text(of: c)`, whose word list is its passages' word lists one after another
    /// (passages are joined by a space, which always separates words).
    func scan(_ c: Composition) -> (attributes: [Int], invalidSegments: Int) {
        var ids: [Int] = []
        for (a, p) in zip(c.attributes, c.passages) { ids += passageWords[a][p] }
        var attributes: [Int] = []
        var segments = 0
        var inRun = false
        scan(ids: ids, match: {
            attributes.append($0.attribute)
            inRun = false
        }, invalid: { _ in
            if !inRun { segments += 1 }
            inRun = true
        })
        return (attributes, segments)
    }

    /// The scan: at each position the longest passage whose words follow there is a match
    /// (`match`, then the scan goes on after it); a word where no passage starts is outside any
    /// match (`invalid` with its index, then the scan goes on at the next word). `ids` are word
    /// ids, -1 for a word no passage has.
    private func scan(ids: [Int], match: (OracleResult.Match) -> Void, invalid: (Int) -> Void) {
        var i = 0
        while i < ids.count {
            var node = 0
            var j = i
            var best: (end: Int, match: OracleResult.Match)?
            while j < ids.count, let next = child(node, ids[j]) {
                node = next
                j += 1
                if let t = nodes[node].terminal { best = (j, t) }
            }
            if let best {
                match(best.match)
                i = best.end
            } else {
                invalid(i)
                i += 1
            }
        }
    }
}
