// Byte-level BPE tokenizer: vocabulary, encoding, decoding and the binary file format.
// Training (learning the merges) lives in BPETrainer.swift.

import CPOSupport

/// What went wrong when training a tokenizer or loading one from bytes.
///
/// Loading validates everything, so a damaged or foreign file is reported with one of these
/// cases (and a readable `description`) instead of crashing or producing a tokenizer that
/// cannot decode what it encodes.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `train` was asked for fewer than the 259 fixed tokens (256 bytes + BOS/EOS/PAD).
    case vocabSizeTooSmall(requested: Int, minimum: Int)
    /// `train` or a file asked for more tokens than this implementation supports.
    case vocabSizeTooLarge(requested: Int, maximum: Int)
    /// The bytes end before `what` is complete (`needed` bytes in total, `available` present).
    case truncated(what: String, needed: Int, available: Int)
    /// The bytes do not start with the tokenizer magic ("TLBP").
    case badMagic(found: [UInt8])
    /// The file was written by a format version this build does not read.
    case unsupportedVersion(found: UInt16, supported: UInt16)
    /// The file was trained with a pre-tokenization rule this build does not implement.
    case unsupportedPreTokenizer(found: UInt16, supported: UInt16)
    /// The header's vocabulary size disagrees with its merge count.
    case vocabSizeMismatch(declared: UInt32, mergeCount: UInt32)
    /// Merge number `index` (creating id 259 + index) references an id that is a special token
    /// or is not smaller than its own id.
    case invalidMerge(index: Int, left: Int64, right: Int64)
    /// Merge number `index` repeats the pair already merged by merge number `firstIndex`.
    case duplicateMerge(index: Int, firstIndex: Int)
    /// Merge number `index` would create a token of `length` bytes; no pre-tokenizer chunk is
    /// longer than `limit`, so such a token can never be produced and is refused.
    case tokenTooLong(index: Int, length: Int, limit: Int)
    /// There are `count` unexpected bytes after the merge list.
    case trailingBytes(count: Int)

    public var description: String {
        switch self {
        case let .vocabSizeTooSmall(requested, minimum):
            return "tokenizer vocabulary size \(requested) is too small: at least \(minimum) is "
                + "needed for the 256 byte tokens and the BOS/EOS/PAD special tokens"
        case let .vocabSizeTooLarge(requested, maximum):
            return "tokenizer vocabulary size \(requested) is too large (at most \(maximum))"
        case let .truncated(what, needed, available):
            return "tokenizer data is truncated: the \(what) needs \(needed) bytes but only "
                + "\(available) are present"
        case let .badMagic(found):
            return "not tokenizer data: expected magic bytes \(Hex.bytes(BPETokenizer.magic)) (\"TLBP\"), found "
                + (found.isEmpty ? "nothing" : Hex.bytes(found))
        case let .unsupportedVersion(found, supported):
            return "tokenizer format version \(found) is not supported (this build reads "
                + "version \(supported))"
        case let .unsupportedPreTokenizer(found, supported):
            return "tokenizer uses pre-tokenizer rule \(found), but this build implements rule "
                + "\(supported); encoding would not match training"
        case let .vocabSizeMismatch(declared, mergeCount):
            return "tokenizer header is inconsistent: vocabulary size \(declared) does not equal "
                + "\(BPETokenizer.minVocabSize) fixed tokens + \(mergeCount) merges"
        case let .invalidMerge(index, left, right):
            let id = BPETokenizer.minVocabSize + index
            return "tokenizer merge #\(index) (token \(id)) = (\(left), \(right)) is "
                + "invalid: both parts must be byte or earlier merged tokens (ids 0...255 or "
                + "\(BPETokenizer.firstMergeID)..<\(id)), never special tokens or later ids"
        case let .duplicateMerge(index, firstIndex):
            return "tokenizer merge #\(index) repeats the pair of merge #\(firstIndex)"
        case let .tokenTooLong(index, length, limit):
            return "tokenizer merge #\(index) makes a \(length)-byte token; tokens are at most "
                + "\(limit) bytes (the longest pre-tokenizer chunk)"
        case let .trailingBytes(count):
            return "tokenizer data has \(count) unexpected trailing bytes after the merge list"
        }
    }
}

