import CPOSupport

/// Checks TOML text before the world and theme readers hand it to TOMLKit, for inputs that the
/// toml++ 3.4 parser underneath does not see whole or does not survive (all found by the
/// fuzz tests, FuzzTests, and by fuzzing toml++ itself with its assertions enabled):
///
/// - A NUL character: TOMLKit passes the text on as a C string, so toml++ would parse only
///   the part before it. Likewise a `\u0000` escape in a basic string: TOMLKit reads strings
///   and keys back as C strings, so the value or key would silently end there (and a key that
///   reads back differently cannot be looked up again).
/// - A table header whose name starts with a character that cannot start a key, e.g. a line
///   holding just `[`, or `[=]`, `[.a]`, `[[#]]`: toml++ calls its key parser without checking
///   that first character, and the key parser asserts it (`TOML_ASSERT_ASSUME` in
///   `parser::parse_key`).
/// - An array element that starts with `}` or a Unicode line separator (U+0085, U+2028,
///   U+2029), e.g. `a = [}` or `a = [1, }`: toml++'s array parser calls its value parser
///   on it, which asserts that no value starts with a terminator (`parser::parse_value`).
/// - Tables nested deeper than `maxDepth` through dotted keys, table headers and inline
///   tables, e.g. `a.a.a.…a = 1` with 30,000 parts (60 KB): toml++ builds the nested tables
///   but frees them recursively, one stack frame per level, and overflows the stack (a
///   segmentation fault). Arrays and inline tables alone are limited to 256 levels by toml++
///   itself; dotted keys are not.
/// - A value that starts like a date-time but has no time: no digit after the `T`, e.g.
///   `a = 1979-05-27T:` (the time parser asserts a digit, `parser::parse_time`), or a date, a
///   space and a single digit, e.g. `a = 1979-05-27 1,` (the value scanner asserts it is not
///   at a terminator, in `parser::parse_value`).
///
/// A failed toml++ assertion aborts the process in a debug build and is undefined behaviour in
/// a release build (there the assertion becomes an optimizer assumption). Such text is never
/// valid TOML, so refusing it changes no valid file (the NUL escape and the depth limit aside,
/// which no world or theme comes near). The check follows the document as toml++ does: a table header is a `[` that
/// is the first non-blank character of a line outside any multi-line string, array or inline
/// table; an array element starts after the array's `[` or a `,` and any blanks, line breaks
/// and comments; a value starts after a key's `=` and any blanks. Strings of all four kinds
/// and comments are skipped, so brackets inside them count for nothing.
public enum TOMLGuard {
    /// The deepest nesting of tables and arrays accepted (the shipped files need 3).
    public static let maxDepth = 128

    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        public enum Kind: Sendable, Hashable {
            case nul
            /// A `\u0000` or `\U00000000` escape in a basic string (valid TOML, but not
            /// representable through TOMLKit).
            case escapedNUL
            /// A table header whose name starts with a character no key can start with.
            case headerName
            /// An array element starting with `}` or a Unicode line separator.
            case arrayElement
            /// A date followed by `T`, or by a space and one digit, and no time.
            case dateTime
            /// Tables or arrays nested deeper than `maxDepth`.
            case tooDeep
        }

        public var kind: Kind
        /// 1-based line and column (Unicode scalars) of the offending character.
        public var line: Int
        public var column: Int
        /// What is wrong, as a sentence fragment.
        public var message: String

