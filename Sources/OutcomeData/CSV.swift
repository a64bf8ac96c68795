import CPOSupport

/// RFC 4180 CSV, read and written by hand.
///
/// Why not a package: we evaluated swiftcsv/SwiftCSV and yaslab/CSV.swift. Neither reports the
/// line and column of a field, which every error message here needs ("data.csv:41:17: ..."), and
/// CSV.swift has `fatalError` paths that malformed input can reach. So this file holds a small
/// streaming reader that tracks the physical line and column of every field, and a writer.
///
/// What the reader accepts:
/// - fields separated by a delimiter (`,` by default; `\t` for TSV), records ended by LF, CRLF or
///   a lone CR; the last record may or may not end with a line break;
/// - quoted fields (`"..."`) holding delimiters, line breaks (kept verbatim, CRLF included) and
///   quotes written twice (`""` → `"`);
/// - a quote inside an *unquoted* field is kept as a literal character (as Python's `csv` does);
///   anything other than a delimiter or line break right after a closing quote is an error;
/// - UTF-8, with or without a byte order mark (the BOM is skipped and not counted as a column);
///   invalid UTF-8 is an error at its line and column; a UTF-16 byte order mark is an error;
/// - blank lines (no characters at all) between records are skipped and are not records.
///
/// Positions: lines are physical lines of the file (1-based; LF, CRLF and a lone CR each end a
/// line, inside quoted fields too), so a record that spans lines reports the line it starts
/// on. Columns are 1-based Unicode scalar positions within the physical line (the opening quote
/// for a quoted field), which is what editors show for "line:column".
public struct CSVField: Sendable, Hashable {
    /// The field's text, unquoted and unescaped.
    public var value: String
    /// Physical line (1-based) where the field starts.
    public var line: Int
    /// Column (1-based, in Unicode scalars) where the field starts: its first character, or
    /// its opening quote when quoted.
    public var column: Int
    /// Whether the field was written in quotes.
    public var quoted: Bool

    public init(value: String, line: Int, column: Int, quoted: Bool = false) {
        self.value = value
        self.line = line
        self.column = column
        self.quoted = quoted
    }
}

/// One record (row) of a CSV file.
public struct CSVRecord: Sendable, Hashable {
    public var fields: [CSVField]
    /// Physical line (1-based) where the record starts.
    public var line: Int

    public init(fields: [CSVField], line: Int) {
        self.fields = fields
        self.line = line
    }

    /// The field values in order.
    public var values: [String] { fields.map(\.value) }
    public var count: Int { fields.count }
    public subscript(index: Int) -> CSVField { fields[index] }
}

/// A streaming RFC 4180 reader over the bytes of a file: call `next()` until it returns nil.
/// Each record comes with the physical line and column of every field (see the file comment).
/// The bytes are never modified.
public struct CSVReader: Sendable {
    /// The file name used in errors.
    public let file: String
    public let delimiter: UInt8
    /// Whether the input started with a UTF-8 byte order mark (which is skipped).
    public let hadByteOrderMark: Bool

    private let bytes: [UInt8]
    private var pos: Int
    private var line = 1
    /// Byte offset where the current physical line starts.
    private var lineStart: Int
    /// A point on the current line whose column is known, so columns cost O(line) in total.
    private var columnCursor: Int
    private var columnAtCursor = 0
    private var spans: [Span] = []

    private struct Span {
        var start: Int, end: Int, line: Int, column: Int, quoted: Bool, escaped: Bool
    }

    public init(bytes: [UInt8], file: String = "<input>", delimiter: UInt8 = UInt8(ascii: ",")) {
        precondition(delimiter != CSVBytes.quote && delimiter != CSVBytes.lf && delimiter != CSVBytes.cr,
                      "the delimiter cannot be a quote or a line break")
        self.file = file
        self.delimiter = delimiter
        self.bytes = bytes
        let bom = UTF8Text.hasByteOrderMark(bytes)
        hadByteOrderMark = bom
        pos = bom ? UTF8Text.byteOrderMark.count : 0
        lineStart = pos
        columnCursor = pos
    }

    public init(text: String, file: String = "<input>", delimiter: UInt8 = UInt8(ascii: ",")) {
        self.init(bytes: Array(text.utf8), file: file, delimiter: delimiter)
    }

    /// True when no further record can be returned.
    public var isAtEnd: Bool {
        var i = pos
        while i < bytes.count, bytes[i] == CSVBytes.lf || bytes[i] == CSVBytes.cr { i += 1 }
        return i >= bytes.count
    }

    /// Reads every remaining record.
    public mutating func readAll() throws(InputError) -> [CSVRecord] {
        var out: [CSVRecord] = []
        while let r = try next() { out.append(r) }
        return out
    }

