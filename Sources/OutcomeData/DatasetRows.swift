import Foundation

/// A raw value read from a CSV field or a JSON key, before it is interpreted.
enum DatasetCell {
    /// The JSON key is absent.
    case missing
    case null
    /// A CSV field, or a JSON string.
    case string(String)
    /// A JSON number, as written.
    case number(String)
    case bool(Bool)
    /// A JSON array or object ("an array" / "an object").
    case nested(String)
}

/// Interpreting cell text as numbers, booleans and split names.
enum DatasetValue {
    enum Number: Equatable {
        case value(Double, fromBool: Bool)
        case bad(String)
    }

    /// Longest raw value quoted in a reason.
    static func show(_ s: String) -> String {
        let limit = 40
        let trimmed = s.count > limit ? String(s.prefix(limit)) + "…" : s
        return "'" + trimmed.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r") + "'"
    }

    static func trimmed(_ s: String) -> Substring {
        var sub = Substring(s)
        while let f = sub.utf8.first, f == 0x20 || f == 0x09 { sub = sub.dropFirst() }
        while let l = sub.utf8.last, l == 0x20 || l == 0x09 { sub = sub.dropLast() }
        return sub
    }

    /// Parses a number written as text: surrounding spaces/tabs allowed; "1e3", "-0.5", "+2";
    /// rejects empty, non-numeric and non-finite ("nan", "inf", "1e999") values. With
    /// `allowBool`, "true"/"false" (any case) read as 1/0.
    static func number(_ raw: String, allowBool: Bool) -> Number {
        let t = trimmed(raw)
        if t.isEmpty { return .bad("empty, expected a number") }
        if let first = t.utf8.first, first == UInt8(ascii: "t") || first == UInt8(ascii: "T")
            || first == UInt8(ascii: "f") || first == UInt8(ascii: "F") {
            let lower = t.lowercased()
            if lower == "true" || lower == "false" {
                if allowBool { return .value(lower == "true" ? 1 : 0, fromBool: true) }
                return .bad("\(show(raw)) is a boolean, expected a number")
            }
        }
        guard let v = Double(t) else { return .bad("\(show(raw)) is not a number") }
        guard v.isFinite else { return .bad("\(show(raw)) is not finite") }
        return .value(v, fromBool: false)
    }

    /// A cell as a number (see `number(_:allowBool:)`); JSON numbers and, with `allowBool`,
    /// JSON booleans are accepted too.
    static func number(_ cell: DatasetCell, key: String, allowBool: Bool) -> Number {
        switch cell {
        case .string(let s): return number(s, allowBool: allowBool)
        case .number(let s):
            guard let v = Double(s) else { return .bad("\(show(s)) is not a number") }
            guard v.isFinite else { return .bad("\(show(s)) is not finite") }
            return .value(v, fromBool: false)
        case .bool(let b):
            if allowBool { return .value(b ? 1 : 0, fromBool: true) }
            return .bad("\(b) is a boolean, expected a number")
        case .missing: return .bad("no key '\(key)'")
        case .null: return .bad("null, expected a number")
        case .nested(let what): return .bad("\(what), expected a number")
        }
    }

    /// Split names accepted in a split column (lower-cased, trimmed).
    static let splitNames: [String: DataSplit.Part] = [
        "train": .train, "training": .train,
        "eval": .eval, "evaluation": .eval, "test": .eval, "testing": .eval,
        "valid": .validation, "validation": .validation, "val": .validation, "dev": .validation,
    ]

    static func splitPart(_ cell: DatasetCell, key: String) -> Result<DataSplit.Part, BadRowReason> {
        switch cell {
        case .string(let s):
            if let p = splitNames[trimmed(s).lowercased()] { return .success(p) }
            return .failure(BadRowReason(
                "\(show(s)) is not a split name (use train, eval/test, or validation/valid/dev)"))
        case .missing: return .failure(BadRowReason("no key '\(key)'"))
        case .null: return .failure(BadRowReason("null, expected a split name"))
        case .number(let s): return .failure(BadRowReason("\(s) is a number, expected a split name"))
        case .bool(let b): return .failure(BadRowReason("\(b) is a boolean, expected a split name"))
        case .nested(let what): return .failure(BadRowReason("\(what), expected a split name"))
        }
    }
}

struct BadRowReason: Error {
    var text: String
    init(_ text: String) { self.text = text }
}

