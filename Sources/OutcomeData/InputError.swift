/// A problem with something the user gave us (a dataset, a world file): where it is, what is
/// wrong, and what to do. Every loader in OutcomeData throws this, so the command line can
/// print it the same way and exit non-zero.
public struct InputError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file as the user named it.
    public var file: String
    /// 1-based line, when the problem has one.
    public var line: Int?
    /// 1-based character column within the line, when known.
    public var column: Int?
    /// The dataset column or TOML key involved, when there is one (e.g. "outcome", "design.passages").
    public var field: String?
    /// What is wrong, as a sentence fragment without a trailing period.
    public var message: String
    /// What the user should do about it.
    public var hint: String

    public init(file: String, line: Int? = nil, column: Int? = nil, field: String? = nil,
                message: String, hint: String) {
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message
        self.hint = hint
    }

    /// `file:line:column: message (field 'x'). hint` — the compiler-style location editors jump to.
    public var description: String {
        var loc = file
        if let line {
            loc += ":\(line)"
            if let column { loc += ":\(column)" }
        }
        var s = "\(loc): \(message)"
        if let field { s += " (\(field))" }
        s += "."
        if !hint.isEmpty { s += " " + hint }
        return s
    }
}