    /// The next record, or nil at the end of the input. Throws for an unterminated quoted field
    /// (at the line and column where it opened), a character after a closing quote, invalid
    /// UTF-8 (at its line and column) and a UTF-16 file.
    public mutating func next() throws(InputError) -> CSVRecord? {
        let n = bytes.count
        if pos == 0, let e = CSVBytes.utf16Error(bytes, file: file) { throw e }
        // Skip blank lines.
        while pos < n && (bytes[pos] == CSVBytes.lf || bytes[pos] == CSVBytes.cr) { consumeLineBreak() }
        guard pos < n else { return nil }
        let recordStart = pos
        let recordLine = line
        spans.removeAll(keepingCapacity: true)
        var endOfRecord = false
        while !endOfRecord {
            let fieldLine = line
            let fieldColumn = column(at: pos)
            if pos < n && bytes[pos] == CSVBytes.quote {
                pos += 1
                let contentStart = pos
                var escaped = false
                var closed = false
                while pos < n {
                    let b = bytes[pos]
                    if b == CSVBytes.quote {
                        if pos + 1 < n && bytes[pos + 1] == CSVBytes.quote {
                            escaped = true
                            pos += 2
                            continue
                        }
                        closed = true
                        break
                    } else if b == CSVBytes.lf || b == CSVBytes.cr {
                        consumeLineBreak()
                    } else {
                        pos += 1
                    }
                }
                guard closed else {
                    throw InputError(
                        file: file, line: fieldLine, column: fieldColumn,
                        message: "quoted field opened here is never closed (the file ends inside it)",
                        hint: "Close the field with a quote; inside a quoted field write a quote as two quotes (\"\").")
                }
                spans.append(Span(start: contentStart, end: pos, line: fieldLine, column: fieldColumn,
                                  quoted: true, escaped: escaped))
                pos += 1  // the closing quote
                if pos >= n {
                    endOfRecord = true
                } else {
                    let b = bytes[pos]
                    if b == delimiter {
                        pos += 1
                    } else if b == CSVBytes.lf || b == CSVBytes.cr {
                        consumeLineBreak()
                        endOfRecord = true
                    } else {
                        let c = column(at: pos)
                        throw InputError(
                            file: file, line: line, column: c,
                            message: "unexpected \(CSVBytes.describe(bytes, at: pos)) after the closing quote of the field that opened at line \(fieldLine), column \(fieldColumn)",
                            hint: "Inside a quoted field write a quote as two quotes (\"\"); after the closing quote only a delimiter or a line break may follow.")
                    }
                }
            } else {
                let start = pos
                while pos < n {
                    let b = bytes[pos]
                    if b == delimiter || b == CSVBytes.lf || b == CSVBytes.cr { break }
                    pos += 1
                }
                spans.append(Span(start: start, end: pos, line: fieldLine, column: fieldColumn,
                                  quoted: false, escaped: false))
                if pos >= n {
                    endOfRecord = true
                } else if bytes[pos] == delimiter {
                    pos += 1
                } else {
                    consumeLineBreak()
                    endOfRecord = true
                }
            }
        }
        if let bad = UTF8Text.firstInvalid(bytes, from: recordStart, to: pos) {
            let (l, c) = CSVBytes.locate(bad, in: bytes, lineStart: recordStart, line: recordLine)
            throw CSVBytes.invalidUTF8Error(file: file, line: l, column: c, bytes: bytes, at: bad)
        }
        var fields: [CSVField] = []
        fields.reserveCapacity(spans.count)
        for s in spans {
            fields.append(CSVField(value: fieldValue(s), line: s.line, column: s.column, quoted: s.quoted))
        }
        return CSVRecord(fields: fields, line: recordLine)
    }

    private func fieldValue(_ s: Span) -> String {
        if s.start == s.end { return "" }
        if !s.escaped { return String(decoding: bytes[s.start..<s.end], as: UTF8.self) }
        var buf: [UInt8] = []
        buf.reserveCapacity(s.end - s.start)
        var i = s.start
        while i < s.end {
            let b = bytes[i]
            buf.append(b)
            i += b == CSVBytes.quote ? 2 : 1
        }
        return String(decoding: buf, as: UTF8.self)
    }

    /// `pos` is at a CR or LF that ends a line: step over it (CRLF as one) and start a new line.
    private mutating func consumeLineBreak() {
        if bytes[pos] == CSVBytes.cr {
            pos += 1
            if pos < bytes.count && bytes[pos] == CSVBytes.lf { pos += 1 }
        } else {
            pos += 1
        }
        newLine()
    }

    /// A line break was just consumed; `pos` is the first byte of the new line.
    private mutating func newLine() {
        line += 1
        lineStart = pos
        columnCursor = pos
        columnAtCursor = 0
    }

    /// 1-based column of byte `offset`, which lies on the current line at or after the cursor.
    private mutating func column(at offset: Int) -> Int {
        if offset < columnCursor {
            columnCursor = lineStart
            columnAtCursor = 0
        }
        columnAtCursor += UTF8Text.scalarCount(bytes, from: columnCursor, to: offset)
        columnCursor = offset
        return columnAtCursor + 1
    }
}

