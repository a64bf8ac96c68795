import CPOSupport

/// JSON Lines: one JSON object per line (LF or CRLF), UTF-8 with or without a byte order mark.
/// Blank lines are skipped and are not records. Keys are the column names; values may be
/// strings, numbers, booleans (outcome and attributes only) or numeric strings. A line that is
/// not valid JSON, not an object, or lacks a named key is a bad row; invalid UTF-8 is a hard
/// error at its line and column; a named key found in no line at all is a hard error.
///
/// The JSON parser is a small hand-written one (RFC 8259, strict: no comments, no trailing
/// commas, no unescaped control characters in strings) so that errors carry a column, and so
/// that 100,000 lines parse in a few tens of milliseconds.
extension DatasetLoader {
    static func loadJSONL(_ bytes: [UInt8], file: String, options: LoadOptions) throws(InputError) -> OutcomeDataset {
        let source = "\(DatasetFormat.jsonl.rawValue):\(file)"
        var builder = DatasetRowBuilder(file: file, source: source, options: options)
        let wanted = options.columns.named
        var seen = Set<String>()
        var firstKeys: [String]?
        var firstObjectLine = 0
        try JSONLines.forEachLine(bytes, file: file) { line, parser in
            let start = parser.start
            do throws(JSONLineParser.Failure) {
                let (keys, values) = try parser.parseObjectLine()
                if firstKeys == nil {
                    firstKeys = keys
                    firstObjectLine = line
                }
                for (name, _) in wanted where values[name] != nil { seen.insert(name) }
                builder.add(line: line) { values[$0] ?? .missing }
            } catch {
                var reason = error.message
                if let at = error.offset {
                    reason += " at column \(UTF8Text.scalarCount(bytes, from: start, to: at) + 1)"
                }
                builder.bad(line: line, column: nil, reason: reason)
            }
        }
        if builder.totalRecords == 0 {
            throw InputError(file: file, message: "the file is empty",
                             hint: "Pass a file with one JSON object per line.")
        }
        if let keys = firstKeys {
            for (name, flag) in wanted where !seen.contains(name) {
                var e = missingColumn(name, flag: flag, available: keys, file: file, line: firstObjectLine,
                                      what: "key", delimiter: nil)
                e.message = "key '\(name)' is in no line; the first object (line \(firstObjectLine)) has keys: "
                    + keys.prefix(shownColumnNames).joined(separator: ", ") + (keys.count > shownColumnNames ? ", …" : "")
                throw e
            }
        }
        return try builder.finish()
    }
}

/// Parses one line holding one JSON object; nested values are checked and reported as
/// `.nested`.
struct JSONLineParser {
    struct Failure: Error {
        var message: String
        /// Byte offset the problem is at, if one.
        var offset: Int?
    }

    private let b: [UInt8]
    private var i: Int
    /// Where the line starts and ends (before its CR/LF).
    let start: Int
    let end: Int
    private static let maxDepth = 256

    init(bytes: [UInt8], start: Int, end: Int) {
        b = bytes
        i = start
        self.start = start
        self.end = end
    }

    var isBlank: Bool {
        var j = i
        while j < end, Self.isSpace(b[j]) { j += 1 }
        return j == end
    }

