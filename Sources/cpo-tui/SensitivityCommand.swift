import ArgumentParser
import Bridge
import CausalPO
import Foundation
import OutcomeData

struct SensitivityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sensitivity",
        abstract: "How much hidden confounding an estimate survives: its bounds over a grid of Λ and the breakdown value Λ*.",
        discussion: """
            Under the sensitivity model the true probability that a reader saw a text may differ \
            from the P^R the estimate used by a factor in [1/Λ, Λ]. For each Λ this prints the \
            sharp bounds [lower, upper] of V_SNIPW (and, with f0 samples, V_DR) and their 95% \
            percentile-bootstrap interval, then Λ*: the smallest Λ at which the lower bound falls \
            to FT's value (1: no gain over FT to erase; ∞: no Λ erases it), and Λ* 95%, which also \
            allows for sampling error.

            Sources: --rows FILE [--f0 FILE] (a rows file, as `cpo-tui run --report` and \
            train_cpo.py write them); or DIR, a report directory (every rows-METHOD-seedK.csv in \
            it, FT's files of the same seed giving the reference) or a saved run (runs/NAME: the \
            analyses its last evaluation saved, over the default grid).

            The reference for --rows: --reference X (FT's value), --reference-rows FILE \
            [--reference-f0 FILE] (FT's rows file: its estimate under the same estimator), or by \
            default P^R's own value from the same files (every weight 1: FT's when P^R is FT).
            """)

    @Argument(help: "A report directory (cpo-tui run --report DIR) or a saved run (runs/NAME).")
    var directory: String?

    @Option(help: "A rows file (rows-METHOD-seedK.csv), instead of DIR.")
    var rows: String?

    @Option(help: "Its f0 file (f0-METHOD-seedK.csv); without it only V_SNIPW is analysed.")
    var f0: String?

    // Unconditional: a negative value (--reference -1.5) is a value, not an option.
    @Option(parsing: .unconditional, help: "FT's value, the reference Λ* is measured against (--rows only).")
    var reference: Double?

    @Option(help: "FT's rows file: its estimate is the reference (--rows only).")
    var referenceRows: String?

    @Option(help: "FT's f0 file, for V_DR's reference with --reference-rows.")
    var referenceF0: String?

    @Option(help: "Weights of V_DR's residual term: hajek or horvitz-thompson (default: a report's own, else hajek).")
    var normalization: String?

    @Option(help: "Values of Λ, separated by commas (each at least 1). Default: \(Sensitivity.defaultGrid.map { String(format: "%g", $0) }.joined(separator: ",")).")
    var lambdas: String?

    @Option(help: "Bootstrap replicates of the 95% intervals (0: point bounds only). Default: \(Sensitivity.defaultReplicates).")
    var replicates: Int?

    @Option(help: "Seed of the bootstrap. Default: 0.")
    var seed: UInt64?

    @Flag(help: "Print JSON (keys in README, \"Sensitivity\") instead of text.")
    var json = false

    func validate() throws {
        guard (directory == nil) != (rows == nil) else {
            throw ValidationError(directory == nil ? "pass a directory (a report or a saved run) or --rows FILE"
                                                   : "pass either a directory or --rows FILE, not both")
        }
        if directory != nil && (f0 != nil || reference != nil || referenceRows != nil || referenceF0 != nil) {
            throw ValidationError("--f0, --reference, --reference-rows and --reference-f0 go with --rows; a directory's FT files give the reference")
        }
        if reference != nil && referenceRows != nil { throw ValidationError("pass --reference or --reference-rows, not both") }
        if referenceF0 != nil && referenceRows == nil { throw ValidationError("--reference-f0 goes with --reference-rows (FT's rows file)") }
        if let reference, !reference.isFinite { throw ValidationError("--reference must be a finite number") }
        if let normalization, WeightNormalization(rawValue: normalization) == nil {
            throw ValidationError("--normalization must be hajek or horvitz-thompson")
        }
        if let replicates, !(0...100_000).contains(replicates) { throw ValidationError("--replicates must be between 0 and 100000") }
        if let lambdas, case .failure(let e) = RowsSensitivity.parseLambdas(lambdas) { throw ValidationError(e.description) }
    }

    func run() throws {
        var grid: [Double]?
        if let lambdas {
            switch RowsSensitivity.parseLambdas(lambdas) {
            case .success(let g): grid = g
            case .failure(let e): throw ValidationError(e.description)
            }
        }
        let options = RowsSensitivity.Options(lambdas: grid ?? Sensitivity.defaultGrid, replicates: replicates ?? Sensitivity.defaultReplicates,
                                              seed: seed ?? 0)
        let norm = normalization.flatMap(WeightNormalization.init(rawValue:))
        do throws(InputError) {
            if let rows {
                let result = try analyzeRows(rows, normalization: norm ?? .hajek, options: options)
                if json {
                    var o = result.json
                    o["format"] = SensitivityResult.jsonFormat
                    o["version"] = 1
                    print(SensitivityResult.jsonText(o), terminator: "")
                } else {
                    print(result.text, terminator: "")
                }
                return
            }
            guard let directory else { return }
            let flags = [replicates.map { _ in "--replicates" }, seed.map { _ in "--seed" }, normalization.map { _ in "--normalization" }]
                .compactMap { $0 }
            let (kind, results) = try SensitivityDirectory.analyze(directory, normalization: norm, options: options,
                                                                  recompute: .init(lambdas: grid, flags: flags))
            if json {
                print(SensitivityResult.jsonText([
                    "format": SensitivityResult.jsonFormat, "version": 1, "directory": directory, "kind": kind.rawValue,
                    "results": results.map(\.json),
                ]), terminator: "")
            } else {
                print(results.map(\.text).joined(separator: "\n"), terminator: "")
            }
        } catch {
            throw CLIError(error)
        }
    }

    private func analyzeRows(_ path: String, normalization: WeightNormalization,
                             options: RowsSensitivity.Options) throws(InputError) -> SensitivityResult {
        let rowsFile = try RowsFile(path: path)
        let f0File = try f0.map { p throws(InputError) in try F0File(path: p) }
        let ref: RowsSensitivity.Reference
        if let reference {
            ref = .value(reference)
        } else if let referenceRows {
            ref = .files(rows: try RowsFile(path: referenceRows), f0: try referenceF0.map { p throws(InputError) in try F0File(path: p) })
        } else {
            ref = .prOwnValue
        }
        return RowsSensitivity.analyze(rows: rowsFile, f0: f0File, normalization: normalization, reference: ref, options: options)
    }
}
