import CPOSupport
import TOMLKit

/// A TOML file read, checked and parsed, with the positions TOMLKit does not keep.
public struct TOMLDocument {
    /// The file as the user named it, for messages.
    public let file: String
    /// The parsed top-level table.
    public let root: TOMLTable
    /// Where every key, table header and list element is in the text.
    public let locator: TOMLLocator

    /// Where `path` (`design.passages[1]`, `roles.text.fg`) is, or failing that its nearest
    /// recorded ancestor.
    public func position(of path: String) -> TOMLLocator.Position? { locator.position(of: path) }

    /// The first key of `table` that is not in `allowed`, in the order of the file, and its
    /// full path; nil when every key is allowed. `path` is the table's own path ("" for the
    /// top level).
    public func firstUnknownKey(in table: TOMLTable, at path: String, allowed: [String]) -> (key: String, path: String)? {
        let unknown = table.keys.filter { !allowed.contains($0) }
        guard let key = locator.sortedBySource(unknown, under: path).first else { return nil }
        return (key, path.isEmpty ? key : "\(path).\(key)")
    }
}

/// Why a file could not be made a `TOMLDocument`. Each format (worlds, themes) says it to its
/// users in its own words (`TOMLFileFormat.failure(_:)`).
public struct TOMLFileError: Error, Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        /// Missing, a directory, unreadable, or over the size limit.
        case unreadable(BoundedFileError)
        /// Not UTF-8 text.
        case notUTF8(UTF8Text.Problem)
        /// Text that toml++ would cut short or crash on (see `TOMLGuard`).
        case refused(TOMLGuard.Problem)
        /// A TOML syntax error: TOMLKit's description.
        case syntax(String)
        /// TOMLKit failed without a parse error.
        case unparsable
    }

    public var file: String
    public var reason: Reason
    /// 1-based line and column (Unicode scalars) of the problem, when it has a place.
    public var line: Int?
    public var column: Int?

    public init(file: String, reason: Reason, line: Int? = nil, column: Int? = nil) {
        self.file = file
        self.reason = reason
        self.line = line
        self.column = column
    }
}

/// The one loading path of cpo-tui's TOML files: read at most a limit of bytes
/// (`BoundedFile`), refuse invalid UTF-8 at its line and column (`UTF8Text`), drop a byte
/// order mark, refuse what toml++ cannot take (`TOMLGuard`), parse with TOMLKit (its syntax
/// errors keep their line and column), and index the positions of the text (`TOMLLocator`).
public enum TOMLFile {
    /// Reads and parses the file at `path`; one larger than `maxBytes` is refused from its
    /// size, without being read.
    public static func load(path: String, maxBytes: Int) throws(TOMLFileError) -> TOMLDocument {
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(path: path, maxBytes: maxBytes)
        } catch {
            throw TOMLFileError(file: path, reason: .unreadable(error))
        }
        return try parse(bytes: bytes, file: path)
    }

    /// Parses the bytes of a file, as `load` does after reading them.
    public static func parse(bytes: [UInt8], file: String) throws(TOMLFileError) -> TOMLDocument {
        switch UTF8Text.decode(bytes) {
        case .success(let text):
            return try parse(text, file: file)
        case .failure(let p):
            throw TOMLFileError(file: file, reason: .notUTF8(p), line: p.line, column: p.column)
        }
    }

    /// Parses the text of a file; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(TOMLFileError) -> TOMLDocument {
        var source = text
        if source.hasPrefix("\u{FEFF}") { source.removeFirst() }
        if let p = TOMLGuard.check(source) {
            throw TOMLFileError(file: file, reason: .refused(p), line: p.line, column: p.column)
        }
        let root: TOMLTable
        do {
            root = try TOMLTable(string: source)
        } catch let e as TOMLParseError {
            throw TOMLFileError(file: file, reason: .syntax(e.description), line: e.source.begin.line,
                                column: e.source.begin.column)
        } catch {
            throw TOMLFileError(file: file, reason: .unparsable)
        }
        return TOMLDocument(file: file, root: root, locator: TOMLLocator(source))
    }
}

/// A kind of TOML file (a world, a theme): its size limit, how it words file problems for its
/// users, and how it reads a parsed document. Every format gets the same three entry points,
/// `load(path:)`, `parse(bytes:file:)` and `parse(_:file:)`, all going through `TOMLFile`.
public protocol TOMLFileFormat {
    associatedtype Failure: Error
    /// Files larger than this are refused from their size, before they are read.
    static var maxFileBytes: Int { get }
    /// A problem reading or parsing the file, in the format's words.
    static func failure(_ error: TOMLFileError) -> Failure
    /// Checks a parsed file against the format and builds the value.
    init(document: TOMLDocument) throws(Failure)
}

extension TOMLFileFormat {
    /// Reads, parses and checks the file at `path`; one larger than `maxFileBytes` is refused
    /// from its size, without being read.
    public static func load(path: String) throws(Failure) -> Self {
        try make { () throws(TOMLFileError) in try TOMLFile.load(path: path, maxBytes: maxFileBytes) }
    }

    /// Parses and checks the bytes of a file, as `load(path:)` does after reading them.
    public static func parse(bytes: [UInt8], file: String) throws(Failure) -> Self {
        try make { () throws(TOMLFileError) in try TOMLFile.parse(bytes: bytes, file: file) }
    }

    /// Parses and checks the text of a file; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(Failure) -> Self {
        try make { () throws(TOMLFileError) in try TOMLFile.parse(text, file: file) }
    }

    private static func make(_ document: () throws(TOMLFileError) -> TOMLDocument) throws(Failure) -> Self {
        let d: TOMLDocument
        do {
            d = try document()
        } catch {
            throw failure(error)
        }
        // TOMLKit never frees a parsed table (TOMLTable has no deinit): without this, every
        // file read leaked its whole tree (a world file about 50 KB; found by the soak test,
        // scripts/soak.sh). The value is built from the document and keeps no part of it.
        defer { d.root.clear() }
        return try Self(document: d)
    }
}
