import CPOSupport

/// Finds where keys, table headers and list elements are in the raw text of a TOML file,
/// since TOMLKit reports no positions for parsed nodes. Shared by the world and theme readers.
///
/// A small lexer (strings of all four kinds, comments, brackets, braces, `=`, `,`, bare
/// words) feeds a structural walk that records, for every key path, the line and column where
/// it first appears: `design` (the `[design]` header), `design.passages` (the key),
/// `design.passages[1]` (the second element of that list), `attribute[2]` (the third
/// `[[attribute]]` header, or the third element of an inline `attribute = [...]` list),
/// `attribute[2].passages[0]`, `observational.tilt.urgency` (a key inside an inline table or
/// under an `[observational.tilt]` header). Dotted keys expand to the same paths. It assumes
/// the text already parsed as TOML.
public struct TOMLLocator: Sendable {
    public struct Position: Sendable, Hashable {
        public var line: Int
        public var column: Int
    }

    public private(set) var positions: [String: Position] = [:]

    public init(_ text: String) {
        var bytes = Array(text.utf8)
        // A UTF-8 byte order mark is not part of the first key.
        if UTF8Text.hasByteOrderMark(bytes) { bytes.removeFirst(UTF8Text.byteOrderMark.count) }
        var lexer = Lexer(bytes)
        let tokens = lexer.tokens()
        var walker = Walker(tokens: tokens)
        walker.run()
        positions = walker.positions
    }

    /// Where `path` is, or failing that its nearest recorded ancestor (`a.b[2].c` → `a.b[2]` →
    /// `a.b` → `a`).
    public func position(of path: String) -> Position? {
        var p = Substring(path)
        while !p.isEmpty {
            if let pos = positions[String(p)] { return pos }
            guard let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            p = p[..<cut]
        }
        return nil
    }

    /// `keys` of the table at `path`, in the order they appear in the file (unlocated keys last,
    /// alphabetically).
    public func sortedBySource(_ keys: [String], under path: String) -> [String] {
        func line(_ k: String) -> Int {
            let p = path.isEmpty ? k : "\(path).\(k)"
            return positions[p].map { $0.line * 100_000 + $0.column } ?? Int.max
        }
        return keys.sorted { line($0) != line($1) ? line($0) < line($1) : $0 < $1 }
    }

    enum Kind: Equatable {
        case lbracket, rbracket, lbrace, rbrace, equals, comma, newline
        case string(String)
        case bare(String)
    }

    struct Token {
        var kind: Kind
        var offset: Int
        var position: Position
    }

    struct Lexer {
        let bytes: [UInt8]
        var i = 0
        var line = 1
        var lineStart = 0
        /// A byte offset on the current line whose column is known, so that columns cost
        /// O(line) in total rather than per token (a 1 MB single-line list would otherwise
        /// take minutes).
        var columnCursor = 0
        var columnAtCursor = 1

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        /// Column of byte offset `o` (at or after the previous one asked) on the current line,
        /// counting Unicode scalars.
        mutating func column(_ o: Int) -> Int {
            if o < columnCursor {
                columnCursor = lineStart
                columnAtCursor = 1
            }
            columnAtCursor += UTF8Text.scalarCount(bytes, from: columnCursor, to: o)
            columnCursor = o
            return columnAtCursor
        }

        mutating func newline(at o: Int) {
            line += 1
            lineStart = o + 1
            columnCursor = lineStart
            columnAtCursor = 1
        }

        func peek(_ o: Int) -> UInt8? { o < bytes.count ? bytes[o] : nil }

        mutating func tokens() -> [Token] {
            var out: [Token] = []
            while i < bytes.count {
                let b = bytes[i]
                let start = i
                let pos = Position(line: line, column: column(i))
                func single(_ k: Kind) -> Token { Token(kind: k, offset: start, position: pos) }
                switch b {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                    i += 1
                case UInt8(ascii: "\n"):
                    out.append(single(.newline))
                    newline(at: i)
                    i += 1
                case UInt8(ascii: "#"):
                    while i < bytes.count && bytes[i] != UInt8(ascii: "\n") { i += 1 }
                case UInt8(ascii: "["): out.append(single(.lbracket)); i += 1
                case UInt8(ascii: "]"): out.append(single(.rbracket)); i += 1
                case UInt8(ascii: "{"): out.append(single(.lbrace)); i += 1
                case UInt8(ascii: "}"): out.append(single(.rbrace)); i += 1
                case UInt8(ascii: "="): out.append(single(.equals)); i += 1
                case UInt8(ascii: ","): out.append(single(.comma)); i += 1
                case UInt8(ascii: "\""), UInt8(ascii: "'"):
                    let s = readString(quote: b)
                    out.append(single(.string(s)))
                default:
                    while i < bytes.count && !Lexer.isDelimiter(bytes[i]) { i += 1 }
                    out.append(single(.bare(String(decoding: bytes[start..<i], as: UTF8.self))))
                }
            }
            return out
        }

        static func isDelimiter(_ b: UInt8) -> Bool {
            switch b {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"),
                 UInt8(ascii: "#"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "{"), UInt8(ascii: "}"),
                 UInt8(ascii: "="), UInt8(ascii: ","), UInt8(ascii: "\""), UInt8(ascii: "'"):
                return true
            default:
                return false
            }
        }