        public var description: String { "\(line):\(column): \(message)" }
    }

    /// The first problem in `text` (a byte order mark already removed), or nil.
    public static func check(_ text: String) -> Problem? {
        var b = Array(text.utf8)
        b.append(0x0A)   // a sentinel line end; positions past the text are never reported
        let n = b.count - 1
        var i = 0
        var line = 1
        var lineStart = 0
        /// Open `[` / `{` of values (arrays and inline tables, which may span lines), innermost
        /// last.
        var open: [UInt8] = []
        /// Right after an array's `[` or a `,` in an array: the next non-blank is an element.
        var elementNext = false
        /// Right after a key's `=`: the next non-blank starts its value.
        var valueNext = false
        var atLineStart = true
        /// On a header line brackets are part of the header, not values.
        var headerLine = false
        // Nesting depth, counted as toml++ builds tables: a header `[a.b]` is 2 deep, a key
        // `c.d` under it adds 2, an inline table or array as its value 1 more, and so on.
        /// Depth of the table each open bracket made, parallel to `open`.
        var openDepth: [Int] = []
        var headerDepth = 0
        /// Reading a key (at a statement start, or after `{` or `,` in an inline table).
        var keyMode = true
        var keyParts = 1
        /// Depth of the value after the last `=`.
        var valueDepth = 0
        func contextDepth() -> Int { openDepth.last ?? headerDepth }

        func problem(at k: Int, _ kind: Problem.Kind, _ message: String) -> Problem {
            Problem(kind: kind, line: line, column: UTF8Text.scalarCount(b, from: lineStart, to: k) + 1, message: message)
        }

        func tooDeep(_ k: Int) -> Problem {
            problem(at: k, .tooDeep, "tables nested more than \(maxDepth) levels deep (through dotted keys, headers or inline tables)")
        }

        while i < n {
            let c = b[i]
            if c == 0 { return problem(at: i, .nul, "a NUL character, which TOML does not allow") }
            if atLineStart {
                atLineStart = false
                var k = i
                while k < n && (b[k] == 0x20 || b[k] == 0x09) { k += 1 }
                if open.isEmpty && k < n && b[k] == UInt8(ascii: "[") {
                    if let bad = badHeader(b, n, from: k) {
                        let shown = bad < n ? describe(b[bad]) : "the end of the file"
                        return problem(at: bad, .headerName, "a table header needs a name after '[', found \(shown)")
                    }
                    headerLine = true
                    headerDepth = k + 1 < n && b[k + 1] == UInt8(ascii: "[") ? 2 : 1
                    keyMode = false
                } else if open.isEmpty {
                    keyMode = true
                    keyParts = 1
                }
                i = k
                continue
            }
            if valueNext && c != 0x20 && c != 0x09 {
                valueNext = false
                if let bad = dateWithoutTime(b, n, at: i) {
                    return problem(at: bad, .dateTime, "a date-time needs a time (HH:MM) after the date")
                }
            }
            if elementNext {
                switch c {
                case 0x20, 0x09, 0x0D, 0x0A, UInt8(ascii: "#"):
                    break   // blanks, line breaks and comments come before the element
                default:
                    elementNext = false
                    // U+0085 is C2 85; U+2028 and U+2029 are E2 80 A8 and E2 80 A9.
                    let separator = (c == 0xC2 && b[i + 1] == 0x85)
                        || (c == 0xE2 && b[i + 1] == 0x80 && (b[i + 2] == 0xA8 || b[i + 2] == 0xA9))
                    if c == UInt8(ascii: "}") || separator {
                        let shown = separator ? "a Unicode line separator" : "'}'"
                        return problem(at: i, .arrayElement, "a list element is missing: found \(shown) after '[' or ','")
                    }
                    if let bad = dateWithoutTime(b, n, at: i) {
                        return problem(at: bad, .dateTime, "a date-time needs a time (HH:MM) after the date")
                    }
                }
            }
            switch c {
            case 0x0A:
                line += 1
                lineStart = i + 1
                atLineStart = true
                headerLine = false
                i += 1
            case UInt8(ascii: "#"):
                while i < n && b[i] != 0x0A && b[i] != 0 { i += 1 }
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                // A string; multi-line ones may hold newlines, which still count as lines.
                let q = c
                let multi = i + 2 < n && b[i + 1] == q && b[i + 2] == q
                i += multi ? 3 : 1
                while i < n {
                    let d = b[i]
                    if d == 0 { return problem(at: i, .nul, "a NUL character, which TOML does not allow") }
                    if q == UInt8(ascii: "\"") && d == UInt8(ascii: "\\") {
                        if escapesNUL(b, n, at: i) {
                            return problem(at: i, .escapedNUL, "a \\u0000 escape (a NUL character) in a string")
                        }
                        if i + 1 < n && b[i + 1] == 0x0A {
                            line += 1
                            lineStart = i + 2
                        }
                        i += 2
                        continue
                    }
                    if d == 0x0A {
                        if !multi { break }   // unterminated: toml++ stops here with an error
                        line += 1
                        lineStart = i + 1
                    }
                    if d == q {
                        if !multi {
                            i += 1
                            break
                        }
                        var run = 0
                        while i < n && b[i] == q { run += 1; i += 1 }
                        if run >= 3 { break }
                        continue
                    }
                    i += 1
                }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                if !headerLine {
                    // An array element one level below its array; else the value of a key.
                    let depth = (open.last == UInt8(ascii: "[") ? contextDepth() : valueDepth) + 1
                    if depth > maxDepth { return tooDeep(i) }
                    open.append(c)
                    openDepth.append(depth)
                    elementNext = c == UInt8(ascii: "[")
                    keyMode = c == UInt8(ascii: "{")
                    keyParts = 1
                }
                i += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if !headerLine && !open.isEmpty {
                    open.removeLast()
                    openDepth.removeLast()
                    keyMode = false
                }
                i += 1
            case UInt8(ascii: ","):
                elementNext = !headerLine && open.last == UInt8(ascii: "[")
                if !headerLine && open.last == UInt8(ascii: "{") {
                    keyMode = true
                    keyParts = 1
                }
                i += 1
            case UInt8(ascii: "="):
                if !headerLine {
                    valueNext = true
                    keyMode = false
                    valueDepth = contextDepth() + keyParts
                }
                i += 1
            case UInt8(ascii: "."):
                if headerLine {
                    headerDepth += 1
                    if headerDepth > maxDepth { return tooDeep(i) }
                } else if keyMode {
                    keyParts += 1
                    if contextDepth() + keyParts > maxDepth { return tooDeep(i) }
                }
                i += 1
            default:
                i += 1
            }
        }
        return nil
    }

    /// For a header starting at `b[k] == "["`: the offset of a first name character toml++
    /// would assert on, or nil when the header is fine or toml++ reports it as an error.
    static func badHeader(_ b: [UInt8], _ n: Int, from k: Int) -> Int? {
        var i = k + 1
        var blank = false
        while i < n && (b[i] == 0x20 || b[i] == 0x09) { i += 1; blank = true }
        if i < n && b[i] == UInt8(ascii: "[") {
            if blank { return nil }   // "[ [": toml++ reports "brackets must be contiguous"
            i += 1
            while i < n && (b[i] == 0x20 || b[i] == 0x09) { i += 1 }
        }
        if i >= n { return nil }      // end of file: toml++ reports it
        let c = b[i]
        let ok = c == UInt8(ascii: "]") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'")
            || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        return ok ? nil : i
    }

    /// Whether the backslash at `i` starts `\u0000` or `\U00000000`.
    static func escapesNUL(_ b: [UInt8], _ n: Int, at i: Int) -> Bool {
        guard i + 1 < n else { return false }
        let width = b[i + 1] == UInt8(ascii: "u") ? 4 : b[i + 1] == UInt8(ascii: "U") ? 8 : 0
        guard width > 0, i + 1 + width < n else { return false }
        return b[(i + 2)..<(i + 2 + width)].allSatisfy { $0 == UInt8(ascii: "0") }
    }

    /// For a value starting at `i` that toml++ would take for a date-time without a time: the
    /// offset of the character it would assert on, else nil. Two shapes (neither is ever
    /// valid TOML, so the test can be broader than toml++'s exact conditions):
    /// - `YYYY-MM-DD` then `T` or `t` and a character that is not a digit (`parse_time`);
    /// - a value of ten characters (underscores not counted) with a digit first and `-` 5th
    ///   and 8th, e.g. `1979-05-27` or `0994-10-2s`, then a space, one digit and a character
    ///   that is not a digit (the value scanner's look-ahead for a date-time written with a
    ///   space, in `parse_value`).
    static func dateWithoutTime(_ b: [UInt8], _ n: Int, at i: Int) -> Int? {
        func digit(_ k: Int) -> Bool { k < n && b[k] >= UInt8(ascii: "0") && b[k] <= UInt8(ascii: "9") }
        let dash = UInt8(ascii: "-")
        if i + 11 < n, digit(i), digit(i + 1), digit(i + 2), digit(i + 3), b[i + 4] == dash, digit(i + 5),
           digit(i + 6), b[i + 7] == dash, digit(i + 8), digit(i + 9),
           b[i + 10] == UInt8(ascii: "T") || b[i + 10] == UInt8(ascii: "t") {
            return digit(i + 11) ? nil : i + 11
        }
        guard digit(i) else { return nil }
        // The value as toml++ scans it: up to a terminator, counting characters (not bytes).
        var count = 0
        var k = i
        scan: while k < n {
            let c = b[k]
            switch c {
            case 0x20, 0x09, 0x0D, 0x0A, UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: "#"):
                break scan
            case UInt8(ascii: "_"):
                break
            default:
                if c & 0xC0 != 0x80 {
                    if (count == 4 || count == 7) && c != dash { return nil }
                    count += 1
                    if count > 10 { return nil }
                }
            }
            k += 1
        }
        guard count == 10, k + 2 < n, b[k] == 0x20, digit(k + 1), !digit(k + 2) else { return nil }
        return k + 2
    }

    static func describe(_ c: UInt8) -> String {
        switch c {
        case 0x0A: return "a line break"
        case 0x0D: return "a carriage return"
        case 0x21..<0x7F: return "'\(Character(UnicodeScalar(c)))'"
        default: return "a character that cannot start a key"
        }
    }
}