/// Accumulates rows and bad rows while a file is read, then decides the outcome kind and
/// applies the bad-row limit.
struct DatasetRowBuilder {
    let file: String
    let source: String
    let options: LoadOptions
    private(set) var rows: [OutcomeRow] = []
    private(set) var totalRecords = 0
    private(set) var badCount = 0
    private var firstBad: [BadRow] = []
    /// Indices into `rows` whose outcome was written as true/false.
    private var boolRows: [Int] = []
    private var allIn01 = true
    private var allInPlusMinus1 = true
    /// First outcome not in {-1, 0, 1}, and the first 0 and -1, for the forced-binary error.
    private var firstOutside: (line: Int, value: Double)?
    private var firstZeroLine: Int?
    private var firstMinusOneLine: Int?

    init(file: String, source: String, options: LoadOptions) {
        self.file = file
        self.source = source
        self.options = options
    }

    mutating func bad(line: Int, column: String?, reason: String) {
        totalRecords += 1
        badCount += 1
        if firstBad.count < OutcomeDataset.badRowsKept {
            firstBad.append(BadRow(line: line, column: column, reason: reason))
        }
    }

    /// Interprets one record; `cell(name)` gives the raw value of a named column.
    mutating func add(line: Int, cell: (String) -> DatasetCell) {
        let c = options.columns
        // Text.
        let text: String
        switch cell(c.text) {
        case .string(let s):
            if s.allSatisfy(\.isWhitespace) {
                bad(line: line, column: c.text, reason: "the text is empty")
                return
            }
            text = s
        case .missing: bad(line: line, column: c.text, reason: "no key '\(c.text)'"); return
        case .null: bad(line: line, column: c.text, reason: "the text is null"); return
        case .number(let s): bad(line: line, column: c.text, reason: "\(s) is a number, expected a text string"); return
        case .bool(let b): bad(line: line, column: c.text, reason: "\(b) is a boolean, expected a text string"); return
        case .nested(let what): bad(line: line, column: c.text, reason: "\(what), expected a text string"); return
        }
        // Outcome.
        let outcome: Double
        let outcomeFromBool: Bool
        switch DatasetValue.number(cell(c.outcome), key: c.outcome, allowBool: true) {
        case .bad(let r): bad(line: line, column: c.outcome, reason: r); return
        case let .value(v, fromBool): outcome = v; outcomeFromBool = fromBool
        }
        // Propensity.
        var logPropensity: Double?
        if let p = c.propensity {
            switch DatasetValue.number(cell(p), key: p, allowBool: false) {
            case .bad(let r): bad(line: line, column: p, reason: r); return
            case .value(let v, _):
                switch c.propensityScale {
                case .probability:
                    guard v > 0 && v <= 1 else {
                        bad(line: line, column: p, reason: "\(v) is not a probability in (0, 1]"
                            + (v < 0 ? " (if the column holds log-probabilities, set the propensity scale to log)" : ""))
                        return
                    }
                    logPropensity = log(v)
                case .logProbability:
                    guard v <= 0 else {
                        bad(line: line, column: p, reason: "\(v) is positive, but a log-probability must be ≤ 0"
                            + (v <= 1 ? " (if the column holds probabilities, set the propensity scale to probability)" : ""))
                        return
                    }
                    logPropensity = v
                }
            }
        }
        // Trait.
        var trait: Double?
        if let t = c.trait {
            switch DatasetValue.number(cell(t), key: t, allowBool: false) {
            case .bad(let r): bad(line: line, column: t, reason: r); return
            case .value(let v, _): trait = v
            }
        }
        // Split.
        var part: DataSplit.Part?
        if let s = c.split {
            switch DatasetValue.splitPart(cell(s), key: s) {
            case .failure(let r): bad(line: line, column: s, reason: r.text); return
            case .success(let p): part = p
            }
        }
        // Attributes.
        var attributes: [Double] = []
        if !c.attributes.isEmpty {
            attributes.reserveCapacity(c.attributes.count)
            for a in c.attributes {
                switch DatasetValue.number(cell(a), key: a, allowBool: true) {
                case .bad(let r): bad(line: line, column: a, reason: r); return
                case .value(let v, _): attributes.append(v)
                }
            }
        }
        // True value.
        var trueValue: Double?
        if let tv = c.trueValue {
            switch DatasetValue.number(cell(tv), key: tv, allowBool: false) {
            case .bad(let r): bad(line: line, column: tv, reason: r); return
            case .value(let v, _): trueValue = v
            }
        }

        totalRecords += 1
        if outcomeFromBool { boolRows.append(rows.count) }
        if outcome != 0 && outcome != 1 { allIn01 = false }
        if outcomeFromBool || (outcome != -1 && outcome != 1) { allInPlusMinus1 = false }
        if !outcomeFromBool {
            if outcome == 0 {
                if firstZeroLine == nil { firstZeroLine = line }
            } else if outcome == -1 {
                if firstMinusOneLine == nil { firstMinusOneLine = line }
            } else if outcome != 1, firstOutside == nil {
                firstOutside = (line, outcome)
            }
        }
        rows.append(OutcomeRow(text: text, outcome: outcome, logPropensity: logPropensity, trait: trait,
                               split: part, attributes: attributes, trueValue: trueValue, line: line))
    }

