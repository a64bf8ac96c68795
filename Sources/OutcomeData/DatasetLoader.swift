import CPOSupport
import Foundation

/// Loads direct-outcome datasets from CSV/TSV and JSON Lines files.
///
/// Hard errors (thrown at once, with file, line and column where there is one): a missing or
/// unreadable file, a file over `maxFileBytes` (checked before reading), an empty file, a
/// header-only file, invalid UTF-8 or a UTF-16 file, an unterminated quoted field (reported
/// where it opened), a character after a closing quote, a header column with no name or a name
/// used twice, a named column (JSON key) that is not there, an unknown file extension, and a
/// forced binary outcome that is not binary.
///
/// Bad rows (counted; the first `OutcomeDataset.badRowsKept` kept with line and reason): an
/// empty text, an outcome / propensity / trait / attribute / true value that is empty, not a
/// number or not finite, a propensity out of range, an unknown split name, a CSV record with a
/// different number of fields than the header, a JSON line that is not valid JSON, not an
/// object, or lacks a named key. The load throws when more than `maxBadFraction` of the
/// records are bad (or none is usable), listing the count, the fraction and the first bad
/// lines, and naming `--max-bad-fraction`.
///
/// Files are only ever opened for reading.
public enum DatasetLoader {
    /// Loads `path`, choosing the format from `options.format` or the file extension.
    public static func load(path: String, options: LoadOptions = LoadOptions()) throws(InputError) -> OutcomeDataset {
        try validate(options, file: path)
        // What the path is comes first: `--data <(cmd)` (a pipe, /dev/fd/63) is told so, not
        // that its name has no extension.
        try checkFile(path)
        let format: DatasetFormat
        if let f = options.format {
            format = f
        } else if let f = DatasetFormat.fromExtension(of: path) {
            format = f
        } else {
            let ext = (path as NSString).pathExtension
            throw InputError(
                file: path,
                message: ext.isEmpty ? "cannot tell the file format: the name has no extension"
                    : "cannot tell the file format from the extension '.\(ext)'",
                hint: "Supported are .csv, .tsv, .jsonl and .ndjson; rename the file or pass \(DatasetColumns.Flag.format) csv, tsv or jsonl.")
        }
        let bytes = try readFile(path, maxBytes: options.maxFileBytes)
        return try load(bytes: bytes, file: path, format: format, options: options)
    }

    /// Loads a dataset from bytes already in memory; `file` is the name used in errors and in
    /// `source`.
    public static func load(bytes: [UInt8], file: String, format: DatasetFormat,
                            options: LoadOptions = LoadOptions()) throws(InputError) -> OutcomeDataset {
        try validate(options, file: file)
        if let e = CSVBytes.utf16Error(bytes, file: file) { throw e }
        if CSVBytes.isBlank(bytes) {
            throw InputError(file: file, message: "the file is empty",
                             hint: "Pass a file with a header line and at least one data row.")
        }
        switch format {
        case .csv: return try loadCSV(bytes, file: file, delimiter: CSVBytes.comma, format: format, options: options)
        case .tsv: return try loadCSV(bytes, file: file, delimiter: CSVBytes.tab, format: format, options: options)
        case .jsonl: return try loadJSONL(bytes, file: file, options: options)
        }
    }

    // MARK: - Files

    /// Reads a whole file (read-only), refusing it before reading when it is larger than
    /// `maxBytes` (see `BoundedFile`). Public for the other readers of user files (the bridge's
    /// rows files), so a missing or oversized file reads the same everywhere.
    public static func readFile(_ path: String, maxBytes: Int) throws(InputError) -> [UInt8] {
        do { return try BoundedFile.read(path: path, maxBytes: maxBytes) } catch { throw inputError(error, path) }
    }

    /// Whether `path` could be read (it is there and a regular file), without reading it: the
    /// same errors as `readFile`, for a check before any work.
    public static func checkFile(_ path: String) throws(InputError) {
        do { try BoundedFile.check(path: path) } catch { throw inputError(error, path) }
    }

