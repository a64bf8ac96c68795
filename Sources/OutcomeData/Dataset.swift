import Foundation

/// How outcomes are measured.
public enum OutcomeKind: String, Sendable, Codable, CaseIterable {
    /// Any finite number.
    case continuous
    /// Two values, stored as 0 and 1 (read from {0,1}, {-1,1} or {false,true}).
    case binary
}

/// How a propensity column is written.
public enum PropensityScale: String, Sendable, Codable, CaseIterable {
    /// A probability in (0, 1].
    case probability
    /// A natural-log probability, ≤ 0.
    case logProbability
}

/// File formats the loader reads.
public enum DatasetFormat: String, Sendable, Codable, CaseIterable {
    /// RFC 4180 comma-separated values.
    case csv
    /// The same, separated by tabs (quoting rules as for CSV).
    case tsv
    /// JSON Lines: one JSON object per line.
    case jsonl

    /// The format implied by a file name's extension (case-insensitive): `.csv`, `.tsv`,
    /// `.jsonl` or `.ndjson`; nil for anything else.
    public static func fromExtension(of path: String) -> DatasetFormat? {
        let ext = (path as NSString).pathExtension.lowercased()
        switch ext {
        case "csv": return .csv
        case "tsv", "tab": return .tsv
        case "jsonl", "ndjson": return .jsonl
        default: return nil
        }
    }
}

/// Which columns (CSV header names, or JSON keys) hold what.
public struct DatasetColumns: Sendable, Hashable, Codable {
    /// The text (required).
    public var text: String
    /// The reader's response (required).
    public var outcome: String
    /// The known probability `P^R(x)` of each text, or its log (see `propensityScale`).
    public var propensity: String?
    public var propensityScale: PropensityScale
    /// A numeric reader covariate (an observed confounder).
    public var trait: String?
    /// Train / evaluation assignment ("train", or "eval"/"test"/"valid"/"validation"/"dev").
    public var split: String?
    /// Numeric (usually 0/1) attribute columns, as simulated worlds write them.
    public var attributes: [String]
    /// A numeric column with the true expected outcome of the text (worlds write "true_value").
    public var trueValue: String?

    public init(text: String = "text", outcome: String = "outcome", propensity: String? = nil,
                propensityScale: PropensityScale = .probability, trait: String? = nil,
                split: String? = nil, attributes: [String] = [], trueValue: String? = nil) {
        self.text = text
        self.outcome = outcome
        self.propensity = propensity
        self.propensityScale = propensityScale
        self.trait = trait
        self.split = split
        self.attributes = attributes
        self.trueValue = trueValue
    }

    /// The command-line flag that names each column, used in error hints.
    public enum Flag {
        public static let text = "--text"
        public static let outcome = "--outcome"
        public static let propensity = "--propensity-column"
        public static let trait = "--trait"
        public static let split = "--split"
        public static let attributes = "--attributes"
        public static let trueValue = "--true-value"
        public static let maxBadFraction = "--max-bad-fraction"
        public static let maxFileMB = "--max-file-mb"
        public static let format = "--format"
        public static let outcomeKind = "--outcome-kind"
        public static let propensityScale = "--propensity-scale"
    }

    /// Every column named, with its flag, in a fixed order: text, outcome, propensity, trait,
    /// split, attributes, true value.
    var named: [(name: String, flag: String)] {
        var out: [(String, String)] = [(text, Flag.text), (outcome, Flag.outcome)]
        if let propensity { out.append((propensity, Flag.propensity)) }
        if let trait { out.append((trait, Flag.trait)) }
        if let split { out.append((split, Flag.split)) }
        for a in attributes { out.append((a, Flag.attributes)) }
        if let trueValue { out.append((trueValue, Flag.trueValue)) }
        return out
    }
}

/// Options for `DatasetLoader`.
public struct LoadOptions: Sendable, Hashable, Codable {
    public var columns: DatasetColumns
    /// Whether larger outcomes are better (stored on the dataset; values are not changed).
    public var higherIsBetter: Bool
    /// nil = detect: binary when every outcome is in {0,1}, every one in {-1,1}, or every one
    /// in {true,false}; continuous otherwise.
    public var outcomeKind: OutcomeKind?
    /// The load fails when more than this fraction of records is unusable.
    public var maxBadFraction: Double
    /// Files larger than this are refused before being read.
    public var maxFileBytes: Int
    /// nil = from the file extension (see `DatasetFormat.fromExtension(of:)`).
    public var format: DatasetFormat?