    /// Decides the outcome kind, maps binary outcomes to 0/1, applies the bad-row limit.
    consuming func finish() throws(InputError) -> OutcomeDataset {
        let c = options.columns
        let detectedBinary = allIn01 || allInPlusMinus1
        let kind: OutcomeKind
        switch options.outcomeKind {
        case .binary?:
            guard detectedBinary else {
                let message: String
                if let (l, v) = firstOutside {
                    message = "the outcome is set to binary, but line \(l) has \(v)"
                } else if !boolRows.isEmpty, let l = firstMinusOneLine {
                    message = "the outcome is set to binary, but it mixes true/false with -1 (line \(l))"
                } else {
                    message = "the outcome is set to binary, but it mixes 0 (line \(firstZeroLine ?? 0)) and -1 (line \(firstMinusOneLine ?? 0))"
                }
                throw InputError(file: file, line: firstOutside?.line ?? firstMinusOneLine, field: c.outcome, message: message,
                                 hint: "Binary outcomes must all be in {0,1}, all in {-1,1} or all true/false. Check the column (\(DatasetColumns.Flag.outcome)) or treat the outcome as continuous.")
            }
            kind = .binary
        case .continuous?:
            kind = .continuous
        case nil:
            kind = detectedBinary ? .binary : .continuous
        }

        if kind == .binary {
            if !allIn01 {  // {-1, 1}
                for i in rows.indices { rows[i].outcome = rows[i].outcome > 0 ? 1 : 0 }
            }
        } else if !boolRows.isEmpty {
            // true/false among numbers that are not binary: those rows are not usable.
            let why = options.outcomeKind == .continuous
                ? "expected a number (the outcome is set to continuous)"
                : "expected a number (the other outcomes are not binary)"
            var extra: [BadRow] = []
            var drop = Set<Int>()
            for i in boolRows {
                drop.insert(i)
                badCount += 1
                if extra.count < OutcomeDataset.badRowsKept {
                    extra.append(BadRow(line: rows[i].line, column: c.outcome,
                                        reason: "'\(rows[i].outcome == 1 ? "true" : "false")' is a boolean, " + why))
                }
            }
            firstBad = Array((firstBad + extra).sorted { $0.line < $1.line }.prefix(OutcomeDataset.badRowsKept))
            rows = rows.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
        }

        let fraction = totalRecords == 0 ? 0 : Double(badCount) / Double(totalRecords)
        if badCount > 0 && (fraction > options.maxBadFraction || rows.isEmpty) {
            let list = firstBad.map(\.description).joined(separator: "; ")
            let more = badCount > firstBad.count ? "; and \(badCount - firstBad.count) more" : ""
            let suggestion = DatasetLoader.suggestedLimit(above: fraction)
            let hint = rows.isEmpty
                ? "No row is usable: check that \(DatasetColumns.Flag.text) and \(DatasetColumns.Flag.outcome) name the right columns, then fix the file."
                : "Fix or remove these rows, or allow more bad rows with \(DatasetColumns.Flag.maxBadFraction) \(suggestion) (now \(DatasetLoader.decimal(options.maxBadFraction)))."
            throw InputError(
                file: file, line: firstBad.first?.line,
                message: "\(badCount) of \(totalRecords) rows (\(DatasetLoader.percent(fraction))) are unusable, "
                    + "more than the limit of \(DatasetLoader.percent(options.maxBadFraction)): \(list)\(more)",
                hint: hint)
        }

        return OutcomeDataset(source: source, columns: c, outcomeKind: kind,
                              higherIsBetter: options.higherIsBetter, rows: rows,
                              totalRecords: totalRecords, badRowCount: badCount, firstBadRows: firstBad)
    }
}