/// A byte-level byte-pair-encoding tokenizer (GPT-2 style).
///
/// Vocabulary layout:
/// - ids 0...255 are the raw byte values, so every string (indeed every byte sequence) can be
///   encoded and decoded exactly, with no unknown token;
/// - 256, 257, 258 are the special tokens `bos`, `eos` and `pad`; `encode` never emits them and
///   `decode` renders them as nothing;
/// - ids 259... are learned merges: merge `i` creates id `259 + i` by joining two earlier tokens.
///
/// Text is first split into chunks by a fixed pre-tokenization rule (see `preTokenize`), and
/// merges never cross chunk boundaries. Within a chunk, `encode` applies merges lowest id first,
/// which reproduces exactly how training segmented its own words.
///
/// The struct is an immutable value: it is `Sendable`, cheap to copy, and two tokenizers are
/// equal exactly when they have the same merges (everything else is derived from them).
public struct BPETokenizer: Sendable, Equatable {
    /// One learned merge: the adjacent token pair (`left`, `right`) becomes a single new token.
    public struct Merge: Sendable, Hashable, CustomStringConvertible {
        public let left: Int32
        public let right: Int32

        public init(_ left: Int32, _ right: Int32) {
            self.left = left
            self.right = right
        }

        public var description: String { "(\(left), \(right))" }
    }

    /// Number of byte tokens (ids 0...255).
    public static let byteTokenCount = 256
    /// Beginning-of-sequence special token. Never produced by `encode`; decodes to nothing.
    public static let bos: Int32 = 256
    /// End-of-sequence special token. Never produced by `encode`; decodes to nothing.
    public static let eos: Int32 = 257
    /// Padding special token. Never produced by `encode`; decodes to nothing.
    public static let pad: Int32 = 258
    /// Id of the first learned merge; also the smallest possible vocabulary size.
    public static let firstMergeID: Int32 = 259
    /// Smallest vocabulary: the 256 bytes plus the three special tokens, no merges.
    public static let minVocabSize = 259
    /// Largest vocabulary this implementation accepts (training or loading).
    public static let maxVocabSize = 1 << 20
    /// Longest possible token in bytes: the longest pre-tokenizer chunk.
    public static let maxTokenBytes = BPEPreTokenizer.maxChunkBytes

    /// The learned merges in order; merge `i` creates token id `259 + i`.
    public let merges: [Merge]

    // Derived from `merges` (so excluded from `==`).
    /// (left, right) -> merged id, for encoding.
    let pairTable: BPEPairTable
    /// Bytes of every token, concatenated; token `id` is `tokenBytes[tokenOffsets[id]..<tokenOffsets[id + 1]]`.
    let tokenBytes: [UInt8]
    let tokenOffsets: [Int]

    /// Number of token ids, `259 + merges.count`; valid ids are `0..<vocabSize`.
    public var vocabSize: Int { Self.minVocabSize + merges.count }

    /// The pure byte-level tokenizer (vocabulary 259, no merges): one token per UTF-8 byte.
    public init() {
        merges = []
        pairTable = BPEPairTable(minimumCapacity: 0)
        tokenBytes = Self.byteTokenBytes
        tokenOffsets = Self.byteTokenOffsets
    }

    /// `tokenBytes` and `tokenOffsets` of the fixed tokens: one byte each for ids 0...255, none
    /// for the special tokens.
    private static let byteTokenBytes: [UInt8] = (0...255).map { UInt8($0) }
    private static let byteTokenOffsets: [Int] = Array(0...byteTokenCount)
        + Array(repeating: byteTokenCount, count: minVocabSize - byteTokenCount)