        /// Reads a string starting at `i` (on its opening quote); returns its content with
        /// the basic escapes `\"` and `\\` resolved (enough for quoted keys).
        mutating func readString(quote q: UInt8) -> String {
            let basic = q == UInt8(ascii: "\"")
            let multi = peek(i + 1) == q && peek(i + 2) == q
            var content: [UInt8] = []
            i += multi ? 3 : 1
            while i < bytes.count {
                let b = bytes[i]
                if basic && b == UInt8(ascii: "\\") {
                    if let n = peek(i + 1) {
                        if n == UInt8(ascii: "\n") { newline(at: i + 1) }
                        content.append(n == UInt8(ascii: "\"") || n == UInt8(ascii: "\\") ? n : b)
                    }
                    i += 2
                    continue
                }
                if b == q {
                    if !multi {
                        i += 1
                        break
                    }
                    if peek(i + 1) == q && peek(i + 2) == q {
                        // Up to two more quotes may belong to the content: """a"""" is `a"`.
                        var end = i + 3
                        while peek(end) == q && end < i + 5 { end += 1 }
                        content.append(contentsOf: [UInt8](repeating: q, count: end - i - 3))
                        i = end
                        break
                    }
                }
                if b == UInt8(ascii: "\n") {
                    if !multi { break }  // unterminated: cannot happen in valid TOML
                    newline(at: i)
                }
                content.append(b)
                i += 1
            }
            return String(decoding: content, as: UTF8.self)
        }
    }

    struct Walker {
        let tokens: [Token]
        var positions: [String: Position] = [:]
        /// Number of `[[x]]` headers seen per raw dotted name.
        var arrayCounts: [String: Int] = [:]

        init(tokens: [Token]) { self.tokens = tokens }

        mutating func record(_ path: String, _ pos: Position) {
            if positions[path] == nil { positions[path] = pos }
        }

        static func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : "\(a).\(b)" }

        static func keyParts(_ t: Token) -> [String] {
            switch t.kind {
            case .string(let s): return [s]
            case .bare(let s): return s.split(separator: ".", omittingEmptySubsequences: true).map(String.init)
            default: return []
            }
        }

        mutating func run() {
            var table = ""
            var i = 0
            while i < tokens.count {
                let t = tokens[i]
                switch t.kind {
                case .newline, .comma, .rbracket, .rbrace, .lbrace, .equals:
                    i += 1
                case .lbracket:
                    let isArray = i + 1 < tokens.count && tokens[i + 1].kind == .lbracket
                        && tokens[i + 1].offset == t.offset + 1
                    var j = i + (isArray ? 2 : 1)
                    var parts: [String] = []
                    while j < tokens.count, tokens[j].kind != .rbracket, tokens[j].kind != .newline {
                        parts += Walker.keyParts(tokens[j])
                        j += 1
                    }
                    table = resolve(parts, newArrayElement: isArray)
                    record(table, t.position)
                    while j < tokens.count, tokens[j].kind != .newline { j += 1 }
                    i = j
                case .string, .bare:
                    i = keyValue(from: i, in: table, terminators: [.newline])
                }
            }
        }

        /// The path of a header's dotted name, with `[n]` after every array-of-tables prefix.
        mutating func resolve(_ parts: [String], newArrayElement: Bool) -> String {
            var raw = ""
            var path = ""
            for (n, part) in parts.enumerated() {
                raw = Walker.join(raw, part)
                path = Walker.join(path, part)
                if n == parts.count - 1 && newArrayElement {
                    let index = arrayCounts[raw, default: 0]
                    arrayCounts[raw] = index + 1
                    path += "[\(index)]"
                } else if let count = arrayCounts[raw], count > 0 {
                    path += "[\(count - 1)]"
                }
            }
            return path
        }

        /// Reads `key = value` starting at a key token; returns the index after the value.
        mutating func keyValue(from start: Int, in table: String, terminators: [Kind]) -> Int {
            var i = start
            var path = table
            while i < tokens.count, tokens[i].kind != .equals {
                if terminators.contains(tokens[i].kind) { return i }
                for part in Walker.keyParts(tokens[i]) { path = Walker.join(path, part) }
                i += 1
            }
            record(path, tokens[start].position)
            return value(from: i + 1, path: path)
        }

        /// Walks one value starting at `start`, recording list elements and inline-table keys.
        mutating func value(from start: Int, path: String) -> Int {
            var i = start
            while i < tokens.count, tokens[i].kind == .newline { i += 1 }
            guard i < tokens.count else { return i }
            switch tokens[i].kind {
            case .lbracket:
                i += 1
                var index = 0
                while i < tokens.count {
                    switch tokens[i].kind {
                    case .newline, .comma:
                        i += 1
                    case .rbracket:
                        return i + 1
                    default:
                        let element = "\(path)[\(index)]"
                        record(element, tokens[i].position)
                        let next = value(from: i, path: element)
                        i = Swift.max(next, i + 1)
                        index += 1
                    }
                }
                return i
            case .lbrace:
                i += 1
                while i < tokens.count {
                    switch tokens[i].kind {
                    case .newline, .comma:
                        i += 1
                    case .rbrace:
                        return i + 1
                    default:
                        let next = keyValue(from: i, in: path, terminators: [.rbrace, .newline])
                        i = Swift.max(next, i + 1)
                    }
                }
                return i
            default:
                return i + 1
            }
        }
    }
}
