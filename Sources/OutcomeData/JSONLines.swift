import CPOSupport
import Foundation

/// One JSON object of a JSON Lines file, each value kept as written, so that a program can add
/// a key to it and write the rest back unchanged.
public struct JSONObjectLine: Sendable {
    /// A value looked up by key.
    public enum Value: Sendable, Hashable {
        case missing
        case string(String)
        /// Any other JSON value, described ("a number", "an array", "null", ...).
        case other(String)
    }

    /// 1-based line in the file.
    public var line: Int
    /// The keys in the order first written (a repeated key keeps its last value).
    public var keys: [String]
    /// Each key's value as written in the file: valid JSON text.
    public var rawValues: [String: String]
    private var cells: [String: DatasetCell]

    init(line: Int, keys: [String], rawValues: [String: String], cells: [String: DatasetCell]) {
        self.line = line
        self.keys = keys
        self.rawValues = rawValues
        self.cells = cells
    }

    public func value(_ key: String) -> Value {
        switch cells[key] {
        case nil, .missing?: return .missing
        case .string(let s)?: return .string(s)
        case .number?: return .other("a number")
        case .bool?: return .other("a boolean")
        case .null?: return .other("null")
        case .nested(let kind)?: return .other(kind)
        }
    }
}

/// Strict reading of JSON Lines files (one JSON object per line, UTF-8, LF or CRLF; blank lines
/// skipped): unlike a dataset, where a bad record is left out and counted, here the first line
/// that is not a JSON object is an error at its line and column. The parser is the datasets' own.
public enum JSONLines {
    /// The files `read` takes at most, unless told otherwise.
    public static let defaultMaxBytes = 1 << 32

    public static func read(path: String, maxBytes: Int = defaultMaxBytes) throws(InputError) -> [JSONObjectLine] {
        try parse(DatasetLoader.readFile(path, maxBytes: maxBytes), file: path)
    }

    /// The objects of `bytes`, a JSON Lines file named `file` in errors.
    public static func parse(_ bytes: [UInt8], file: String) throws(InputError) -> [JSONObjectLine] {
        var out: [JSONObjectLine] = []
        try forEachLine(bytes, file: file) { line, parser throws(InputError) in
            var keys: [String] = []
            var raw: [String: String] = [:]
            var cells: [String: DatasetCell] = [:]
            do throws(JSONLineParser.Failure) {
                try parser.parseObjectLine { key, cell, range in
                    if cells.updateValue(cell, forKey: key) == nil { keys.append(key) }
                    raw[key] = String(decoding: bytes[range], as: UTF8.self)
                }
            } catch {
                let column = UTF8Text.scalarCount(bytes, from: parser.start, to: error.offset ?? parser.end) + 1
                let isLast = !bytes[parser.end...].contains(CSVBytes.lf)
                throw InputError(
                    file: file, line: line, column: column, message: error.message,
                    hint: isLast && cutOff(error, bytes, end: parser.end)
                        ? "The last line is cut off: the file looks truncated (still being written, or a copy that stopped). Write it again completely."
                        : "Each line must be one complete JSON object, e.g. {\"text\": \"...\"}; fix or remove this line.")
            }
            out.append(JSONObjectLine(line: line, keys: keys, rawValues: raw, cells: cells))
        }
        return out
    }

    /// Calls `body` with the 1-based number and a parser of each line of a JSON Lines file that
    /// is not blank (LF or CRLF; a byte order mark skipped); invalid UTF-8 is an error at its
    /// line and column. The one line loop of JSON Lines datasets and `parse`.
    static func forEachLine(_ bytes: [UInt8], file: String, _ body: (Int, inout JSONLineParser) throws(InputError) -> Void) throws(InputError) {
        let n = bytes.count
        var start = UTF8Text.hasByteOrderMark(bytes) ? UTF8Text.byteOrderMark.count : 0
        var line = 0
        while start < n {
            line += 1
            var end = start
            while end < n && bytes[end] != CSVBytes.lf { end += 1 }
            let next = end + 1
            if end > start && bytes[end - 1] == CSVBytes.cr { end -= 1 }
            if let bad = UTF8Text.firstInvalid(bytes, from: start, to: end) {
                throw CSVBytes.invalidUTF8Error(file: file, line: line, column: UTF8Text.scalarCount(bytes, from: start, to: bad) + 1,
                                                bytes: bytes, at: bad)
            }
            var parser = JSONLineParser(bytes: bytes, start: start, end: end)
            if !parser.isBlank { try body(line, &parser) }
            start = next
        }
    }

    /// Checks that `bytes` hold one JSON object, over any number of lines (a JSON file such as
    /// ghat.json); the error gives the line and column of the first problem, so a decoder that
    /// reports none need only read files that pass.
    public static func checkObject(_ bytes: [UInt8], file: String) throws(InputError) {
        if case .failure(let p) = UTF8Text.decode(bytes) {
            throw CSVBytes.invalidUTF8Error(file: file, line: p.line, column: p.column, bytes: bytes, at: p.offset)
        }
        let start = UTF8Text.hasByteOrderMark(bytes) ? UTF8Text.byteOrderMark.count : 0
        var parser = JSONLineParser(bytes: bytes, start: start, end: bytes.count)
        do throws(JSONLineParser.Failure) {
            try parser.parseObjectLine { _, _, _ in }
        } catch {
            let at = CSVBytes.locate(error.offset ?? bytes.count, in: bytes, lineStart: start, line: 1)
            let message = error.message.replacingOccurrences(of: "the line ends", with: "the file ends")
                .replacingOccurrences(of: "the line is", with: "the file is")
                .replacingOccurrences(of: " (one object per line)", with: "")
            let truncated = cutOff(error, bytes, end: bytes.count)
            throw InputError(file: file, line: at.line, column: at.column, message: message,
                             hint: truncated ? "The file looks cut off: write it again completely." : "The file must be one JSON object.")
        }
    }

    /// Whether a parse failure is what the end of the text cutting a valid value short looks
    /// like: the text ends where more was expected, inside a string, or inside its last word
    /// or number.
    private static func cutOff(_ error: JSONLineParser.Failure, _ b: [UInt8], end: Int) -> Bool {
        guard let at = error.offset else { return true }
        if error.message.hasSuffix("string not closed") { return true }
        return !b[at..<end].contains { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || $0 == UInt8(ascii: ",")
            || $0 == UInt8(ascii: "}") || $0 == UInt8(ascii: "]") || $0 == UInt8(ascii: ":") }
    }
}