    /// A tokenizer with the given merges (merge `i` creates id `259 + i`), validated: every
    /// merge must join byte tokens or earlier merged tokens, no pair may repeat, and no token
    /// may exceed `maxTokenBytes` bytes.
    public init(merges: [Merge]) throws(TokenizerError) {
        guard Self.minVocabSize + merges.count <= Self.maxVocabSize else {
            throw .vocabSizeTooLarge(requested: Self.minVocabSize + merges.count,
                                     maximum: Self.maxVocabSize)
        }
        var table = BPEPairTable(minimumCapacity: merges.count)
        var bytes = Self.byteTokenBytes
        var offsets = Self.byteTokenOffsets
        bytes.reserveCapacity(256 + merges.count * 6)
        offsets.reserveCapacity(Self.minVocabSize + merges.count + 1)
        for (index, merge) in merges.enumerated() {
            let id = Self.minVocabSize + index
            func valid(_ part: Int32) -> Bool {
                part >= 0 && Int(part) < id && !(part >= Self.bos && part <= Self.pad)
            }
            guard valid(merge.left), valid(merge.right) else {
                throw .invalidMerge(index: index, left: Int64(merge.left), right: Int64(merge.right))
            }
            let l = Int(merge.left), r = Int(merge.right)
            let length = (offsets[l + 1] - offsets[l]) + (offsets[r + 1] - offsets[r])
            guard length <= Self.maxTokenBytes else {
                throw .tokenTooLong(index: index, length: length, limit: Self.maxTokenBytes)
            }
            let existing = table.insert(left: merge.left, right: merge.right, id: Int32(id))
            if existing != BPEPairTable.missing {
                throw .duplicateMerge(index: index, firstIndex: Int(existing) - Self.minVocabSize)
            }
            for i in offsets[l]..<offsets[l + 1] { bytes.append(bytes[i]) }
            for i in offsets[r]..<offsets[r + 1] { bytes.append(bytes[i]) }
            offsets.append(bytes.count)
        }
        self.merges = merges
        pairTable = table
        tokenBytes = bytes
        tokenOffsets = offsets
    }

    public static func == (a: BPETokenizer, b: BPETokenizer) -> Bool { a.merges == b.merges }

    /// True for the special tokens BOS, EOS and PAD.
    public static func isSpecial(_ id: Int32) -> Bool { id >= bos && id <= pad }

    // MARK: - Encoding

