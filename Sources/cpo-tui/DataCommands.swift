import ArgumentParser
import CPOSupport
import Foundation
import Lab
import OutcomeData

/// The flags that describe a user's direct-outcome dataset; shared by every command that reads
/// one. Defaults are `LoadOptions()`'s.
struct DataOptions: ParsableArguments {
    private static let defaults = LoadOptions()

    @Option(name: .customLong("data"), help: "A direct-outcome dataset: .csv, .tsv, .jsonl or .ndjson.")
    var path: String?

    @Option(help: "Column holding the text.")
    var text = DataOptions.defaults.columns.text

    @Option(help: "Column holding the numeric outcome (continuous, or binary: 0/1, -1/1, true/false).")
    var outcome = DataOptions.defaults.columns.outcome

    @Option(name: .customLong("propensity-column"),
            help: "Column holding each text's known probability under the randomization (optional).")
    var propensity: String?

    @Option(help: "How the propensity column is given.")
    var propensityScale = DataOptions.defaults.columns.propensityScale

    @Option(help: "Column holding a reader covariate, an observed confounder (optional, numeric).")
    var trait: String?

    @Option(help: "Column assigning rows to train, validation or eval (optional; otherwise a seeded 70/10/20 split).")
    var split: String?

    @Option(help: "Comma-separated 0/1 attribute columns (optional; simulated worlds write them).")
    var attributes: String?

    @Option(help: "Column with each text's true expected outcome (optional; simulated worlds write true_value).")
    var trueValue: String?

    @Option(help: "The kind of outcome (default: detected from the values).")
    var outcomeKind: OutcomeKind?

    @Flag(help: "Lower outcomes are better (default: higher is better).")
    var lowerIsBetter = false

    @Option(help: "Refuse the data when more than this fraction of rows is unusable.")
    var maxBadFraction = DataOptions.defaults.maxBadFraction

    @Option(help: "Refuse files larger than this many megabytes (checked before reading).")
    var maxFileMb = DataOptions.defaults.maxFileBytes / DataOptions.bytesPerMB

    @Option(help: "File format when the extension does not say.")
    var format: DatasetFormat?

    static let bytesPerMB = 1 << 20

    func validate() throws {
        guard maxBadFraction >= 0 && maxBadFraction < 1 else {
            throw ValidationError("--max-bad-fraction must be in [0, 1), not \(maxBadFraction)")
        }
        guard maxFileMb >= 1 else { throw ValidationError("--max-file-mb must be at least 1") }
    }

    var loadOptions: LoadOptions {
        let columns = DatasetColumns(
            text: text, outcome: outcome, propensity: propensity, propensityScale: propensityScale, trait: trait,
            split: split,
            attributes: attributes.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? [],
            trueValue: trueValue)
        // A limit too large for an Int means no limit (not an overflow).
        let (maxFileBytes, overflow) = maxFileMb.multipliedReportingOverflow(by: Self.bytesPerMB)
        return LoadOptions(columns: columns, higherIsBetter: !lowerIsBetter, outcomeKind: outcomeKind,
                           maxBadFraction: maxBadFraction, maxFileBytes: overflow ? Int.max : maxFileBytes,
                           format: format)
    }

    func load() throws -> OutcomeDataset {
        guard let path else { throw ValidationError("--data FILE is required") }
        do {
            return try DatasetLoader.load(path: path, options: loadOptions)
        } catch {
            throw CLIError(error)
        }
    }
}

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Direct-outcome datasets (texts with a numeric reader response).",
        subcommands: [DataCheck.self])
}

struct DataCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Load a dataset as a run would and summarize it; problems name the line and column.",
        discussion: "Example: cpo-tui data check --data responses.csv --text text --outcome resp")

    @OptionGroup var data: DataOptions

    @Option(help: "Seed of the train/validation/eval split (when there is no split column).")
    var seed: UInt64 = 0

    @Option(help: "Share of the rows held out for validation, as a run takes them (0: none).")
    var validationFraction = LabConfig().validationFraction

    func validate() throws {
        guard validationFraction >= 0 && validationFraction <= LabConfig.maxValidationFraction else {
            throw ValidationError("--validation-fraction must be in [0, \(LabConfig.maxValidationFraction)]")
        }
    }

    func run() throws {
        let ds = try data.load()
        let split = DataSplit.make(for: ds, validationFraction: validationFraction, seed: seed)
        let y = ds.rows.map(\.outcome)
        let mean = y.reduce(0, +) / Double(y.count)
        let sd = (y.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, y.count - 1))).squareRoot()
        let lengths = ds.rows.map { $0.text.count }.sorted()
        print(TerminalText.escaped(ds.summary))  // column names and values come from the file
        if ds.badRowCount > 0 {
            print(TerminalText.escaped("  bad rows: \(ds.badRowCount) (kept out); first: " + ds.firstBadRows.map(\.description).joined(separator: "; ")))
        }
        print(String(format: "  outcome: mean %.4g, sd %.4g, min %.4g, max %.4g", mean, sd, y.min() ?? .nan, y.max() ?? .nan))
        print("  text length (characters): median \(lengths[lengths.count / 2]), max \(lengths.last ?? 0)")
        if ds.columns.propensity != nil { print("  propensities: given (\(ds.columns.propensityScale.rawValue))") }
        if let trait = ds.columns.trait { print(TerminalText.escaped("  reader trait column: \(trait)")) }
        print("  " + split.summary)
    }
}
