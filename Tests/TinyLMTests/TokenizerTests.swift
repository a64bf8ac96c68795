import CPOSupport
import Testing
@testable import TinyLM

// MARK: - Fixtures

/// Small deterministic corpora and a tokenizer trained once for the whole file.
private enum Fixture {
    static let words = [
        "the", "a", "of", "and", "to", "in", "is", "was", "it", "for", "on", "with", "they",
        "model", "token", "train", "training", "trained", "river", "market", "garden", "sunny",
        "morning", "evening", "quickly", "slowly", "people", "walked", "talked", "learned",
        "café", "naïve", "東京", "タワー", "über", "señor", "🙂", "data", "number", "words",
    ]

    static let syllables = ["ba", "ter", "on", "mi", "sta", "ing", "re", "lo", "chu", "ed", "ver", "qua"]

    /// `count` English-like texts of roughly 80-150 bytes, fixed by `seed`.
    static func corpus(count: Int, seed: UInt64) -> [String] {
        var rng = SeededRandom(seed: seed)
        var texts: [String] = []
        for _ in 0..<count {
            let target = 80 + rng.int(below: 71)
            var s = ""
            while s.utf8.count < target {
                var w = words[rng.int(below: words.count)]
                if rng.int(below: 25) == 0 { w = String(rng.int(below: 5000)) }
                if rng.int(below: 4) == 0 {  // an invented word, for a less repetitive corpus
                    w = (0...rng.int(below: 2)).map { _ in
                        syllables[rng.int(below: syllables.count)]
                    }.joined()
                }
                if s.isEmpty || s.hasSuffix(".") { w = w.prefix(1).uppercased() + w.dropFirst() }
                s += (s.isEmpty ? "" : " ") + w
                switch rng.int(below: 12) {
                case 0: s += "."
                case 1: s += ","
                case 2: s += "!\n"
                default: break
                }
            }
            texts.append(s)
        }
        return texts
    }

    static let trainingCorpus = corpus(count: 300, seed: 7)
    static let trained = Result { () throws(TokenizerError) -> BPETokenizer in
        try BPETokenizer.train(corpus: trainingCorpus, vocabSize: 600)
    }

    static func tokenizer() throws -> BPETokenizer { try trained.get() }

    /// Hand-picked strings that stress UTF-8 and the pre-tokenizer.
    static let tricky: [String] = [
        "",
        " ",
        "a",
        "Hello, world!",
        "👩‍👩‍👧 family, 👨🏽‍💻 coder, 🏳️‍🌈 flag",
        "🇫🇷🇯🇵🇺🇸 flags side by side",
        "café (precomposed) vs cafe\u{301} (combining)",
        "e\u{301}\u{302}\u{303} stacked marks, \u{301} leading mark",
        "東京タワーに行きました。中文字符，한국어 텍스트",
        "مرحبا بالعالم — שלום עולם (RTL) mixed with LTR",
        "नमस्ते दुनिया",
        "tabs\tand\ttabs\t\t, CRLF\r\nlines\r\n\r\n, lone \r and \n",
        "   leading and trailing spaces   ",
        "\u{0}\u{1}\u{7}\u{1B}[31mred\u{1B}[0m\u{7F}\u{85}\u{A0}\u{2028}\u{2029}",
        "\u{200B}\u{200D}\u{FEFF}\u{FFFD}\u{10FFFF}\u{E000}",
        "1️⃣2️⃣ keycaps, ❤️ heart, 123,456.789 numbers ²³ ½",
        "never-seen-in-training: Zyxwvut QQQQQ xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        String(repeating: "the model trained quickly. ", count: 200),
        String(repeating: "é", count: 100) + String(repeating: "\u{301}", count: 70),
        String(repeating: " ", count: 150) + "x" + String(repeating: "\n", count: 70),
    ]