    /// Token ids for `text` (no BOS/EOS added). Exact: `decode(encode(s))` has the same
    /// Unicode scalars (and UTF-8 bytes) as `s` for every string. Never emits special tokens.
    public func encode(_ text: String) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(text.utf8.count / 3 + 4)
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { encodeBytes($0, into: &out) }
        if done == nil {
            Array(text.utf8).withUnsafeBufferPointer { encodeBytes($0, into: &out) }
        }
        return out
    }

    /// Token ids for an arbitrary byte sequence, which need not be valid UTF-8 (invalid bytes
    /// pre-tokenize as punctuation-like single bytes). `decodeBytes` inverts it exactly.
    public func encode(bytes: [UInt8]) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(bytes.count / 3 + 4)
        bytes.withUnsafeBufferPointer { encodeBytes($0, into: &out) }
        return out
    }

    private func encodeBytes(_ buf: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        guard !merges.isEmpty else {
            for b in buf { out.append(Int32(b)) }
            return
        }
        let table = pairTable
        // Scratch space for one chunk (chunks are at most maxChunkBytes bytes).
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * BPEPreTokenizer.maxChunkBytes) {
            scratch in
            let cap = BPEPreTokenizer.maxChunkBytes
            guard let base = scratch.baseAddress else { return }
            let parts = base, ranks = base + cap
            BPEPreTokenizer.forEachChunk(buf) { range in
                var n = range.count
                // The pre-tokenizer never makes longer chunks; the check keeps memory safe anyway.
                assert(n <= cap, "pre-tokenizer chunk longer than maxChunkBytes")
                if n == 1 || n > cap {
                    for b in buf[range] { out.append(Int32(b)) }
                    return
                }
                var p = range.lowerBound
                for i in 0..<n {
                    parts[i] = Int32(buf[p])
                    p += 1
                }
                // ranks[i] = id of the merge joining parts[i] and parts[i + 1] (missing = max).
                for i in 0..<(n - 1) { ranks[i] = table.lookup(parts[i], parts[i + 1]) }
                while n > 1 {
                    // Lowest merge id first; the leftmost occurrence of it first.
                    var best = BPEPairTable.missing
                    var at = -1
                    for i in 0..<(n - 1) where ranks[i] < best {
                        best = ranks[i]
                        at = i
                    }
                    if at < 0 { break }
                    parts[at] = best
                    // Remove parts[at + 1] and ranks[at], then refresh the two neighbour pairs.
                    var i = at + 1
                    while i < n - 1 {
                        parts[i] = parts[i + 1]
                        ranks[i - 1] = ranks[i]
                        i += 1
                    }
                    n -= 1
                    if at > 0 { ranks[at - 1] = table.lookup(parts[at - 1], parts[at]) }
                    if at < n - 1 { ranks[at] = table.lookup(parts[at], parts[at + 1]) }
                }
                for i in 0..<n { out.append(parts[i]) }
            }
        }
    }

    // MARK: - Decoding

    /// The bytes that `ids` stand for, concatenated. Special tokens contribute nothing, and ids
    /// outside `0..<vocabSize` are skipped (they stand for no bytes), so any sequence is safe.
    public func decodeBytes(_ ids: [Int32]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        let limit = vocabSize
        tokenBytes.withUnsafeBufferPointer { bytes in
            tokenOffsets.withUnsafeBufferPointer { offsets in
                for id in ids {
                    let i = Int(id)
                    guard i >= 0, i < limit else { continue }
                    out.append(contentsOf: bytes[offsets[i]..<offsets[i + 1]])
                }
            }
        }
        return out
    }

    /// The text that `ids` stand for. Byte sequences that are not valid UTF-8 (for example a
    /// model output that stops in the middle of a multi-byte character) become U+FFFD
    /// replacement characters; special and out-of-range ids contribute nothing.
    public func decode(_ ids: [Int32]) -> String {
        String(decoding: decodeBytes(ids), as: UTF8.self)
    }

    /// The bytes of a single token (empty for special and out-of-range ids).
    public func bytes(of id: Int32) -> [UInt8] {
        let i = Int(id)
        guard i >= 0, i < vocabSize else { return [] }
        return Array(tokenBytes[tokenOffsets[i]..<tokenOffsets[i + 1]])
    }

    /// A readable rendering of one token for debugging and UI: special tokens as `<|bos|>`,
    /// `<|eos|>`, `<|pad|>`; out-of-range ids as `<|invalid:ID|>`; otherwise the token's text
    /// with backslash, control and invisible format characters escaped (`\n`, `\t`, `\u{200D}`)
    /// and bytes that are not valid UTF-8 on their own shown as `\xNN`.
    public func tokenString(_ id: Int32) -> String {
        switch id {
        case Self.bos: return "<|bos|>"
        case Self.eos: return "<|eos|>"
        case Self.pad: return "<|pad|>"
        default: break
        }
        guard id >= 0, Int(id) < vocabSize else { return "<|invalid:\(id)|>" }
        return Self.escaped(bytes(of: id))
    }

    static func escaped(_ bytes: [UInt8]) -> String {
        var s = ""
        bytes.withUnsafeBufferPointer { buf in
            var i = 0
            while i < buf.count {
                if let (value, length) = UTF8Text.scalar(buf, at: i),
                   let scalar = Unicode.Scalar(value) {
                    switch scalar {
                    case "\\": s += "\\\\"
                    case "\n": s += "\\n"
                    case "\r": s += "\\r"
                    case "\t": s += "\\t"
                    default:
                        switch scalar.properties.generalCategory {
                        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate,
                             .unassigned, .privateUse:
                            s += "\\u{" + String(value, radix: 16, uppercase: true) + "}"
                        default:
                            s.unicodeScalars.append(scalar)
                        }
                    }
                    i += length
                } else {
                    s += "\\x" + Hex.byte(buf[i])
                    i += 1
                }
            }
        }
        return s
    }

    // MARK: - Pre-tokenization

    /// Splits `text` into the chunks that BPE works within (merges never cross a chunk boundary).
    ///
    /// The rule (version 1), on Unicode scalars classified by their properties:
    /// - *whitespace* (`White_Space`: space, tab, CR, LF, NBSP, ideographic space, ...),
    ///   *letter* (general category L*), *digit* (N*: decimal, letter-like and other numbers),
    ///   *other* (punctuation, symbols, emoji, ZWJ, controls, ...);
    /// - a chunk is a run of letters, a run of digits or a run of other characters, optionally
    ///   preceded by one ASCII space (U+0020) that is taken from the end of the preceding
    ///   whitespace run: `"Hi  you"` → `["Hi", " ", " you"]`;
    /// - a run of whitespace is its own chunk (minus that borrowed final space);
    /// - combining marks (M*) continue whatever letter/digit/other run they follow, so accents,
    ///   variation selectors and keycaps stay with their base; a mark at a chunk start begins a
    ///   letter run;
    /// - a run is cut after at most `maxTokenBytes` (64) UTF-8 bytes, always at a scalar boundary,
    ///   which bounds the cost of training and encoding on pathological input.
    ///
    /// The chunks concatenate back to exactly `text`.
    public static func preTokenize(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        var chunks: [String] = []
        bytes.withUnsafeBufferPointer { buf in
            BPEPreTokenizer.forEachChunk(buf) { range in
                chunks.append(String(decoding: buf[range], as: UTF8.self))
            }
        }
        return chunks
    }

    // MARK: - Serialization

    /// Current binary format version written by `serialized()`.
    public static let formatVersion: UInt16 = 1
    /// Every format a reader accepts: the current one and each earlier one (only 1 so far).
    public static let readableFormatVersions: ClosedRange<UInt16> = 1...formatVersion
    /// Pre-tokenization rule implemented by this build (see `preTokenize`).
    public static let preTokenizerVersion: UInt16 = 1
    static let magic: [UInt8] = [0x54, 0x4C, 0x42, 0x50]  // "TLBP"
    static let headerSize = 16
    /// Bytes per merge: the left and the right id, u32 each.
    static let mergeBytes = 8

    /// The tokenizer as bytes, for embedding in a weight file. Little-endian layout:
    ///
    ///     offset  size  field
    ///     0       4     magic "TLBP"
    ///     4       2     format version (1)
    ///     6       2     pre-tokenizer rule version (1)
    ///     8       4     vocabulary size (259 + merge count)
    ///     12      4     merge count n
    ///     16      8n    merges: left id (UInt32), right id (UInt32)
    ///
    /// The encoding is deterministic: equal tokenizers give identical bytes.
    public func serialized() -> [UInt8] {
        var w = ByteWriter(capacity: Self.headerSize + Self.mergeBytes * merges.count)
        w.raw(Self.magic)
        w.u16(Self.formatVersion)
        w.u16(Self.preTokenizerVersion)
        w.u32(UInt32(vocabSize))
        w.u32(UInt32(merges.count))
        for m in merges {
            w.u32(UInt32(bitPattern: m.left))
            w.u32(UInt32(bitPattern: m.right))
        }
        return w.bytes
    }

    /// Loads a tokenizer written by `serialized()`. Every field is checked — magic, versions,
    /// header consistency, exact length, and each merge (see `init(merges:)`) — and any problem
    /// is thrown as a `TokenizerError` naming it; arbitrary bytes never crash.
    public init(serialized bytes: [UInt8]) throws(TokenizerError) {
        let magicPrefix = Array(bytes.prefix(Self.magic.count))
        guard magicPrefix == Array(Self.magic.prefix(magicPrefix.count)) else {
            throw .badMagic(found: magicPrefix)
        }
        var r = ByteReader(bytes)
        let version: UInt16, rule: UInt16, declared: UInt32, count: UInt32
        do {
            _ = try r.take(Self.magic.count, "magic")
            version = try r.u16("format version")
            rule = try r.u16("pre-tokenizer version")
            declared = try r.u32("vocabulary size")
            count = try r.u32("merge count")
        } catch {
            throw .truncated(what: "header", needed: Self.headerSize, available: bytes.count)
        }
        guard Self.readableFormatVersions.contains(version) else {
            throw .unsupportedVersion(found: version, supported: Self.formatVersion)
        }
        guard rule == Self.preTokenizerVersion else {
            throw .unsupportedPreTokenizer(found: rule, supported: Self.preTokenizerVersion)
        }
        guard UInt64(declared) == UInt64(count) + UInt64(Self.minVocabSize) else {
            throw .vocabSizeMismatch(declared: declared, mergeCount: count)
        }
        guard Int(declared) <= Self.maxVocabSize else {
            throw .vocabSizeTooLarge(requested: Int(declared), maximum: Self.maxVocabSize)
        }
        let needed = Self.headerSize + Self.mergeBytes * Int(count)
        guard bytes.count == needed else {
            if bytes.count < needed {
                throw .truncated(what: "merge list (\(count) merges)", needed: needed, available: bytes.count)
            }
            throw .trailingBytes(count: bytes.count - needed)
        }
        var merges: [Merge] = []
        merges.reserveCapacity(Int(count))
        for i in 0..<Int(count) {
            let l: UInt32, rr: UInt32
            do {
                l = try r.u32("merge \(i)")
                rr = try r.u32("merge \(i)")
            } catch {
                throw .truncated(what: "merge list (\(count) merges)", needed: needed, available: bytes.count)
            }
            guard l <= UInt32(Int32.max), rr <= UInt32(Int32.max) else {
                throw .invalidMerge(index: i, left: Int64(l), right: Int64(rr))
            }
            merges.append(Merge(Int32(l), Int32(rr)))
        }
        try self.init(merges: merges)
    }
}

