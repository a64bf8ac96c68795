import CausalPO
import CPOSupport
import Foundation
import Lab
import OutcomeData

/// `cpo-tui sensitivity DIR`: a report directory (`cpo-tui run --report DIR`, or a train_cpo.py
/// run: rows-METHOD-seedK.csv and f0-METHOD-seedK.csv, FT's files giving the reference) is
/// analysed afresh from its files; a saved run (runs/NAME: config.json and checkpoints) shows the
/// analyses its evaluations saved.
public enum SensitivityDirectory {
    public enum Kind: String, Sendable {
        case report, run
    }

    /// One method and seed's files in a report directory.
    struct ReportFiles {
        var method: String
        var seed: UInt64
        var rows: String
        var f0: String?
    }

    /// What the user asked that a saved run's analyses cannot show without its rows files.
    public struct Recompute: Sendable {
        /// The grid asked for (nil: the default, which the run has).
        public var lambdas: [Double]?
        /// Other flags given that change the analysis (`--replicates`, `--seed`, `--normalization`).
        public var flags: [String]

        public init(lambdas: [Double]? = nil, flags: [String] = []) {
            self.lambdas = lambdas
            self.flags = flags
        }
    }

    /// The analyses of every method and seed in `directory`, and which kind of directory it is.
    /// `normalization` nil: the report's own (summary.json), else Hajek.
    public static func analyze(_ directory: String, normalization: WeightNormalization?, options: RowsSensitivity.Options,
                               recompute: Recompute) throws(InputError) -> (kind: Kind, results: [SensitivityResult]) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) else {
            throw InputError(file: directory, message: "no such directory",
                             hint: "Pass a report directory (cpo-tui run --report DIR) or a saved run (runs/NAME); for one rows file use --rows FILE.")
        }
        guard isDir.boolValue else {
            throw InputError(file: directory, message: "this is a file, not a directory",
                             hint: "For a rows file use --rows \(directory) (and --f0 FILE for V_DR).")
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        let files = reportFiles(names, in: directory)
        if !files.isEmpty {
            let norm = normalization ?? reportNormalization(directory) ?? .hajek
            return (.report, try analyzeReport(files, in: directory, normalization: norm, options: options))
        }
        if names.contains(RunDirectory.configName) {
            return (.run, try savedAnalyses(directory, recompute: recompute))
        }
        throw InputError(file: directory,
                         message: "holds neither rows-METHOD-seedK.csv files (a report) nor \(RunDirectory.configName) (a saved run)",
                         hint: "Pass the directory `cpo-tui run --report DIR` wrote, a saved run (runs/NAME), or --rows FILE.")
    }

    /// rows-METHOD-seedK.csv (METHOD may hold '-': DR-CPO) with f0-METHOD-seedK.csv when present;
    /// known methods in the lab's order, then others by name; seeds ascending.
    static func reportFiles(_ names: [String], in directory: String) -> [ReportFiles] {
        var out: [ReportFiles] = []
        for name in names where name.hasPrefix("rows-") && name.hasSuffix(".csv") {
            let stem = name.dropFirst("rows-".count).dropLast(".csv".count)
            guard let cut = stem.range(of: "-seed", options: .backwards), let seed = UInt64(stem[cut.upperBound...]) else { continue }
            let method = String(stem[..<cut.lowerBound])
            guard !method.isEmpty else { continue }
            let f0Name = "f0-\(method)-seed\(seed).csv"
            out.append(ReportFiles(method: method, seed: seed, rows: path(directory, name),
                                   f0: names.contains(f0Name) ? path(directory, f0Name) : nil))
        }
        func rank(_ m: String) -> Int { Method(rawValue: m).flatMap { Method.allCases.firstIndex(of: $0) } ?? Method.allCases.count }
        return out.sorted { (rank($0.method), $0.method, $0.seed) < (rank($1.method), $1.method, $1.seed) }
    }

    static func path(_ directory: String, _ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// The normalization summary.json records (nil when there is none to read).
    static func reportNormalization(_ directory: String) -> WeightNormalization? {
        guard let bytes = try? BoundedFile.read(path: path(directory, "summary.json"), maxBytes: 1 << 24),
              let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let name = (object["config"] as? [String: Any])?["normalization"] as? String else { return nil }
        return WeightNormalization(rawValue: name)
    }

    static func analyzeReport(_ files: [ReportFiles], in directory: String, normalization: WeightNormalization,
                              options: RowsSensitivity.Options) throws(InputError) -> [SensitivityResult] {
        // FT's files of each seed, read once: the reference of every method of that seed.
        var references: [UInt64: RowsSensitivity.Reference] = [:]
        for f in files where f.method == Method.ft.rawValue {
            references[f.seed] = .files(rows: try RowsFile(path: f.rows), f0: try f.f0.map { p throws(InputError) in try F0File(path: p) })
        }
        var results: [SensitivityResult] = []
        for f in files {
            let rows = try RowsFile(path: f.rows)
            let f0 = try f.f0.map { p throws(InputError) in try F0File(path: p) }
            results.append(RowsSensitivity.analyze(rows: rows, f0: f0, normalization: normalization,
                                                   reference: references[f.seed] ?? .prOwnValue, options: options,
                                                   method: f.method, seed: f.seed))
        }
        return results
    }

    /// The last evaluation's analyses of every method and seed a saved run holds.
    static func savedAnalyses(_ directory: String, recompute: Recompute) throws(InputError) -> [SensitivityResult] {
        let dir: RunDirectory, config: LabConfig
        do { (dir, config) = try RunDirectory.open(directory) } catch { throw runError(directory, error) }
        let seeds = (0..<config.seeds).map { config.seed + UInt64($0) }.filter(dir.hasCheckpoint)
        guard !seeds.isEmpty else {
            throw InputError(file: directory, message: "the saved run holds no checkpoint yet (it stopped before its preparation finished)",
                             hint: "Continue it first with cpo-tui run --resume \(directory).")
        }
        func writeRows(_ options: String) -> String {
            "Write its rows files with `cpo-tui run --resume \(directory) --report DIR`, then run `cpo-tui sensitivity DIR\(options)`."
        }
        var results: [SensitivityResult] = []
        var missing: [String] = []
        for seed in seeds {
            let exp: Experiment
            do { exp = try dir.restore(seed: seed, config: config).0 } catch { throw runError(directory, error) }
            for m in config.methods {
                guard let last = exp.metrics[m]?.last else { continue }
                guard let analyses = last.sensitivity, !analyses.isEmpty else {
                    missing.append("\(m.rawValue) seed \(seed)")
                    continue
                }
                if let asked = recompute.lambdas, let saved = analyses.first?.bounds.map(\.lambda), !sameGrid(asked, saved) {
                    throw InputError(
                        file: directory,
                        message: "a saved run holds its analyses over the grid they were computed on ("
                            + saved.map { SensitivityResult.short($0) }.joined(separator: ",") + "), not another --lambdas",
                        hint: writeRows(" --lambdas ..."))
                }
                if !recompute.flags.isEmpty {
                    throw InputError(
                        file: directory,
                        message: "a saved run holds its analyses as its evaluations computed them; "
                            + recompute.flags.joined(separator: ", ") + " would need its rows files",
                        hint: writeRows(" " + recompute.flags.map { $0 + " ..." }.joined(separator: " ")))
                }
                results.append(SensitivityResult(
                    method: m.rawValue, seed: seed, epoch: last.epoch,
                    entries: analyses.map { a in
                        .init(analysis: a, source: a.reference == nil ? .missing("FT's estimate is not defined here") : .savedRun)
                    }))
            }
        }
        guard !results.isEmpty else {
            throw InputError(file: directory,
                             message: "the saved run holds no sensitivity analysis (saved before cpo-tui computed one at every evaluation)",
                             hint: writeRows(""))
        }
        if !missing.isEmpty {
            results[results.count - 1].notes.append("no analysis saved for " + missing.joined(separator: ", ")
                                                    + " (evaluated before cpo-tui computed one)")
        }
        return results
    }

    static func sameGrid(_ a: [Double], _ b: [Double]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-9 * max(1, abs($1)) }
    }

    /// A RunStoreError as an InputError naming the directory (its sentence says what to do).
    static func runError(_ directory: String, _ error: RunStoreError) -> InputError {
        InputError(file: directory, message: "cannot read the saved run", hint: error.description)
    }
}
