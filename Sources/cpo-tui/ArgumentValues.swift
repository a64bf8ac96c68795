import ArgumentParser
import CausalPO
import Lab
import OutcomeData

// Options with a fixed set of values are the library's own enums, parsed by ArgumentParser:
// `--help` lists the values, and a bad one is refused with ArgumentParser's standard message
// (naming the option and the values) before any work starts. The raw values are the names.

extension WorldDesign: ExpressibleByArgument {}
extension GhatSource: ExpressibleByArgument {}
extension PropensitySource: ExpressibleByArgument {}
extension OutcomeKind: ExpressibleByArgument {}
extension DatasetFormat: ExpressibleByArgument {}
extension Method: ExpressibleByArgument {}

extension PropensityScale: ExpressibleByArgument {
    /// `log-probability` on the command line; the raw value `logProbability` (what saved
    /// configurations hold) is accepted too.
    public init?(argument: String) {
        guard let scale = PropensityScale.allCases.first(where: { $0.defaultValueDescription == argument })
            ?? PropensityScale(rawValue: argument) else { return nil }
        self = scale
    }

    public var defaultValueDescription: String {
        switch self {
        case .probability: return "probability"
        case .logProbability: return "log-probability"
        }
    }

    public static var allValueStrings: [String] { allCases.map(\.defaultValueDescription) }
    /// The command-line names need no further description in `--help`.
    public static var allValueDescriptions: [String: String] { [:] }
}

/// `--methods`: method names separated by commas (`FT,CPO,DR-CPO`), each one of `Method`'s.
struct MethodList: ExpressibleByArgument {
    var methods: [Method]

    init(_ methods: [Method]) { self.methods = methods }

    init?(argument: String) {
        var methods: [Method] = []
        for name in argument.split(separator: ",") {
            guard let m = Method(rawValue: name.trimmingCharacters(in: .whitespaces)) else { return nil }
            methods.append(m)
        }
        self.methods = methods
    }

    var defaultValueDescription: String { methods.map(\.rawValue).joined(separator: ",") }
    static var allValueStrings: [String] { Method.allValueStrings }
}

/// Where the f0 samples start: `--f0-from-scratch` (the default) or `--f0-from-prefixes`.
enum F0Start: String, EnumerableFlag {
    case f0FromScratch, f0FromPrefixes

    static func help(for value: F0Start) -> ArgumentHelp? {
        switch value {
        case .f0FromScratch: return "Draw f0 samples from scratch (the default: their importance ratio is exact)."
        case .f0FromPrefixes:
            return "Draw f0 samples as continuations of truncated training texts (the paper's choice: their importance ratio is approximate)."
        }
    }
}