// MARK: - Pair table

/// Open-addressing hash map from a token pair to the id of its merge. Much faster than
/// `Dictionary` (no per-lookup hasher setup), which matters because encoding does one lookup
/// per adjacent pair per merge step.
struct BPEPairTable: Sendable {
    static let missing = Int32.max
    private static let emptyKey = UInt64.max

    private var keys: [UInt64]
    private var values: [Int32]
    private var shift: UInt64

    init(minimumCapacity: Int) {
        var capacity = 16
        var bits: UInt64 = 4
        while capacity < 2 * minimumCapacity + 1 {
            capacity <<= 1
            bits += 1
        }
        keys = [UInt64](repeating: Self.emptyKey, count: capacity)
        values = [Int32](repeating: Self.missing, count: capacity)
        shift = 64 - bits
    }

    @inline(__always)
    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Inserts the pair unless present; returns the existing id if it was, else `missing`.
    /// The table never grows: it is sized for all merges up front.
    mutating func insert(left: Int32, right: Int32, id: Int32) -> Int32 {
        let k = Self.key(left, right)
        let mask = keys.count - 1
        var slot = Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            if keys[slot] == Self.emptyKey {
                keys[slot] = k
                values[slot] = id
                return Self.missing
            }
            if keys[slot] == k { return values[slot] }
            slot = (slot + 1) & mask
        }
    }

    /// The merged id for (left, right), or `missing` (`Int32.max`, larger than any id).
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> Int32 {
        let k = Self.key(left, right)
        return keys.withUnsafeBufferPointer { keys in
            let mask = keys.count - 1
            var slot = Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while true {
                let stored = keys[slot]
                if stored == k { return values[slot] }
                if stored == Self.emptyKey { return Self.missing }
                slot = (slot + 1) & mask
            }
        }
    }
}

