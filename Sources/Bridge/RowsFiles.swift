import CPOSupport
import Foundation
import OutcomeData

/// A rows or f0 file (BRIDGE-SPEC section 2, written by `cpo-tui run --report` and by
/// train_cpo.py): one text column and named numeric columns, read with OutcomeData's CSV
/// reader. Unlike a dataset, a rows file has no "bad rows": every problem (a missing column, a
/// field that is not a finite number, a record cut short) is an error at its line and column,
/// since a row left out would silently change every estimate.
public struct NumericTable: Sendable, Hashable {
    /// The file as the user named it.
    public var file: String
    public var texts: [String]
    /// The numeric columns in the order asked for, one value per record.
    public var columns: [[Double]]
    /// The physical line each record starts on.
    public var lines: [Int]

    public var count: Int { texts.count }

    /// The largest file a rows file may be (they hold held-out rows, not training data).
    public static let maxFileBytes = 512 << 20

    /// Reads `path` (read-only) and parses it with `parse`.
    public static func read(path: String, textColumn: String, numeric: [String], kind: String) throws(InputError) -> NumericTable {
        let bytes = try DatasetLoader.readFile(path, maxBytes: maxFileBytes)
        return try parse(bytes: bytes, file: path, textColumn: textColumn, numeric: numeric, kind: kind)
    }

    /// The table in `bytes`: a header naming `textColumn` and every `numeric` column (other
    /// columns are ignored), then at least one record with as many fields as the header, each
    /// numeric field a finite number. `kind` names the file in errors ("rows file").
    public static func parse(bytes: [UInt8], file: String, textColumn: String, numeric: [String],
                             kind: String) throws(InputError) -> NumericTable {
        let expected = ([textColumn] + numeric).joined(separator: ",")
        var reader = CSVReader(bytes: bytes, file: file)
        guard let header = try reader.next() else {
            throw InputError(file: file, message: "the \(kind) is empty",
                             hint: "Pass a \(kind) with the header \(expected) and one line per row.")
        }
        let index = try DatasetLoader.headerIndex(header, file: file)
        let missing = ([textColumn] + numeric).filter { index[$0] == nil }
        if !missing.isEmpty {
            throw InputError(
                file: file, line: header.line, column: 1,
                message: "the \(kind) lacks the column\(missing.count == 1 ? "" : "s") "
                    + missing.map { "'\($0)'" }.joined(separator: ", ") + "; its header has: " + header.values.joined(separator: ", "),
                hint: "A \(kind) needs the header \(expected) (names exact, any order); check that this is the right file.")
        }
        let textIndex = index[textColumn] ?? 0
        let numericIndex = numeric.map { index[$0] ?? 0 }
        var table = NumericTable(file: file, texts: [], columns: numeric.map { _ in [] }, lines: [])
        while let record = try reader.next() {
            guard record.count == header.count else {
                let last = record.fields.last
                throw InputError(
                    file: file, line: record.line, column: last.map { $0.column + $0.value.unicodeScalars.count },
                    message: "\(record.count) field\(record.count == 1 ? "" : "s"), but the header has \(header.count)"
                        + (record.count < header.count ? " (the line is cut short)" : ""),
                    hint: record.count < header.count
                        ? "If another program is still writing the file, wait until it is complete; otherwise write the line again in full."
                        : "Quote a text holding commas (\"...\"), as RFC 4180 CSV does.")
            }
            table.texts.append(record.fields[textIndex].value)
            for (k, i) in numericIndex.enumerated() {
                let f = record.fields[i]
                guard let x = Double(f.value.trimmingCharacters(in: .whitespaces)), x.isFinite else {
                    throw InputError(
                        file: file, line: f.line, column: f.column, field: numeric[k],
                        message: f.value.isEmpty ? "empty value" : "'\(f.value)' is not a finite number",
                        hint: "Every \(numeric[k]) must be a finite decimal number such as -12.5 or 1e-3.")
                }
                table.columns[k].append(x)
            }
            table.lines.append(record.line)
        }
        if table.texts.isEmpty {
            throw InputError(file: file, message: "the \(kind) has a header but no rows",
                             hint: "Check that this is the right file, or that the program writing it has finished.")
        }
        return table
    }
}

/// A file of one evaluation in a fixed schema: the header (text first, then numeric
/// columns) and the name errors give it.
public protocol EvaluationFile: Sendable {
    static var header: [String] { get }
    static var kind: String { get }
    var table: NumericTable { get }
    init(table: NumericTable)
}

extension EvaluationFile {
    public init(bytes: [UInt8], file: String) throws(InputError) {
        self.init(table: try NumericTable.parse(bytes: bytes, file: file, textColumn: Self.header[0],
                                                numeric: Array(Self.header.dropFirst()), kind: Self.kind))
    }

    public init(path: String) throws(InputError) {
        self.init(table: try NumericTable.read(path: path, textColumn: Self.header[0], numeric: Array(Self.header.dropFirst()),
                                               kind: Self.kind))
    }
}

/// The held-out rows of one evaluation (`rows-METHOD-seedK.csv`): outcome ORIENTED (larger is
/// better), log P^f, log P^R, cross-fitted ĝ and the self-normalized weight.
public struct RowsFile: EvaluationFile {
    public static let header = ["text", "outcome", "logP_f", "logP_R", "ghat", "weight"]
    public static let kind = "rows file"
    public var table: NumericTable

    public init(table: NumericTable) { self.table = table }

    public var outcomes: [Double] { table.columns[0] }
    public var logPF: [Double] { table.columns[1] }
    public var logPR: [Double] { table.columns[2] }
    public var ghat: [Double] { table.columns[3] }
    public var weights: [Double] { table.columns[4] }
}

/// The held-out f0 samples of one evaluation (`f0-METHOD-seedK.csv`): log P^{f0} (the density
/// they were drawn from), log P^f, ĝ and the self-normalized weight.
public struct F0File: EvaluationFile {
    public static let header = ["text", "logP_f0", "logP_f", "ghat", "weight"]
    public static let kind = "f0 file"
    public var table: NumericTable

    public init(table: NumericTable) { self.table = table }

    public var logP0: [Double] { table.columns[0] }
    public var logPF: [Double] { table.columns[1] }
    public var ghat: [Double] { table.columns[2] }
    public var weights: [Double] { table.columns[3] }
}