    private static func inputError(_ error: BoundedFileError, _ path: String) -> InputError {
        switch error {
        case .notFound:
            return InputError(file: path, message: "file not found",
                              hint: "Check the path (relative paths start from \(FileManager.default.currentDirectoryPath)).")
        case .cannotAccess(_, let reason):
            return InputError(file: path, message: "cannot read the file: \(reason)",
                              hint: "Check that the file exists and that you may read it.")
        case .isDirectory:
            return InputError(file: path, message: "this is a directory, not a file",
                              hint: "Pass the data file itself, e.g. \(path)/data.csv.")
        case .cannotOpen(_, let reason):
            return InputError(file: path, message: "cannot open the file: \(reason)",
                              hint: "Check that you may read it.")
        case let .tooLarge(_, size, limit):
            return tooLarge(path, size: size, maxBytes: limit)
        case .readFailed(_, let reason):
            return InputError(file: path, message: "reading the file failed: \(reason)",
                              hint: "Check the file and the disk, then try again.")
        case .notRegular(_, .namedPipe):
            return InputError(file: path, message: error.problem,
                              hint: "Save the data to a file first (e.g. cmd > data.csv) and pass that file: a run reads its data again when it resumes, which a pipe cannot give.")
        case .notRegular:
            return InputError(file: path, message: error.problem, hint: "Pass the data file itself.")
        case .symlinkLoop:
            return InputError(file: path, message: error.problem,
                              hint: "Fix the symbolic link (ls -l shows where it points), or pass the file itself.")
        case .changedWhileReading:
            return InputError(file: path, message: error.problem,
                              hint: "Another program is writing the file: wait until it has finished, then run again.")
        }
    }

    static func tooLarge(_ path: String, size: Int, maxBytes: Int) -> InputError {
        InputError(file: path,
                   message: "the file is \(megabytes(size)) MB, more than the limit of \(megabytes(maxBytes)) MB",
                   hint: "Load a sample of the rows, or raise the limit with \(DatasetColumns.Flag.maxFileMB).")
    }

    static func megabytes(_ bytes: Int) -> String { BoundedFile.roundedUp(bytes, unit: 1 << 20) }

    static func validate(_ options: LoadOptions, file: String) throws(InputError) {
        let f = options.maxBadFraction
        guard f.isFinite && f >= 0 && f <= 1 else {
            throw InputError(file: file, message: "the bad-row limit \(f) is not a fraction between 0 and 1",
                             hint: "Pass \(DatasetColumns.Flag.maxBadFraction) with a value such as 0.01 (1%).")
        }
        guard options.maxFileBytes > 0 else {
            throw InputError(file: file, message: "the file size limit must be positive",
                             hint: "Pass \(DatasetColumns.Flag.maxFileMB) with a positive number.")
        }
        for (name, flag) in options.columns.named where name.isEmpty {
            throw InputError(file: file, message: "an empty column name was given for \(flag)",
                             hint: "Pass \(flag) with a column name from the file's header.")
        }
    }

    // MARK: - CSV

    static func loadCSV(_ bytes: [UInt8], file: String, delimiter: UInt8, format: DatasetFormat,
                        options: LoadOptions) throws(InputError) -> OutcomeDataset {
        var reader = CSVReader(bytes: bytes, file: file, delimiter: delimiter)
        guard let header = try reader.next() else {
            throw InputError(file: file, message: "the file is empty",
                             hint: "Pass a file with a header line and at least one data row.")
        }
        let index = try headerIndex(header, file: file)
        let names = header.values
        for (name, flag) in options.columns.named where index[name] == nil {
            throw missingColumn(name, flag: flag, available: names, file: file, line: header.line,
                                what: "column", delimiter: delimiter)
        }
        let source = "\(format.rawValue):\(file)"
        var builder = DatasetRowBuilder(file: file, source: source, options: options)
        let width = header.count
        while let record = try reader.next() {
            if record.count != width {
                builder.bad(line: record.line, column: nil,
                            reason: "\(record.count) field\(record.count == 1 ? "" : "s"), but the header has \(width)")
                continue
            }
            builder.add(line: record.line) { name in
                guard let i = index[name] else { return .missing }
                return .string(record.fields[i].value)
            }
        }
        if builder.totalRecords == 0 {
            throw InputError(file: file, message: "the file has a header but no data rows",
                             hint: "Add rows below the header, or check that this is the right file.")
        }
        return try builder.finish()
    }