    @inline(__always)
    private static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A }

    private mutating func skipSpace() {
        while i < end, Self.isSpace(b[i]) { i += 1 }
    }

    private func unexpected(_ expected: String) -> Failure {
        if i >= end { return Failure(message: "not valid JSON: the line ends where \(expected) was expected", offset: nil) }
        return Failure(message: "not valid JSON: expected \(expected), found \(CSVBytes.describe(b, at: i))", offset: i)
    }

    /// The keys in order of first appearance and the values (a repeated key keeps its last value).
    mutating func parseObjectLine() throws(Failure) -> ([String], [String: DatasetCell]) {
        var keys: [String] = []
        var values: [String: DatasetCell] = [:]
        try parseObjectLine { key, value, _ in
            if values.updateValue(value, forKey: key) == nil { keys.append(key) }
        }
        return (keys, values)
    }

    /// Parses the line's object, calling `field` with each key, its value and the byte range
    /// the value is written in, in the order written.
    mutating func parseObjectLine(_ field: (String, DatasetCell, Range<Int>) -> Void) throws(Failure) {
        skipSpace()
        guard i < end else { throw Failure(message: "the line is blank", offset: nil) }
        if b[i] != UInt8(ascii: "{") {
            // Say what the line is when it is valid JSON of another kind; else the syntax error.
            let what: String
            switch try value(depth: 1) {
            case .string: what = "a string"
            case .number: what = "a number"
            case .bool: what = "a boolean"
            case .null: what = "null"
            case .nested(let kind): what = kind
            case .missing: what = "empty"
            }
            skipSpace()
            if i < end {
                throw Failure(message: "not valid JSON: \(CSVBytes.describe(b, at: i)) after \(what)", offset: i)
            }
            throw Failure(message: "the line is \(what), not a JSON object", offset: nil)
        }
        i += 1
        skipSpace()
        if i < end && b[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipSpace()
                guard i < end, b[i] == CSVBytes.quote else { throw unexpected("a key in double quotes") }
                let key = try string()
                skipSpace()
                guard i < end, b[i] == UInt8(ascii: ":") else { throw unexpected("':'") }
                i += 1
                skipSpace()
                let valueStart = i
                let v = try value(depth: 1)
                field(key, v, valueStart..<i)
                skipSpace()
                guard i < end else { throw unexpected("',' or '}'") }
                if b[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                if b[i] == UInt8(ascii: "}") {
                    i += 1
                    break
                }
                throw unexpected("',' or '}'")
            }
        }
        skipSpace()
        if i < end {
            throw Failure(message: "not valid JSON: \(CSVBytes.describe(b, at: i)) after the object (one object per line)",
                          offset: i)
        }
    }

    private mutating func value(depth: Int) throws(Failure) -> DatasetCell {
        guard i < end else { throw unexpected("a value") }
        switch b[i] {
        case CSVBytes.quote:
            return .string(try string())
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let isObject = b[i] == UInt8(ascii: "{")
            try container(depth: depth)
            return .nested(isObject ? "an object" : "an array")
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try number())
        default:
            throw unexpected("a value")
        }
    }

    /// Checks an array or object (at `[` / `{`) and steps over it.
    private mutating func container(depth: Int) throws(Failure) {
        guard depth < Self.maxDepth else {
            throw Failure(message: "not valid JSON here: nested more than \(Self.maxDepth) levels deep", offset: i)
        }
        let isObject = b[i] == UInt8(ascii: "{")
        let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
        i += 1
        skipSpace()
        if i < end && b[i] == close {
            i += 1
            return
        }
        while true {
            skipSpace()
            if isObject {
                guard i < end, b[i] == CSVBytes.quote else { throw unexpected("a key in double quotes") }
                _ = try string()
                skipSpace()
                guard i < end, b[i] == UInt8(ascii: ":") else { throw unexpected("':'") }
                i += 1
                skipSpace()
            }
            _ = try value(depth: depth + 1)
            skipSpace()
            guard i < end else { throw unexpected(isObject ? "',' or '}'" : "',' or ']'") }
            if b[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if b[i] == close {
                i += 1
                return
            }
            throw unexpected(isObject ? "',' or '}'" : "',' or ']'")
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let start = i
        let count = word.utf8CodeUnitCount
        let ok = word.withUTF8Buffer { w -> Bool in
            guard start + count <= end else { return false }
            for k in 0..<count where b[start + k] != w[k] { return false }
            return true
        }
        guard ok else { throw Failure(message: "not valid JSON: unknown word (only true, false and null are allowed unquoted)", offset: start) }
        i += count
    }

    private mutating func number() throws(Failure) -> String {
        let start = i
        @inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
        let bad = Failure(message: "not valid JSON: malformed number", offset: start)
        if b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < end, isDigit(b[i]) else { throw bad }
        if b[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while i < end, isDigit(b[i]) { i += 1 }
        }
        if i < end, b[i] == UInt8(ascii: ".") {
            i += 1
            guard i < end, isDigit(b[i]) else { throw bad }
            while i < end, isDigit(b[i]) { i += 1 }
        }
        if i < end, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < end, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < end, isDigit(b[i]) else { throw bad }
            while i < end, isDigit(b[i]) { i += 1 }
        }
        return String(decoding: b[start..<i], as: UTF8.self)
    }

    /// A string at its opening quote; returns its value and steps past the closing quote.
    private mutating func string() throws(Failure) -> String {
        let open = i
        i += 1
        let start = i
        while i < end {
            let c = b[i]
            if c == CSVBytes.quote {
                let s = String(decoding: b[start..<i], as: UTF8.self)
                i += 1
                return s
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw controlCharacter() }
            i += 1
        }
        guard i < end else { throw Failure(message: "not valid JSON: string not closed", offset: open) }
        // Slow path: escapes.
        var buf = Array(b[start..<i])
        while i < end {
            let c = b[i]
            if c == CSVBytes.quote {
                i += 1
                return String(decoding: buf, as: UTF8.self)
            }
            if c < 0x20 { throw controlCharacter() }
            if c != UInt8(ascii: "\\") {
                buf.append(c)
                i += 1
                continue
            }
            let escapeAt = i
            guard i + 1 < end else { break }
            let e = b[i + 1]
            i += 2
            switch e {
            case CSVBytes.quote: buf.append(CSVBytes.quote)
            case UInt8(ascii: "\\"): buf.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): buf.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): buf.append(0x08)
            case UInt8(ascii: "f"): buf.append(0x0C)
            case UInt8(ascii: "n"): buf.append(0x0A)
            case UInt8(ascii: "r"): buf.append(0x0D)
            case UInt8(ascii: "t"): buf.append(0x09)
            case UInt8(ascii: "u"):
                var v = try hex4(at: escapeAt)
                if v >= 0xD800 && v <= 0xDBFF {
                    guard i + 1 < end, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                        throw Failure(message: "not valid JSON: unpaired surrogate in a \\u escape", offset: escapeAt)
                    }
                    i += 2
                    let low = try hex4(at: escapeAt)
                    guard low >= 0xDC00 && low <= 0xDFFF else {
                        throw Failure(message: "not valid JSON: unpaired surrogate in a \\u escape", offset: escapeAt)
                    }
                    v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                } else if v >= 0xDC00 && v <= 0xDFFF {
                    throw Failure(message: "not valid JSON: unpaired surrogate in a \\u escape", offset: escapeAt)
                }
                guard let scalar = Unicode.Scalar(v) else {
                    throw Failure(message: "not valid JSON: invalid \\u escape", offset: escapeAt)
                }
                UTF8.encode(scalar) { buf.append($0) }
            default:
                throw Failure(message: "not valid JSON: unknown escape", offset: escapeAt)
            }
        }
        throw Failure(message: "not valid JSON: string not closed", offset: open)
    }

    private mutating func hex4(at escapeAt: Int) throws(Failure) -> UInt32 {
        guard i + 4 <= end else { throw Failure(message: "not valid JSON: \\u needs four hex digits", offset: escapeAt) }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = b[i + k]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw Failure(message: "not valid JSON: \\u needs four hex digits", offset: escapeAt)
            }
            v = v << 4 | d
        }
        i += 4
        return v
    }

    private func controlCharacter() -> Failure {
        Failure(message: "not valid JSON: a control character inside a string (write it as \\n, \\t, ...)", offset: i)
    }
}