/// Writes RFC 4180 CSV: fields holding a comma, quote, CR or LF are quoted (quotes doubled),
/// records end with "\n", no byte order mark. The output depends only on the values written,
/// so a sampled dataset is reproducible byte for byte.
///
/// Numbers: `CSVWriter.format(_:)` writes a Double as Swift's `description` — the shortest
/// decimal that reads back to the same Double (e.g. `0.1`, `1.0`, `1e-05`, `-0.0`), which does
/// not depend on locale or platform. Non-finite values come out as `nan`/`inf`/`-inf`, which
/// `DatasetLoader` rejects as bad rows, so do not write them into datasets.
public struct CSVWriter: Sendable {
    public let delimiter: Character
    /// The text written so far.
    public private(set) var text: String = ""
    public private(set) var recordCount = 0

    public init(delimiter: Character = ",") {
        precondition(delimiter != "\"" && delimiter != "\n" && delimiter != "\r",
                     "the delimiter cannot be a quote or a line break")
        self.delimiter = delimiter
    }

    /// Starts a document whose first record is `header`.
    public init(header: [String], delimiter: Character = ",") {
        self.init(delimiter: delimiter)
        writeRecord(header)
    }

    /// Appends one record. A record with a single empty field is written as `""` so that it is
    /// not a blank line (which readers skip).
    public mutating func writeRecord(_ fields: [String]) {
        if fields.count == 1 && fields[0].isEmpty {
            text += "\"\"\n"
        } else {
            var first = true
            for f in fields {
                if !first { text.append(delimiter) }
                first = false
                text += escape(f)
            }
            text += "\n"
        }
        recordCount += 1
    }

    /// The document as UTF-8 bytes (for `AtomicFile.write`).
    public var bytes: [UInt8] { Array(text.utf8) }

    /// `field` as it appears in the file: quoted (with quotes doubled) when it holds the
    /// delimiter, a quote, CR or LF; otherwise unchanged.
    public func escape(_ field: String) -> String {
        var needsQuotes = false
        for c in field.unicodeScalars where c == "\"" || c == "\n" || c == "\r" || Character(c) == delimiter {
            needsQuotes = true
            break
        }
        guard needsQuotes else { return field }
        var out = "\""
        for c in field.unicodeScalars {
            if c == "\"" { out += "\"\"" } else { out.unicodeScalars.append(c) }
        }
        out += "\""
        return out
    }

    /// A Double as written in datasets: the shortest round-trip decimal (`"\(x)"`).
    public static func format(_ x: Double) -> String { "\(x)" }

    /// An integer as written in datasets.
    public static func format(_ x: Int) -> String { String(x) }
}

/// Byte-level helpers shared by the CSV and JSON Lines readers.
enum CSVBytes {
    static let quote = UInt8(ascii: "\"")
    static let lf = UInt8(ascii: "\n")
    static let cr = UInt8(ascii: "\r")
    static let comma = UInt8(ascii: ",")
    static let tab = UInt8(ascii: "\t")

    /// An error for input that starts with a UTF-16 byte order mark.
    static func utf16Error(_ b: [UInt8], file: String) -> InputError? {
        guard b.count >= 2, (b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF) else { return nil }
        let which = b[0] == 0xFF ? "UTF-16 little-endian" : "UTF-16 big-endian"
        return InputError(file: file, line: 1, column: 1,
                          message: "the file is \(which) (it starts with a UTF-16 byte order mark), not UTF-8",
                          hint: "Save or export the file as UTF-8.")
    }

    /// Whether the input holds nothing but a byte order mark and whitespace.
    static func isBlank(_ b: [UInt8]) -> Bool {
        var i = UTF8Text.hasByteOrderMark(b) ? UTF8Text.byteOrderMark.count : 0
        while i < b.count {
            switch b[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return false
            }
        }
        return true
    }

    /// Line and column of byte `offset`, counting from `lineStart`, the first byte of physical
    /// line `line` (LF, CRLF and a lone CR each end a line).
    static func locate(_ offset: Int, in b: [UInt8], lineStart: Int, line: Int) -> (line: Int, column: Int) {
        var l = line
        var start = lineStart
        var i = lineStart
        while i < offset {
            if b[i] == lf {
                l += 1
                start = i + 1
            } else if b[i] == cr {
                if i + 1 < b.count && b[i + 1] == lf { i += 1 }
                l += 1
                start = i + 1
            }
            i += 1
        }
        return (l, UTF8Text.scalarCount(b, from: start, to: offset) + 1)
    }

    static func invalidUTF8Error(file: String, line: Int, column: Int, bytes: [UInt8], at offset: Int) -> InputError {
        let shown = Hex.bytes(bytes[offset..<min(bytes.count, offset + UTF8Text.shownBytes)])
        return InputError(file: file, line: line, column: column,
                          message: "invalid UTF-8 (bytes \(shown))",
                          hint: "Save the file as UTF-8; if it came from Excel or another tool, re-export it choosing UTF-8 encoding.")
    }

    /// A short description of the character at `offset`, for error messages.
    static func describe(_ b: [UInt8], at offset: Int) -> String {
        let c = b[offset]
        if c >= 0x21 && c < 0x7F { return "'\(Character(UnicodeScalar(c)))'" }
        if c == 0x20 { return "space" }
        if c == 0x09 { return "tab" }
        return "byte \(Hex.byte(c))"
    }
}