    /// Column name → index for a CSV header: every column named, no name twice (errors at the
    /// header field's line and column).
    public static func headerIndex(_ header: CSVRecord, file: String) throws(InputError) -> [String: Int] {
        var index: [String: Int] = [:]
        for (i, f) in header.fields.enumerated() {
            if f.value.allSatisfy(\.isWhitespace) {
                throw InputError(
                    file: file, line: f.line, column: f.column,
                    message: "header column \(i + 1) has no name",
                    hint: i == 0 && header.count > 1
                        ? "Name every column in the header line (a nameless first column is often a saved pandas index: write the file with index=False)."
                        : "Name every column in the header line (a trailing delimiter makes an extra, nameless column).")
            }
            if let j = index[f.value] {
                throw InputError(file: file, line: f.line, column: f.column,
                                 message: "the column name '\(f.value)' appears twice in the header (columns \(j + 1) and \(i + 1))",
                                 hint: "Give every column a unique name.")
            }
            index[f.value] = i
        }
        return index
    }

    // MARK: - Errors and formatting

    /// Column names (JSON keys) a message lists at most.
    static let shownColumnNames = 30

    static func missingColumn(_ name: String, flag: String, available: [String], file: String, line: Int?,
                              what: String, delimiter: UInt8?) -> InputError {
        var list = available.prefix(shownColumnNames).joined(separator: ", ")
        if available.count > shownColumnNames { list += ", … (\(available.count - shownColumnNames) more)" }
        var hint = ""
        let folded = name.lowercased().trimmingCharacters(in: .whitespaces)
        if let close = available.first(where: { $0.lowercased().trimmingCharacters(in: .whitespaces) == folded }) {
            hint += "Did you mean '\(close)'? Names must match exactly. "
        }
        if let d = delimiter, available.count == 1 {
            let separators: [(UInt8, String)] = [(UInt8(ascii: ";"), "semicolons"), (CSVBytes.tab, "tabs"),
                                                 (UInt8(ascii: "|"), "bars"), (CSVBytes.comma, "commas")]
            for (sep, label) in separators where sep != d && available[0].utf8.contains(sep) {
                hint += "The header looks separated by \(label); save the file separated by "
                    + (d == CSVBytes.tab ? "tabs" : "commas") + " (or use the matching extension). "
                break
            }
        }
        hint += "Pass \(flag) with one of these."
        let head = what == "column" ? "the header has: \(list)" : "the first object has keys: \(list)"
        return InputError(file: file, line: line,
                          message: "\(what) '\(name)' not found; \(head)", hint: hint)
    }

    /// `x` as a percentage with at most two decimals: 0.011 → "1.1%".
    static func percent(_ x: Double) -> String {
        decimal((x * 10_000).rounded() / 100) + "%"
    }

    /// A Double without a trailing ".0": 2.0 → "2", 0.05 → "0.05".
    static func decimal(_ x: Double) -> String {
        let s = "\(x)"
        return s.hasSuffix(".0") ? String(s.dropLast(2)) : s
    }

    /// A round limit just above `fraction`, to suggest for `--max-bad-fraction`.
    static func suggestedLimit(above fraction: Double) -> String {
        var s = (fraction * 100).rounded(.up) / 100
        if s <= fraction { s += 0.01 }
        return decimal(min(1, (s * 100).rounded() / 100))
    }
}
