import CPOSupport

/// A seeded mutator: takes a valid input of some format and applies 1-4 random byte- and
/// structure-level edits, drawing every choice from a `SeededRandom`, so one seed always gives
/// the same mutated input.
///
/// Edits: flip a bit; set or insert an "interesting" byte (delimiters, quotes, brackets, line
/// breaks, NUL, 0xFF, stray UTF-8 continuation and lead bytes); set a random byte; delete a
/// range; duplicate a range elsewhere; insert a token from the format's dictionary (sometimes
/// repeated many times, to reach nesting and length limits); overwrite a range with a token;
/// replace a number (a run of digits) with a hostile one; duplicate, delete or swap whole
/// lines; truncate; splice with another seed input.
struct Mutator {
    /// Tokens of the format (keywords, punctuation, hostile numbers), inserted whole.
    let dictionary: [[UInt8]]
    /// Other valid inputs of the format, for splicing.
    let seeds: [[UInt8]]
    /// Hostile numbers (huge, negative, non-finite, ...), written over a run of digits.
    let numbers: [[UInt8]]
    /// Mutated inputs are cut to this many bytes, so duplication cannot grow them without bound.
    var maxLength = 1 << 16

    init(dictionary: [String], seeds: [[UInt8]], numbers: [String], maxLength: Int = 1 << 16) {
        self.dictionary = dictionary.map { Array($0.utf8) }
        self.seeds = seeds
        self.numbers = numbers.map { Array($0.utf8) }
        self.maxLength = maxLength
    }

    static let interesting: [UInt8] = Array("\"',\n\r=[]{}#\t\\:. -0e".utf8) + [
        0x00, 0xFF, 0xFE, 0x7F, 0x01, 0x1F,
        0xC3, 0x80, 0xBF,               // a lead byte and lone continuation bytes
        0xC0, 0xC1, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xF8,   // overlong / surrogate / out-of-range leads
        0xEF, 0xBB,                     // pieces of a byte order mark
    ]

    /// `input` with 1-4 random edits.
    func mutate(_ input: [UInt8], rng: inout SeededRandom) -> [UInt8] {
        var b = input
        let edits = 1 + rng.int(below: 4)
        for _ in 0..<edits { edit(&b, rng: &rng) }
        if b.count > maxLength { b.removeLast(b.count - maxLength) }
        return b
    }

    /// A position in 0...count (an insertion point).
    private func point(_ b: [UInt8], _ rng: inout SeededRandom) -> Int { rng.int(below: b.count + 1) }

    /// A range length: usually short, sometimes long.
    private func length(_ limit: Int, _ rng: inout SeededRandom) -> Int {
        guard limit > 0 else { return 0 }
        let cap = rng.int(below: 4) == 0 ? limit : min(limit, 16)
        return 1 + rng.int(below: cap)
    }

    private func edit(_ b: inout [UInt8], rng: inout SeededRandom) {
        switch rng.int(below: 14) {
        case 0:   // flip a bit
            guard !b.isEmpty else { fallthrough }
            b[rng.int(below: b.count)] ^= UInt8(1) << UInt8(rng.int(below: 8))
        case 1:   // set a byte to an interesting value
            guard !b.isEmpty else { fallthrough }
            b[rng.int(below: b.count)] = Self.interesting[rng.int(below: Self.interesting.count)]
        case 2:   // insert an interesting byte
            b.insert(Self.interesting[rng.int(below: Self.interesting.count)], at: point(b, &rng))
        case 3:   // set a random byte
            guard !b.isEmpty else { fallthrough }
            b[rng.int(below: b.count)] = UInt8(truncatingIfNeeded: rng.next())
        case 4:   // delete a range
            guard !b.isEmpty else { fallthrough }
            let at = rng.int(below: b.count)
            b.removeSubrange(at..<(at + length(b.count - at, &rng)))
        case 5:   // duplicate a range somewhere else
            guard !b.isEmpty else { fallthrough }
            let at = rng.int(below: b.count)
            let piece = Array(b[at..<(at + length(b.count - at, &rng))])
            b.insert(contentsOf: piece, at: point(b, &rng))
        case 6, 7:   // insert a dictionary token, now and then many times over
            let token = dictionary[rng.int(below: dictionary.count)]
            let times = rng.int(below: 16) == 0 ? 1 + rng.int(below: 300) : 1
            var run: [UInt8] = []
            for _ in 0..<times { run += token }
            b.insert(contentsOf: run, at: point(b, &rng))
        case 8:   // overwrite a range with a dictionary token
            guard !b.isEmpty else { fallthrough }
            let token = dictionary[rng.int(below: dictionary.count)]
            let at = rng.int(below: b.count)
            b.replaceSubrange(at..<min(b.count, at + token.count), with: token)
        case 9:   // line surgery: duplicate, delete or swap whole lines
            lineEdit(&b, rng: &rng)
        case 12:  // replace a number
            numberEdit(&b, rng: &rng)
        case 10:  // truncate
            b.removeLast(b.count - point(b, &rng))
        case 11:  // splice: our head, another seed's tail
            let other = seeds[rng.int(below: seeds.count)]
            let cut = point(b, &rng)
            let from = rng.int(below: other.count + 1)
            b = Array(b[..<cut]) + other[from...]
        default:  // a random ASCII character (letters and digits are what keys and numbers are made of)
            b.insert(UInt8(0x20 + rng.int(below: 0x5F)), at: point(b, &rng))
        }
    }

    /// Writes a hostile number over a maximal run of ASCII digits (inserts one if there is none).
    private func numberEdit(_ b: inout [UInt8], rng: inout SeededRandom) {
        let number = numbers[rng.int(below: numbers.count)]
        var runs: [Range<Int>] = []
        var i = 0
        while i < b.count {
            guard b[i] >= 0x30 && b[i] <= 0x39 else { i += 1; continue }
            let start = i
            while i < b.count && b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
            runs.append(start..<i)
        }
        if runs.isEmpty {
            b.insert(contentsOf: number, at: point(b, &rng))
        } else {
            b.replaceSubrange(runs[rng.int(below: runs.count)], with: number)
        }
    }

    private func lineEdit(_ b: inout [UInt8], rng: inout SeededRandom) {
        var starts = [0]
        for (i, c) in b.enumerated() where c == 0x0A && i + 1 < b.count { starts.append(i + 1) }
        func line(_ k: Int) -> Range<Int> { starts[k]..<(k + 1 < starts.count ? starts[k + 1] : b.count) }
        let a = line(rng.int(below: starts.count))
        switch rng.int(below: 3) {
        case 0:
            let piece = Array(b[a])
            b.insert(contentsOf: piece, at: starts[rng.int(below: starts.count)])
        case 1:
            b.removeSubrange(a)
        default:
            let c = line(rng.int(below: starts.count))
            guard a != c else { return }
            let (first, second) = a.lowerBound < c.lowerBound ? (a, c) : (c, a)
            guard first.upperBound <= second.lowerBound else { return }
            var out: [UInt8] = []
            out.reserveCapacity(b.count)
            out += b[..<first.lowerBound]
            out += b[second]
            out += b[first.upperBound..<second.lowerBound]
            out += b[first]
            out += b[second.upperBound...]
            b = out
        }
    }
}
