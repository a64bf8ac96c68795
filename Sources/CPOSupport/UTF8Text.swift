/// Turning the bytes of a text file (a world or theme TOML file) into a `String`, refusing
/// invalid UTF-8 with its position instead of replacing it.
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

        public var description: String {
            "invalid UTF-8 (bytes \(bytes.map(UTF8Text.hex).joined(separator: " ")))"
        }
    }

    /// `bytes` as a String, or where the first invalid UTF-8 sequence is.
    public static func decode(_ bytes: [UInt8]) -> Result<String, Problem> {
        if let p = firstInvalid(bytes) { return .failure(p) }
        return .success(String(decoding: bytes, as: UTF8.self))
    }

    /// The first byte that is not part of well-formed UTF-8 (overlong forms, surrogates and
    /// code points above U+10FFFF are refused), located.
    static func firstInvalid(_ b: [UInt8]) -> Problem? {
        var i = 0
        let n = b.count
        var line = 1
        var lineStart = 0
        @inline(__always) func isCont(_ x: UInt8) -> Bool { x & 0xC0 == 0x80 }
        func invalid() -> Problem {
            var column = 1
            for k in lineStart..<i where !isCont(b[k]) { column += 1 }
            return Problem(bytes: Array(b[i..<min(n, i + 4)]), offset: i, line: line, column: column)
        }
        while i < n {
            let c = b[i]
            if c < 0x80 {
                i += 1
                if c == 0x0A {
                    line += 1
                    lineStart = i
                }
            } else if c < 0xC2 {
                return invalid()
            } else if c < 0xE0 {
                guard i + 1 < n, isCont(b[i + 1]) else { return invalid() }
                i += 2
            } else if c < 0xF0 {
                guard i + 2 < n, isCont(b[i + 1]), isCont(b[i + 2]) else { return invalid() }
                if c == 0xE0 && b[i + 1] < 0xA0 { return invalid() }
                if c == 0xED && b[i + 1] >= 0xA0 { return invalid() }
                i += 3
            } else if c < 0xF5 {
                guard i + 3 < n, isCont(b[i + 1]), isCont(b[i + 2]), isCont(b[i + 3]) else { return invalid() }
                if c == 0xF0 && b[i + 1] < 0x90 { return invalid() }
                if c == 0xF4 && b[i + 1] >= 0x90 { return invalid() }
                i += 4
            } else {
                return invalid()
            }
        }
        return nil
    }

    static func hex(_ x: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(x >> 4)], digits[Int(x & 15)]])
    }
}