// MARK: - Pre-tokenizer

/// The chunking rule shared by training and encoding (documented on `BPETokenizer.preTokenize`).
enum BPEPreTokenizer {
    /// Longest chunk in bytes; also the longest token.
    static let maxChunkBytes = 64

    enum Kind: UInt8 { case none, space, letter, digit, other, mark }

    @inline(__always)
    static func asciiKind(_ b: UInt8) -> Kind {
        switch b {
        case 0x61...0x7A, 0x41...0x5A: return .letter
        case 0x30...0x39: return .digit
        case 0x20, 0x09...0x0D: return .space
        default: return .other
        }
    }

    static func kind(ofScalar value: UInt32) -> Kind {
        guard let scalar = Unicode.Scalar(value) else { return .other }
        let properties = scalar.properties
        if properties.isWhitespace { return .space }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .nonspacingMark, .spacingMark, .enclosingMark:
            return .mark
        case .decimalNumber, .letterNumber, .otherNumber:
            return .digit
        default:
            return .other
        }
    }

    /// Calls `body` with the byte range of each chunk of `s`, in order; the ranges tile `s`.
    /// Bytes that are not well-formed UTF-8 count as single-byte "other" characters.
    static func forEachChunk(_ s: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        let n = s.count
        var start = 0
        var kind = Kind.none
        var lastWasSpace = false  // the previous scalar was U+0020 (inside a whitespace chunk)
        var p = 0
        while p < n {
            let b = s[p]
            var length = 1
            var k: Kind
            if b < 0x80 {
                k = asciiKind(b)
            } else if let (value, l) = UTF8Text.scalar(s, at: p) {
                length = l
                k = Self.kind(ofScalar: value)
            } else {
                k = .other
            }
            let q = p + length
            if k == .mark {
                k = (kind == .letter || kind == .digit || kind == .other) ? kind : .letter
            }
            if k == kind && q - start <= maxChunkBytes {
                // Continue the current run.
            } else if k != .space && kind == .space && lastWasSpace {
                // The whitespace run's final ASCII space becomes this run's leading space.
                if p - 1 > start { body(start..<(p - 1)) }
                start = p - 1
                kind = k
            } else {
                if p > start { body(start..<p) }
                start = p
                kind = k
            }
            lastWasSpace = b == 0x20
            p = q
        }
        if n > start { body(start..<n) }
    }
}
