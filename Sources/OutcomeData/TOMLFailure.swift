import CPOSupport
import TOMLSupport

/// What a kind of TOML file (a world, a config) tells the user when it cannot be read or parsed:
/// its name in messages and the hint for each problem. `InputError.init(_:as:)` turns a
/// `TOMLFileError` into the error in these words, so every such file reports problems alike.
public struct TOMLFileWording: Sendable {
    /// "world file", "config file".
    public var noun: String
    public var notFound: String
    public var isDirectory: String
    public var tooLarge: String
    public var unreadable: String
    public var nul: String
    public var tooDeep: String
    public var syntax: String
    public var unparsable: String

    public init(noun: String, notFound: String, isDirectory: String, tooLarge: String, unreadable: String, nul: String,
                tooDeep: String, syntax: String, unparsable: String) {
        self.noun = noun
        self.notFound = notFound
        self.isDirectory = isDirectory
        self.tooLarge = tooLarge
        self.unreadable = unreadable
        self.nul = nul
        self.tooDeep = tooDeep
        self.syntax = syntax
        self.unparsable = unparsable
    }
}

extension InputError {
    /// A problem reading a TOML file or parsing it, at its position, in `wording`'s words.
    public init(_ e: TOMLFileError, as wording: TOMLFileWording) {
        let noun = wording.noun
        func at(_ message: String, _ hint: String) -> InputError {
            InputError(file: e.file, line: e.line, column: e.column, message: message, hint: hint)
        }
        switch e.reason {
        case .unreadable(let error):
            switch error {
            case .notFound: self = at("cannot read the \(noun): file not found", wording.notFound)
            case .isDirectory: self = at("cannot read the \(noun): it is a directory", wording.isDirectory)
            case let .tooLarge(_, size, limit):
                self = at("the \(noun) is \(BoundedFile.describeSize(size)), more than the limit of \(BoundedFile.describeSize(limit))",
                          wording.tooLarge)
            case .cannotAccess(_, let reason), .cannotOpen(_, let reason), .readFailed(_, let reason):
                self = at("cannot read the \(noun): \(reason)", wording.unreadable)
            case .notRegular: self = at("cannot read the \(noun): \(error.problem)", wording.isDirectory)
            case .symlinkLoop: self = at("cannot read the \(noun): \(error.problem)", wording.unreadable)
            case .changedWhileReading:
                self = at("cannot read the \(noun): \(error.problem)", "Another program is writing it: wait until it has finished.")
            }
        case .notUTF8(let p):
            self = at("the \(noun) is not valid UTF-8 text: \(p)", "Save it as UTF-8.")
        case .refused(let p):
            switch p.kind {
            case .nul: self = at("the \(noun) contains a NUL character, which TOML does not allow", wording.nul)
            case .escapedNUL:
                self = at("a string holds \\u0000 (a NUL character), which a \(noun) cannot hold", "Remove the \\u0000 escape.")
            case .tooDeep: self = at(p.message, wording.tooDeep)
            case .headerName, .arrayElement, .dateTime: self = at("TOML syntax error: \(p.message)", wording.syntax)
            }
        case .syntax(let description):
            self = at("TOML syntax error: \(description)", wording.syntax)
        case .unparsable:
            self = at("cannot parse the \(noun) as TOML", wording.unparsable)
        }
    }
}
