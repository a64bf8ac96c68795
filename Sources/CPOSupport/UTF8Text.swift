/// The one UTF-8 validator of the code: turning the bytes of a text file (a world or theme
/// TOML file) into a `String`, refusing invalid UTF-8 with its position instead of replacing
/// it; finding the first invalid byte of a range (datasets); and decoding one scalar (the
/// tokenizer's pre-tokenizer).
public enum UTF8Text {
    /// The first bytes that are not well-formed UTF-8.
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        /// Up to four bytes, from the first bad one.
        public var bytes: [UInt8]
        /// Byte offset of the first bad byte in the input.
        public var offset: Int
        /// 1-based line (lines end with LF, as in TOML).
        public var line: Int
        /// 1-based column in Unicode scalars.
        public var column: Int

        public var description: String { "invalid UTF-8 (bytes \(Hex.bytes(bytes)))" }
    }

    /// How many bytes a problem shows, from the first bad one (the longest UTF-8 sequence).
    public static let shownBytes = 4

    /// The UTF-8 byte order mark (U+FEFF), which text files may start with; it is not content.
    public static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    public static func hasByteOrderMark(_ b: [UInt8]) -> Bool { b.starts(with: byteOrderMark) }

    /// `bytes` as a String, or where the first invalid UTF-8 sequence is.
    public static func decode(_ bytes: [UInt8]) -> Result<String, Problem> {
        if let p = firstProblem(bytes) { return .failure(p) }
        return .success(String(decoding: bytes, as: UTF8.self))
    }

    /// The first invalid byte of `b`, located by line (LF) and column.
    static func firstProblem(_ b: [UInt8]) -> Problem? {
        guard let bad = firstInvalid(b, from: 0, to: b.count) else { return nil }
        var line = 1
        var lineStart = 0
        for k in 0..<bad where b[k] == 0x0A {
            line += 1
            lineStart = k + 1
        }
        return Problem(bytes: Array(b[bad..<min(b.count, bad + shownBytes)]), offset: bad, line: line,
                       column: scalarCount(b, from: lineStart, to: bad) + 1)
    }

    /// Offset of the first byte of `b[from..<to]` that is not part of well-formed UTF-8
    /// (overlong forms, surrogates and code points above U+10FFFF are refused), or nil. A
    /// sequence cut off by `to` is invalid.
    public static func firstInvalid(_ b: [UInt8], from: Int, to: Int) -> Int? {
        b.withUnsafeBufferPointer { all in
            let s = UnsafeBufferPointer(rebasing: all[..<to])
            var i = from
            while i < to {
                if s[i] < 0x80 {
                    i += 1   // ASCII: the common case, without a call
                } else if let (_, length) = scalar(s, at: i) {
                    i += length
                } else {
                    return i
                }
            }
            return nil
        }
    }

    /// Number of Unicode scalars that start in `b[from..<to]` (bytes that are not UTF-8
    /// continuation bytes): the column arithmetic of every located error.
    @inlinable
    public static func scalarCount(_ b: [UInt8], from: Int, to: Int) -> Int {
        var count = 0
        var i = from
        while i < to {
            if b[i] & 0xC0 != 0x80 { count += 1 }
            i += 1
        }
        return count
    }

    /// Decodes one well-formed UTF-8 scalar starting at `i`: its value and length in bytes, or
    /// nil if the bytes there are not well-formed (Unicode Table 3-7: no overlongs, surrogates
    /// or values above U+10FFFF; a sequence cut off by the end of `s` is not well-formed).
    @inlinable @inline(__always)
    public static func scalar(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> (value: UInt32, length: Int)? {
        let n = s.count
        let b0 = s[i]
        if b0 < 0x80 { return (UInt32(b0), 1) }
        @inline(__always) func cont(_ j: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> UInt32? {
            guard j < n else { return nil }
            let b = s[j]
            return b >= lo && b <= hi ? UInt32(b & 0x3F) : nil
        }
        switch b0 {
        case 0xC2...0xDF:
            guard let c1 = cont(i + 1) else { return nil }
            return (UInt32(b0 & 0x1F) << 6 | c1, 2)
        case 0xE0...0xEF:
            let lo: UInt8 = b0 == 0xE0 ? 0xA0 : 0x80
            let hi: UInt8 = b0 == 0xED ? 0x9F : 0xBF
            guard let c1 = cont(i + 1, lo, hi), let c2 = cont(i + 2) else { return nil }
            return (UInt32(b0 & 0x0F) << 12 | c1 << 6 | c2, 3)
        case 0xF0...0xF4:
            let lo: UInt8 = b0 == 0xF0 ? 0x90 : 0x80
            let hi: UInt8 = b0 == 0xF4 ? 0x8F : 0xBF
            guard let c1 = cont(i + 1, lo, hi), let c2 = cont(i + 2), let c3 = cont(i + 3) else { return nil }
            return (UInt32(b0 & 0x07) << 18 | c1 << 12 | c2 << 6 | c3, 4)
        default:
            return nil
        }
    }
}