    /// A random string mixing ASCII words, whitespace, marks, emoji, many scripts and fully
    /// random scalars (any plane, including controls and unassigned code points).
    static func randomString(_ rng: inout SeededRandom) -> String {
        let pieces = [
            " ", "  ", "\n", "\t", "\r\n", "\r", "\u{A0}", "\u{3000}", "\u{301}", "\u{308}",
            "\u{20E3}", "\u{FE0F}", "\u{200D}", "👩‍👩‍👧", "🇫🇷", "👍🏽", "❤️", "東京", "한국",
            "مرحبا", "שלום", "नमस्ते", "Ελλάδα", "Привет", "\u{0}", "\u{1B}", "\u{7F}", "\u{85}",
            ".", ",", "!!", "'s", "123", "4.5", "--", "$",
        ]
        var s = ""
        for _ in 0..<rng.int(below: 40) {
            switch rng.int(below: 4) {
            case 0: s += words[rng.int(below: words.count)]
            case 1: s += pieces[rng.int(below: pieces.count)]
            case 2:
                // Any Unicode scalar (surrogate code points are not scalars: skip them).
                let v = UInt32(rng.int(below: 0x11_0000))
                if let scalar = Unicode.Scalar(v) { s.unicodeScalars.append(scalar) }
            default:
                if let scalar = Unicode.Scalar(UInt32(rng.int(below: 0x250))) {
                    s.unicodeScalars.append(scalar)
                }
            }
        }
        return s
    }
}

/// Reference trainer: recounts every pair from scratch at each step (slow but obviously right).
private func naiveTrain(corpus: [String], vocabSize: Int) -> [BPETokenizer.Merge] {
    var counts: [[Int32]: Int] = [:]
    for text in corpus {
        for chunk in BPETokenizer.preTokenize(text) { counts[chunk.utf8.map { Int32($0) }, default: 0] += 1 }
    }
    var words = Array(counts)
    var merges: [BPETokenizer.Merge] = []
    while 259 + merges.count < vocabSize {
        var pairCounts: [BPETokenizer.Merge: Int] = [:]
        for (word, f) in words where word.count > 1 {
            for i in 0..<(word.count - 1) { pairCounts[.init(word[i], word[i + 1]), default: 0] += f }
        }
        guard let best = pairCounts.max(by: { x, y in
            x.value != y.value ? x.value < y.value : (x.key.left, x.key.right) > (y.key.left, y.key.right)
        }), best.value >= 2 else { break }
        let id = Int32(259 + merges.count)
        merges.append(best.key)
        words = words.map { (word, f) in (applyMerge(word, best.key, id), f) }
    }
    return merges
}

private func applyMerge(_ word: [Int32], _ m: BPETokenizer.Merge, _ id: Int32) -> [Int32] {
    var out: [Int32] = []
    var i = 0
    while i < word.count {
        if i + 1 < word.count && word[i] == m.left && word[i + 1] == m.right {
            out.append(id)
            i += 2
        } else {
            out.append(word[i])
            i += 1
        }
    }
    return out
}

/// Reference encoder: applies every merge in training order to every chunk.
private func naiveEncode(_ tok: BPETokenizer, _ text: String) -> [Int32] {
    var out: [Int32] = []
    for chunk in BPETokenizer.preTokenize(text) {
        var word = chunk.utf8.map { Int32($0) }
        for (i, m) in tok.merges.enumerated() where word.count > 1 {
            word = applyMerge(word, m, Int32(259 + i))
        }
        out += word
    }
    return out
}

private func expectRoundTrip(_ tok: BPETokenizer, _ s: String,
                             sourceLocation: SourceLocation = #_sourceLocation) {
    let ids = tok.encode(s)
    let back = tok.decode(ids)
    #expect(Array(back.utf8) == Array(s.utf8), "round trip of \(s.debugDescription)",
            sourceLocation: sourceLocation)
    #expect(back.unicodeScalars.elementsEqual(s.unicodeScalars), sourceLocation: sourceLocation)
    #expect(tok.decodeBytes(ids) == Array(s.utf8), sourceLocation: sourceLocation)
    #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tok.vocabSize && !BPETokenizer.isSpecial($0) },
            "encode emitted a special or out-of-range id", sourceLocation: sourceLocation)
}