    public init(columns: DatasetColumns = DatasetColumns(), higherIsBetter: Bool = true,
                outcomeKind: OutcomeKind? = nil, maxBadFraction: Double = 0.01,
                maxFileBytes: Int = 512 << 20, format: DatasetFormat? = nil) {
        self.columns = columns
        self.higherIsBetter = higherIsBetter
        self.outcomeKind = outcomeKind
        self.maxBadFraction = maxBadFraction
        self.maxFileBytes = maxFileBytes
        self.format = format
    }
}

/// One usable record.
public struct OutcomeRow: Sendable, Hashable {
    public var text: String
    /// The response. Binary outcomes are stored as 0/1 ({-1,1}: -1 → 0; false → 0).
    public var outcome: Double
    /// Natural log of the propensity (probabilities are converted); ≤ 0.
    public var logPropensity: Double?
    public var trait: Double?
    /// Set when the dataset has a split column.
    public var split: DataSplit.Part?
    /// In `DatasetColumns.attributes` order.
    public var attributes: [Double]
    public var trueValue: Double?
    /// 1-based physical line where the record starts (0 for rows built in memory).
    public var line: Int

    public init(text: String, outcome: Double, logPropensity: Double? = nil, trait: Double? = nil,
                split: DataSplit.Part? = nil, attributes: [Double] = [], trueValue: Double? = nil,
                line: Int = 0) {
        self.text = text
        self.outcome = outcome
        self.logPropensity = logPropensity
        self.trait = trait
        self.split = split
        self.attributes = attributes
        self.trueValue = trueValue
        self.line = line
    }

    /// The propensity as a probability.
    public var propensity: Double? { logPropensity.map { exp($0) } }
}

/// An unusable record: where it is, which column (if one) and why.
public struct BadRow: Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    /// The dataset column (header name / JSON key) at fault, if one is.
    public var column: String?
    public var reason: String

    public init(line: Int, column: String? = nil, reason: String) {
        self.line = line
        self.column = column
        self.reason = reason
    }

    /// `line 12 (resp): 'abc' is not a number`
    public var description: String {
        "line \(line)" + (column.map { " (\($0))" } ?? "") + ": " + reason
    }
}

/// A loaded (or built in memory) direct-outcome dataset.
public struct OutcomeDataset: Sendable {
    /// Where it came from, e.g. "csv:path/to/file.csv", "jsonl:...", "world:...".
    public var source: String
    public var columns: DatasetColumns
    public var outcomeKind: OutcomeKind
    public var higherIsBetter: Bool
    public var rows: [OutcomeRow]
    /// Records read, usable and not.
    public var totalRecords: Int
    public var badRowCount: Int
    /// The first few (at most `OutcomeDataset.badRowsKept`) unusable records, in line order.
    public var firstBadRows: [BadRow]

    /// How many bad rows a dataset keeps the details of.
    public static let badRowsKept = 5

    /// `totalRecords` defaults to `rows.count + badRowCount`.
    public init(source: String, columns: DatasetColumns = DatasetColumns(), outcomeKind: OutcomeKind,
                higherIsBetter: Bool = true, rows: [OutcomeRow], totalRecords: Int? = nil,
                badRowCount: Int = 0, firstBadRows: [BadRow] = []) {
        self.source = source
        self.columns = columns
        self.outcomeKind = outcomeKind
        self.higherIsBetter = higherIsBetter
        self.rows = rows
        self.totalRecords = totalRecords ?? rows.count + badRowCount
        self.badRowCount = badRowCount
        self.firstBadRows = firstBadRows
    }

    public var count: Int { rows.count }
    public var texts: [String] { rows.map(\.text) }
    public var outcomes: [Double] { rows.map(\.outcome) }

    /// The outcome turned so that larger is better: unchanged when `higherIsBetter`; otherwise
    /// `1 - y` for binary outcomes (so they stay 0/1) and `-y` for continuous ones.
    public func oriented(_ y: Double) -> Double {
        if higherIsBetter { return y }
        return outcomeKind == .binary ? 1 - y : -y
    }

    /// One line for logs and reports, e.g.
    /// `csv:hk.csv: 2,066 rows (6 bad of 2,072), outcome 'resp' continuous, higher is better`.
    public var summary: String {
        "\(source): \(rows.count) rows (\(badRowCount) bad of \(totalRecords)), outcome '\(columns.outcome)' "
            + "\(outcomeKind.rawValue), \(higherIsBetter ? "higher" : "lower") is better"
    }
}
