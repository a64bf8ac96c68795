import ArgumentParser
import Foundation
import OutcomeData

/// The flags that describe a user's direct-outcome dataset; shared by every command that reads one.
struct DataOptions: ParsableArguments {
    @Option(name: .customLong("data"), help: "A direct-outcome dataset: .csv, .tsv, .jsonl or .ndjson.")
    var path: String?

    @Option(help: "Column holding the text.")
    var text: String = "text"

    @Option(help: "Column holding the numeric outcome (continuous, or binary: 0/1, -1/1, true/false).")
    var outcome: String = "outcome"

    @Option(name: .customLong("propensity-column"),
            help: "Column holding each text's known probability under the randomization (optional).")
    var propensity: String?

    @Option(help: "How the propensity column is given: probability or log-probability.")
    var propensityScale: String = "probability"

    @Option(help: "Column holding a reader covariate, an observed confounder (optional, numeric).")
    var trait: String?

    @Option(help: "Column assigning rows to train or eval (optional; otherwise a seeded 80/20 split).")
    var split: String?

    @Option(help: "Comma-separated 0/1 attribute columns (optional; simulated worlds write them).")
    var attributes: String?

    @Option(help: "Column with each text's true expected outcome (optional; simulated worlds write true_value).")
    var trueValue: String?

    @Option(help: "continuous or binary (default: detected from the values).")
    var outcomeKind: String?

    @Flag(help: "Lower outcomes are better (default: higher is better).")
    var lowerIsBetter = false

    @Option(help: "Refuse the data when more than this fraction of rows is unusable.")
    var maxBadFraction: Double = 0.01

    @Option(help: "Refuse files larger than this many megabytes (checked before reading).")
    var maxFileMb: Int = 512

    @Option(help: "File format when the extension does not say: csv, tsv or jsonl.")
    var format: String?

    func validate() throws {
        guard PropensityScale(rawValue: propensityScale.replacingOccurrences(of: "log-probability", with: "logProbability")) != nil else {
            throw ValidationError("--propensity-scale must be probability or log-probability, not '\(propensityScale)'")
        }
        if let outcomeKind, OutcomeKind(rawValue: outcomeKind) == nil {
            throw ValidationError("--outcome-kind must be continuous or binary, not '\(outcomeKind)'")
        }
        if let format, DatasetFormat(rawValue: format) == nil {
            throw ValidationError("--format must be csv, tsv or jsonl, not '\(format)'")
        }
        guard maxBadFraction >= 0 && maxBadFraction < 1 else {
            throw ValidationError("--max-bad-fraction must be in [0, 1), not \(maxBadFraction)")
        }
        guard maxFileMb >= 1 else { throw ValidationError("--max-file-mb must be at least 1") }
    }

    var loadOptions: LoadOptions {
        let scale = PropensityScale(rawValue: propensityScale.replacingOccurrences(of: "log-probability", with: "logProbability")) ?? .probability
        let columns = DatasetColumns(
            text: text, outcome: outcome, propensity: propensity, propensityScale: scale, trait: trait, split: split,
            attributes: attributes.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? [],
            trueValue: trueValue)
        return LoadOptions(columns: columns, higherIsBetter: !lowerIsBetter,
                           outcomeKind: outcomeKind.flatMap(OutcomeKind.init(rawValue:)),
                           maxBadFraction: maxBadFraction, maxFileBytes: maxFileMb << 20,
                           format: format.flatMap(DatasetFormat.init(rawValue:)))
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
        discussion: "Example: cpo-tui data check --data ../shared/data/hongkong-fong-grimmer/HKRepData.csv --outcome resp")

    @OptionGroup var data: DataOptions

    @Option(help: "Seed of the train/eval split (when there is no split column).")
    var seed: UInt64 = 0

    func run() throws {
        let ds = try data.load()
        let split = DataSplit.make(for: ds, seed: seed)
        let y = ds.rows.map(\.outcome)
        let mean = y.reduce(0, +) / Double(y.count)
        let sd = (y.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, y.count - 1))).squareRoot()
        let lengths = ds.rows.map { $0.text.count }.sorted()
        print(ds.summary)
        if ds.badRowCount > 0 {
            print("  bad rows: \(ds.badRowCount) (kept out); first: " + ds.firstBadRows.map(\.description).joined(separator: "; "))
        }
        print(String(format: "  outcome: mean %.4g, sd %.4g, min %.4g, max %.4g", mean, sd, y.min() ?? .nan, y.max() ?? .nan))
        print("  text length (characters): median \(lengths[lengths.count / 2]), max \(lengths.last ?? 0)")
        if ds.columns.propensity != nil { print("  propensities: given (\(ds.columns.propensityScale.rawValue))") }
        if ds.columns.trait != nil { print("  reader trait column: \(ds.columns.trait!)") }
        print("  " + split.summary)
    }
}