private func serializedTokenizer(vocabSize: Int = 300) throws -> (BPETokenizer, [UInt8]) {
    let tok = try BPETokenizer.train(corpus: Fixture.corpus(count: 40, seed: 3), vocabSize: vocabSize)
    return (tok, tok.serialized())
}

/// Serialized bytes of a hand-written merge list (bypassing validation), to test loading.
private func rawBytes(merges: [(UInt32, UInt32)], vocab: UInt32? = nil, count: UInt32? = nil,
                      version: UInt16 = 1, rule: UInt16 = 1) -> [UInt8] {
    var out: [UInt8] = Array("TLBP".utf8)
    func put16(_ v: UInt16) { out += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    func put32(_ v: UInt32) { out += (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    put16(version)
    put16(rule)
    put32(vocab ?? UInt32(259 + merges.count))
    put32(count ?? UInt32(merges.count))
    for (l, r) in merges {
        put32(l)
        put32(r)
    }
    return out
}

private func loadError(_ bytes: [UInt8]) -> TokenizerError? {
    do {
        _ = try BPETokenizer(serialized: bytes)
        return nil
    } catch {
        return error
    }
}

// MARK: - Vocabulary layout

@Suite("BPE tokenizer")
struct TokenizerTests {
    @Test func specialTokenIDs() throws {
        #expect(BPETokenizer.bos == 256)
        #expect(BPETokenizer.eos == 257)
        #expect(BPETokenizer.pad == 258)
        #expect(BPETokenizer.firstMergeID == 259)
        let tok = try Fixture.tokenizer()
        #expect(tok.tokenString(BPETokenizer.bos) == "<|bos|>")
        #expect(tok.tokenString(BPETokenizer.eos) == "<|eos|>")
        #expect(tok.tokenString(BPETokenizer.pad) == "<|pad|>")
        // Special tokens stand for no text.
        let hi = tok.encode("hi")
        #expect(tok.decode([BPETokenizer.bos] + hi + [BPETokenizer.eos, BPETokenizer.pad]) == "hi")
        #expect(tok.bytes(of: BPETokenizer.eos).isEmpty)
        #expect(BPETokenizer.isSpecial(257) && !BPETokenizer.isSpecial(255) && !BPETokenizer.isSpecial(259))
    }

    @Test func byteLevelTokenizerIsPureBytes() throws {
        let text = "Hello, wörld! 👋 the the the the"
        for tok in try [BPETokenizer(), BPETokenizer.train(corpus: Fixture.trainingCorpus, vocabSize: 259)] {
            #expect(tok.vocabSize == 259)
            #expect(tok.merges.isEmpty)
            #expect(tok.encode(text) == text.utf8.map { Int32($0) })
            #expect(tok.decode(tok.encode(text)) == text)
        }
        #expect(try BPETokenizer(merges: []) == BPETokenizer())
    }

    @Test func vocabSizeBelowMinimumThrows() {
        #expect(throws: TokenizerError.vocabSizeTooSmall(requested: 258, minimum: 259)) {
            try BPETokenizer.train(corpus: ["abc abc"], vocabSize: 258)
        }
        #expect(throws: TokenizerError.vocabSizeTooSmall(requested: 0, minimum: 259)) {
            try BPETokenizer.train(corpus: [], vocabSize: 0)
        }
        #expect(throws: TokenizerError.vocabSizeTooLarge(requested: Int.max, maximum: BPETokenizer.maxVocabSize)) {
            try BPETokenizer.train(corpus: [], vocabSize: Int.max)
        }
    }

    // MARK: - Round trips

    @Test(arguments: Fixture.tricky)
    func roundTripTrickyStrings(_ s: String) throws {
        expectRoundTrip(try Fixture.tokenizer(), s)
        expectRoundTrip(BPETokenizer(), s)
    }

    @Test func roundTripRandomStrings() throws {
        let tok = try Fixture.tokenizer()
        var rng = SeededRandom(seed: 2024)
        for _ in 0..<400 { expectRoundTrip(tok, Fixture.randomString(&rng)) }
    }

    @Test func roundTripLongUnseenString() throws {
        let tok = try Fixture.tokenizer()
        var rng = SeededRandom(seed: 99)
        var s = ""
        for _ in 0..<300 { s += Fixture.randomString(&rng) }
        #expect(s.utf8.count > 20_000)
        expectRoundTrip(tok, s)
    }

    @Test func roundTripArbitraryBytes() throws {
        let tok = try Fixture.tokenizer()
        var rng = SeededRandom(seed: 5)
        for _ in 0..<300 {
            let bytes = (0..<rng.int(below: 60)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let ids = tok.encode(bytes: bytes)
            #expect(tok.decodeBytes(ids) == bytes)
            #expect(ids.allSatisfy { !BPETokenizer.isSpecial($0) && Int($0) < tok.vocabSize })
        }
        // Valid UTF-8 given as bytes encodes exactly like the string.
        for s in Fixture.tricky { #expect(tok.encode(bytes: Array(s.utf8)) == tok.encode(s)) }
    }

    // MARK: - Pre-tokenization

    @Test func preTokenizeExamples() {
        #expect(BPETokenizer.preTokenize("Hello world, 123 foo!!") == ["Hello", " world", ",", " 123", " foo", "!!"])
        #expect(BPETokenizer.preTokenize("Hi  you") == ["Hi", " ", " you"])
        #expect(BPETokenizer.preTokenize("x\n\ny") == ["x", "\n\n", "y"])
        #expect(BPETokenizer.preTokenize("a\n b") == ["a", "\n", " b"])
        #expect(BPETokenizer.preTokenize("don't") == ["don", "'", "t"])
        #expect(BPETokenizer.preTokenize("abc123def") == ["abc", "123", "def"])
        #expect(BPETokenizer.preTokenize(" ") == [" "])
        #expect(BPETokenizer.preTokenize("") == [])
        // Combining marks stay with their base character, precomposed or not.
        #expect(BPETokenizer.preTokenize("cafe\u{301} au") == ["cafe\u{301}", " au"])
        #expect(BPETokenizer.preTokenize("1\u{FE0F}\u{20E3}x").map { Array($0.unicodeScalars) }
                == [["1", "\u{FE0F}", "\u{20E3}"], ["x"]])
        // A ZWJ emoji sequence is one run of "other" characters.
        #expect(BPETokenizer.preTokenize("hi 👩‍👩‍👧!") == ["hi", " 👩‍👩‍👧!"])
        // Non-ASCII letters and whitespace are classified by Unicode properties.
        #expect(BPETokenizer.preTokenize("东京\u{3000}ñu") == ["东京", "\u{3000}", "ñu"])
    }

    @Test func preTokenizeTilesTextAndBoundsChunks() {
        var rng = SeededRandom(seed: 11)
        var inputs = Fixture.tricky
        for _ in 0..<300 { inputs.append(Fixture.randomString(&rng)) }
        for s in inputs {
            let chunks = BPETokenizer.preTokenize(s)
            #expect(Array(chunks.joined().utf8) == Array(s.utf8))
            #expect(chunks.allSatisfy { !$0.isEmpty && $0.utf8.count <= BPETokenizer.maxTokenBytes })
        }
        // Long runs are cut at scalar boundaries into pieces of at most 64 bytes.
        let long = String(repeating: "é", count: 100)  // 200 bytes of letters
        #expect(BPETokenizer.preTokenize(long).map(\.utf8.count) == [64, 64, 64, 8])
    }

    @Test func mergesNeverCrossChunkBoundaries() throws {
        // Every adjacent byte pair here spans two chunks, so nothing may be learned.
        let tok = try BPETokenizer.train(corpus: Array(repeating: "a,a,a,a,a,a.b;b;b;b;1x1x1x1", count: 20),
                                         vocabSize: 400)
        #expect(tok.vocabSize == 259)
        // Encoding a text equals encoding its chunks separately.
        let trained = try Fixture.tokenizer()
        var rng = SeededRandom(seed: 8)
        for _ in 0..<100 {
            let s = Fixture.randomString(&rng) + " " + Fixture.trainingCorpus[rng.int(below: 300)]
            #expect(trained.encode(s) == BPETokenizer.preTokenize(s).flatMap { trained.encode($0) })
        }
    }

    // MARK: - Training

    @Test func tieBreakingIsLowestPair() throws {
        // Chunks "ab", " ab", " cd", " cd": (a,b), (' ',c) and (c,d) all occur twice.
        let tok = try BPETokenizer.train(corpus: ["ab ab cd cd"], vocabSize: 1000)
        #expect(tok.merges == [.init(32, 99), .init(97, 98), .init(259, 100)])
        #expect(tok.encode("ab cd") == [260, 261])
    }

    @Test func trainingMatchesNaiveReference() throws {
        for (seed, vocab) in [(UInt64(1), 330), (2, 290)] {
            var corpus = Fixture.corpus(count: 60, seed: seed)
            corpus.append("aaaaaaa aaaa abababab 🙂🙂🙂🙂 ééééé")  // overlapping pairs
            let tok = try BPETokenizer.train(corpus: corpus, vocabSize: vocab)
            #expect(tok.merges == naiveTrain(corpus: corpus, vocabSize: vocab))
            #expect(tok.vocabSize == vocab)
        }
    }

    @Test func encodeMatchesNaiveReference() throws {
        let tok = try Fixture.tokenizer()
        var rng = SeededRandom(seed: 77)
        var inputs = Array(Fixture.trainingCorpus.prefix(30))
        for _ in 0..<60 { inputs.append(Fixture.randomString(&rng)) }
        inputs.append("aaaaaaaaaaa the the thethethe trained training")
        for s in inputs { #expect(tok.encode(s) == naiveEncode(tok, s), "\(s.debugDescription)") }
        // Overlapping self-pairs: in "aaa" the leftmost (a, a) must merge first.
        let runs = try BPETokenizer.train(corpus: Array(repeating: "aaaaaaa aaaa abababab ééééé", count: 3),
                                          vocabSize: 300)
        #expect(runs.merges.first == .init(97, 97))
        for n in 1...12 {
            for s in [String(repeating: "a", count: n), String(repeating: "ab", count: n) + "a",
                      " " + String(repeating: "é", count: n)] {
                #expect(runs.encode(s) == naiveEncode(runs, s), "\(s.debugDescription)")
            }
        }
    }

    @Test func trainingIsDeterministic() throws {
        let corpus = Fixture.corpus(count: 120, seed: 42)
        let a = try BPETokenizer.train(corpus: corpus, vocabSize: 450)
        let b = try BPETokenizer.train(corpus: corpus, vocabSize: 450)
        #expect(a == b)
        #expect(a.serialized() == b.serialized())
        // Corpus order does not matter either.
        let c = try BPETokenizer.train(corpus: corpus.reversed(), vocabSize: 450)
        #expect(a == c)
        // A different corpus gives a different tokenizer (so == is not trivially true).
        let d = try BPETokenizer.train(corpus: Fixture.corpus(count: 120, seed: 43), vocabSize: 450)
        #expect(a != d)
    }

    @Test func mergesCompressAndReachTarget() throws {
        let tok = try Fixture.tokenizer()
        #expect(tok.vocabSize == 600)
        let text = Fixture.trainingCorpus.joined(separator: " ")
        let ids = tok.encode(text)
        #expect(Double(ids.count) < 0.4 * Double(text.utf8.count),
                "\(ids.count) tokens for \(text.utf8.count) bytes")
        // Frequent words become single tokens (with their leading space).
        #expect(tok.encode(" training").count == 1)
        #expect(tok.tokenString(tok.encode(" model")[0]) == " model")
        // Every merged token's bytes are its two parts' bytes.
        for (i, m) in tok.merges.enumerated() {
            #expect(tok.bytes(of: Int32(259 + i)) == tok.bytes(of: m.left) + tok.bytes(of: m.right))
        }
    }

    @Test func trainingStopsWhenNoPairRepeats() throws {
        let corpus = Fixture.corpus(count: 20, seed: 9)
        let tok = try BPETokenizer.train(corpus: corpus, vocabSize: 100_000)
        #expect(tok.vocabSize > 259 && tok.vocabSize < 100_000)
        // After training, no adjacent pair inside a chunk occurs twice across the corpus.
        var pairs: [BPETokenizer.Merge: Int] = [:]
        for text in corpus {
            for chunk in BPETokenizer.preTokenize(text) {
                let ids = tok.encode(chunk)
                for i in 0..<max(0, ids.count - 1) { pairs[.init(ids[i], ids[i + 1]), default: 0] += 1 }
            }
        }
        #expect(pairs.values.allSatisfy { $0 < 2 })
        // Nothing to learn from: the byte-level tokenizer.
        #expect(try BPETokenizer.train(corpus: [], vocabSize: 300) == BPETokenizer())
        #expect(try BPETokenizer.train(corpus: ["", "x", "y z"], vocabSize: 300) == BPETokenizer())
    }

    // MARK: - Serialization

    @Test func serializationRoundTrip() throws {
        let tok = try Fixture.tokenizer()
        let bytes = tok.serialized()
        #expect(Array(bytes.prefix(4)) == Array("TLBP".utf8))
        #expect(bytes.count == 16 + 8 * tok.merges.count)
        let loaded = try BPETokenizer(serialized: bytes)
        #expect(loaded == tok)
        #expect(loaded.vocabSize == tok.vocabSize)
        #expect(loaded.serialized() == bytes)
        var rng = SeededRandom(seed: 3)
        for _ in 0..<50 {
            let s = Fixture.randomString(&rng)
            #expect(loaded.encode(s) == tok.encode(s))
        }
        // The byte-level tokenizer serializes to a bare header.
        let empty = try BPETokenizer(serialized: BPETokenizer().serialized())
        #expect(empty == BPETokenizer() && BPETokenizer().serialized().count == 16)
    }

    @Test func everyTruncationThrows() throws {
        let (_, bytes) = try serializedTokenizer()
        #expect(bytes.count > 16)
        for n in 0..<bytes.count {
            let error = loadError(Array(bytes.prefix(n)))
            guard case .truncated = error else {
                Issue.record("prefix of \(n) bytes gave \(String(describing: error))")
                continue
            }
        }
        #expect(loadError(bytes + [0]) == .trailingBytes(count: 1))
        #expect(loadError(bytes + [1, 2, 3, 4, 5, 6, 7, 8]) == .trailingBytes(count: 8))
    }

    @Test func corruptHeadersAreNamed() throws {
        let (_, bytes) = try serializedTokenizer()
        var b = bytes
        b[0] = UInt8(ascii: "X")
        #expect(loadError(b) == .badMagic(found: Array("XLBP".utf8)))
        #expect(loadError(Array("GIF89a".utf8)) == .badMagic(found: Array("GIF8".utf8)))
        #expect(loadError(rawBytes(merges: [], version: 2)) == .unsupportedVersion(found: 2, supported: 1))
        #expect(loadError(rawBytes(merges: [], rule: 7)) == .unsupportedPreTokenizer(found: 7, supported: 1))
        #expect(loadError(rawBytes(merges: [(97, 98)], vocab: 259)) == .vocabSizeMismatch(declared: 259, mergeCount: 1))
        #expect(loadError(rawBytes(merges: [], vocab: 0xFFFF_FFFF, count: 0xFFFF_FFFF - 259))
                == .vocabSizeTooLarge(requested: 0xFFFF_FFFF, maximum: BPETokenizer.maxVocabSize))
        // A huge declared merge count with little data is truncation, not an allocation.
        guard case .truncated = loadError(rawBytes(merges: [(97, 98)], vocab: 259 + 1000, count: 1000)) else {
            Issue.record("declared 1000 merges with data for 1 should be truncated")
            return
        }
    }

    @Test func invalidMergesAreRejected() {
        // Forward reference, self reference, special tokens, negative ids.
        #expect(loadError(rawBytes(merges: [(97, 260), (97, 98)])) == .invalidMerge(index: 0, left: 97, right: 260))
        #expect(loadError(rawBytes(merges: [(97, 98), (260, 97)])) == .invalidMerge(index: 1, left: 260, right: 97))
        #expect(loadError(rawBytes(merges: [(97, 98), (259, 259)])) == nil)
        #expect(loadError(rawBytes(merges: [(256, 97)])) == .invalidMerge(index: 0, left: 256, right: 97))
        #expect(loadError(rawBytes(merges: [(97, 258)])) == .invalidMerge(index: 0, left: 97, right: 258))
        #expect(loadError(rawBytes(merges: [(0xFFFF_FFFF, 97)])) == .invalidMerge(index: 0, left: 0xFFFF_FFFF, right: 97))
        #expect(throws: TokenizerError.invalidMerge(index: 0, left: -1, right: 97)) {
            try BPETokenizer(merges: [.init(-1, 97)])
        }
        // Duplicate pair.
        #expect(loadError(rawBytes(merges: [(97, 98), (99, 100), (97, 98)])) == .duplicateMerge(index: 2, firstIndex: 0))
        // Doubling merges: 2, 4, ..., 64 bytes are fine, 128 is longer than any chunk.
        var doubling: [(UInt32, UInt32)] = [(97, 97)]
        for i in 0..<6 { doubling.append((259 + UInt32(i), 259 + UInt32(i))) }
        #expect(loadError(rawBytes(merges: Array(doubling.prefix(6)))) == nil)
        #expect(loadError(rawBytes(merges: doubling)) == .tokenTooLong(index: 6, length: 128, limit: 64))
    }

    @Test func randomByteFlipsNeverCrash() throws {
        let (tok, bytes) = try serializedTokenizer(vocabSize: 320)
        var rng = SeededRandom(seed: 1234)
        var thrown = 0, loaded = 0
        for _ in 0..<400 {
            var b = bytes
            for _ in 0...rng.int(below: 3) {
                b[rng.int(below: b.count)] ^= UInt8(1 + rng.int(below: 255))
            }
            do {
                let t = try BPETokenizer(serialized: b)
                loaded += 1
                // Whatever loads must still be a working tokenizer.
                for s in ["the model trained", "东京 👩‍👩‍👧 e\u{301}", Fixture.randomString(&rng)] {
                    let ids = t.encode(s)
                    #expect(t.decode(ids) == s && Array(t.decode(ids).utf8) == Array(s.utf8))
                    #expect(ids.allSatisfy { Int($0) < t.vocabSize && !BPETokenizer.isSpecial($0) })
                }
                #expect(t.serialized() == b)
            } catch {
                thrown += 1
                #expect(!error.description.isEmpty)
            }
        }
        // Both outcomes happen: header flips must throw, some merge flips load.
        #expect(thrown > 0 && loaded > 0, "thrown \(thrown), loaded \(loaded)")
        #expect(tok.vocabSize == 320)
    }

    @Test func garbageBytesThrow() {
        var rng = SeededRandom(seed: 55)
        for trial in 0..<300 {
            var b = (0..<rng.int(below: 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Half the trials get a valid magic so the later checks are exercised too.
            if trial % 2 == 0 { b = Array("TLBP".utf8) + b }
            #expect(loadError(b) != nil, "garbage \(b) loaded")
        }
    }

    // MARK: - Decoding

    @Test func decodeArbitraryIDsNeverCrashes() throws {
        let tok = try Fixture.tokenizer()
        var rng = SeededRandom(seed: 66)
        for _ in 0..<300 {
            let ids: [Int32] = (0..<rng.int(below: 40)).map { _ in
                switch rng.int(below: 4) {
                case 0: return Int32(truncatingIfNeeded: rng.next())  // anything, incl. negative
                case 1: return Int32(rng.int(below: 256))  // raw bytes: invalid UTF-8 splits
                default: return Int32(rng.int(below: tok.vocabSize + 10))
                }
            }
            let bytes = tok.decodeBytes(ids)
            let expected = ids.flatMap { tok.bytes(of: $0) }
            #expect(bytes == expected)
            #expect(tok.decode(ids) == String(decoding: expected, as: UTF8.self))
            for id in ids { _ = tok.tokenString(id) }
        }
        #expect(tok.decodeBytes([-1, Int32.max, Int32(tok.vocabSize), 104, 105]) == [104, 105])
        #expect(tok.tokenString(Int32(tok.vocabSize)) == "<|invalid:\(tok.vocabSize)|>")
    }

    @Test func decodeReplacesInvalidUTF8() throws {
        let tok = try Fixture.tokenizer()
        // "é" is C3 A9: each half alone is invalid.
        #expect(tok.decode([0xC3]) == "\u{FFFD}")
        #expect(tok.decode([0x61, 0xA9, 0x62]) == "a\u{FFFD}b")
        #expect(tok.decode([0xC3, 0xA9]) == "é")
        // A split 4-byte emoji in the middle of text.
        let emoji = Array("🙂".utf8).map { Int32($0) }
        #expect(tok.decode([0x78] + emoji.prefix(2) + [0x79]).unicodeScalars.first == "x")
        #expect(tok.decode([0x78] + emoji.prefix(2) + [0x79]).unicodeScalars.last == "y")
        #expect(tok.decode([0x78] + emoji.prefix(2) + [0x79]).contains("\u{FFFD}"))
    }

    @Test func tokenStringIsReadable() throws {
        let tok = try Fixture.tokenizer()
        #expect(tok.tokenString(97) == "a")
        #expect(tok.tokenString(32) == " ")
        #expect(tok.tokenString(10) == "\\n")
        #expect(tok.tokenString(9) == "\\t")
        #expect(tok.tokenString(92) == "\\\\")
        #expect(tok.tokenString(0) == "\\u{0}")
        #expect(tok.tokenString(0xFF) == "\\xFF")
        #expect(tok.tokenString(0xC3) == "\\xC3")
        #expect(tok.tokenString(-5) == "<|invalid:-5|>")
        #expect(BPETokenizer.escaped(Array("é\u{200D}".utf8) + [0xE6]) == "é\\u{200D}\\xE6")
        // A learned multi-byte token renders as its text.
        #expect(tok.encode(" 東京").map { tok.tokenString($0) } == [" 東京"])
    }

    @Test func errorDescriptionsSayWhatIsWrong() {
        let cases: [(TokenizerError, String)] = [
            (.vocabSizeTooSmall(requested: 100, minimum: 259), "100"),
            (.truncated(what: "header", needed: 16, available: 3), "truncated"),
            (.badMagic(found: [0x47, 0x0A]), "47 0A"),
            (.unsupportedVersion(found: 9, supported: 1), "version 9"),
            (.unsupportedPreTokenizer(found: 4, supported: 1), "pre-tokenizer rule 4"),
            (.vocabSizeMismatch(declared: 300, mergeCount: 2), "300"),
            (.invalidMerge(index: 3, left: 999, right: 1), "merge #3"),
            (.duplicateMerge(index: 5, firstIndex: 1), "merge #1"),
            (.tokenTooLong(index: 2, length: 128, limit: 64), "128-byte"),
            (.trailingBytes(count: 7), "7 unexpected"),
        ]
        for (error, fragment) in cases {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }
}
