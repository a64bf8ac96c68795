import CausalPO
import CPOSupport
import Foundation
import Lab
import OutcomeData

extension EstimatorInputs {
    /// What the estimators read from a rows file and (for V_OUT and V_DR) its f0 file.
    public init(rows: RowsFile, f0: F0File?, normalization: WeightNormalization) {
        self.init(logP: rows.logPF, logPR: rows.logPR, outcomes: rows.outcomes, ghat: rows.ghat,
                  sampleLogP: f0?.logPF ?? [], sampleLogP0: f0?.logP0 ?? [], sampleGhat: f0?.ghat ?? [],
                  normalization: normalization)
    }

    /// The same rows and f0 samples under P^R itself: every row's weight 1 (log P^f = log P^R),
    /// and every f0 sample's too (log P^f = log P^f0: f0 is FT, which is P^R by default).
    public var underPR: EstimatorInputs {
        var x = self
        x.logP = logPR
        x.sampleLogP = sampleLogP0
        return x
    }
}

/// What Λ* is measured against (README "Sensitivity"): FT's value under the same estimator.
public enum SensitivityReferenceSource: Sendable, Hashable {
    /// `--reference X`.
    case given
    /// FT's estimate from its rows (and f0) file.
    case ftRows(file: String)
    /// FT's estimate at the same evaluation, as the run saved it.
    case savedRun
    /// P^R's own value from the same files (every weight 1): FT's when P^R is FT.
    case prOwnValue
    /// None could be had; the reason, as a clause.
    case missing(String)

    /// The `reference_source` of `--json`.
    public var key: String? {
        switch self {
        case .given: return "given"
        case .ftRows: return "ft_rows"
        case .savedRun: return "saved_run"
        case .prOwnValue: return "pr_own_value"
        case .missing: return nil
        }
    }

    /// What the gain is over, in the one-line summary.
    var baseline: String {
        if case .prOwnValue = self { return "P^R" }
        return "FT"
    }

    func describe(_ estimator: Estimator) -> String {
        switch self {
        case .given: return "FT's value as given (--reference)"
        case .ftRows(let file): return "FT's \(estimator.name) from \(file)"
        case .savedRun: return "FT's \(estimator.name) at the same evaluation, saved with the run"
        case .prOwnValue: return "P^R's own value from the same files (every weight 1; FT's when P^R is FT)"
        case .missing(let why): return "none (\(why))"
        }
    }
}

/// The sensitivity analyses of one evaluation (`cpo-tui sensitivity`): V_SNIPW's and, with f0
/// samples, V_DR's bounds over a grid of Λ and their breakdown value Λ* against FT's value.
public struct SensitivityResult: Sendable {
    public struct Entry: Sendable {
        public var analysis: SensitivityAnalysis
        public var source: SensitivityReferenceSource

        public init(analysis: SensitivityAnalysis, source: SensitivityReferenceSource) {
            self.analysis = analysis
            self.source = source
        }
    }

    /// The method and seed (a report or a saved run), and the epoch (a saved run).
    public var method: String?
    public var seed: UInt64?
    public var epoch: Int?
    public var rowsFile: String?
    public var f0File: String?
    /// The DR residual term's weights (nil: a saved run's, as it was trained).
    public var normalization: WeightNormalization?
    public var entries: [Entry]
    /// Estimators left out, and why.
    public var notes: [String]

    public init(method: String? = nil, seed: UInt64? = nil, epoch: Int? = nil, rowsFile: String? = nil, f0File: String? = nil,
                normalization: WeightNormalization? = nil, entries: [Entry], notes: [String] = []) {
        self.method = method
        self.seed = seed
        self.epoch = epoch
        self.rowsFile = rowsFile
        self.f0File = f0File
        self.normalization = normalization
        self.entries = entries
        self.notes = notes
    }
}

/// `cpo-tui sensitivity` on rows files: the analyses, their reference, and how they are printed.
public enum RowsSensitivity {
    /// What Λ* is measured against.
    public enum Reference: Sendable {
        /// FT's value, given (`--reference`): the same for every estimator.
        case value(Double)
        /// FT's rows file (and f0 file): FT's estimate under each estimator.
        case files(rows: RowsFile, f0: F0File?)
        /// P^R's own value from the same files.
        case prOwnValue
    }

    /// The analysis options: the grid of Λ, bootstrap replicates and their seed.
    public struct Options: Sendable {
        public var lambdas: [Double]
        public var replicates: Int
        public var seed: UInt64

        public init(lambdas: [Double] = Sensitivity.defaultGrid, replicates: Int = Sensitivity.defaultReplicates, seed: UInt64 = 0) {
            self.lambdas = lambdas
            self.replicates = replicates
            self.seed = seed
        }
    }

    /// The value of `estimator` for P^R itself on these rows (V_SNIPW: mean Y; V_DR: mean(Y − ĝ)
    /// plus the mean ĝ of the f0 samples). Nil when the estimator is undefined here.
    public static func prOwnValue(_ inputs: EstimatorInputs, estimator: Estimator) -> Double? {
        Sensitivity.problem(inputs.underPR, estimator: estimator).map(\.point).flatMap { $0.isFinite ? $0 : nil }
    }

    /// The reference value of `estimator` and where it comes from.
    static func reference(_ reference: Reference, estimator: Estimator, inputs: EstimatorInputs)
        -> (value: Double?, source: SensitivityReferenceSource) {
        switch reference {
        case .value(let x):
            return (x, .given)
        case .prOwnValue:
            return (prOwnValue(inputs, estimator: estimator), .prOwnValue)
        case let .files(rows, f0):
            if estimator.weightsSamples && f0 == nil {
                return (nil, .missing("\(estimator.name) of FT needs FT's f0 file: pass --reference-f0"))
            }
            let ft = EstimatorInputs(rows: rows, f0: f0, normalization: inputs.normalization)
            guard let p = Sensitivity.problem(ft, estimator: estimator)?.point, p.isFinite else {
                return (nil, .missing("FT's \(estimator.name) is undefined on \(rows.table.file)"))
            }
            return (p, .ftRows(file: rows.table.file))
        }
    }

    /// The analyses of one rows file (and f0 file): V_SNIPW always, V_DR with f0 samples.
    public static func analyze(rows: RowsFile, f0: F0File?, normalization: WeightNormalization, reference: Reference,
                               options: Options = Options(), method: String? = nil, seed: UInt64? = nil) -> SensitivityResult {
        let inputs = EstimatorInputs(rows: rows, f0: f0, normalization: normalization)
        var entries: [SensitivityResult.Entry] = [], notes: [String] = []
        for e in Sensitivity.estimators {
            if e.weightsSamples && f0 == nil {
                notes.append("\(e.name) needs the f0 file (--f0)")
                continue
            }
            let (value, source) = Self.reference(reference, estimator: e, inputs: inputs)
            guard let a = Sensitivity.analyze(inputs, estimator: e, reference: value, lambdas: options.lambdas,
                                              replicates: options.replicates, seed: options.seed) else {
                notes.append("\(e.name) is undefined on these rows (a weight or value is not finite)")
                continue
            }
            entries.append(.init(analysis: a, source: source))
        }
        return SensitivityResult(method: method, seed: seed, rowsFile: rows.table.file, f0File: f0?.table.file,
                                 normalization: normalization, entries: entries, notes: notes)
    }

    /// Every covered estimator's analysis of `inputs` against `reference(estimator)` (nil: P^R's
    /// own value): what `cpo-tui watch` attaches to an evaluation read from rows files.
    public static func analyses(_ inputs: EstimatorInputs, reference: (Estimator) -> Double?, seed: UInt64) -> [SensitivityAnalysis] {
        Sensitivity.estimators.compactMap { e in
            Sensitivity.analyze(inputs, estimator: e, reference: reference(e) ?? prOwnValue(inputs, estimator: e), seed: seed)
        }
    }

    // MARK: values of Λ

    /// `--lambdas 1,1.5,2`: each a finite number ≥ 1; ascending, repeats dropped. The error says
    /// what is wrong with which value.
    public static func parseLambdas(_ text: String) -> Result<[Double], LambdaListError> {
        var out: [Double] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let s = part.trimmingCharacters(in: .whitespaces)
            guard let x = Double(s), x.isFinite else { return .failure(LambdaListError("'\(s)' is not a finite number")) }
            guard x >= 1 else { return .failure(LambdaListError("\(s) is below 1 (Λ = 1 is no hidden confounding)")) }
            out.append(x)
        }
        guard out.count <= maxLambdas else { return .failure(LambdaListError("\(out.count) values; at most \(maxLambdas)")) }
        return .success(Array(Set(out)).sorted())
    }

    public static let maxLambdas = 10_000

    public struct LambdaListError: Error, CustomStringConvertible {
        public var description: String
        init(_ d: String) {
            description = "--lambdas: " + d + "; give values of Λ ≥ 1 separated by commas, e.g. 1,1.5,2,3,5"
        }
    }
}

// MARK: output

extension SensitivityResult {
    /// "CPO, seed 0, epoch 3".
    var title: String? {
        guard let method else { return nil }
        return method + (seed.map { ", seed \($0)" } ?? "") + (epoch.map { ", epoch \($0)" } ?? "")
    }

    /// The tables and one-line summaries for people.
    public var text: String {
        var out = ""
        if let title { out += "== " + title + (rowsFile == nil ? " (its last evaluation, saved with the run)" : "") + "\n" }
        if let rowsFile {
            out += "rows: \(rowsFile)" + (f0File.map { "   f0: \($0)" } ?? "   f0: none")
            out += normalization.map { "   DR residual weights: \($0.rawValue)" } ?? ""
            out += "\n"
        }
        for entry in entries { out += "\n" + Self.text(entry) }
        for n in notes { out += "\n(\(n))\n" }
        return out
    }

    static func text(_ entry: Entry) -> String {
        let a = entry.analysis
        var out = "\(a.estimator.name) = \(fixed(a.point)) at Λ = 1; reference "
        out += a.reference.map { fixed($0) + ": " } ?? ""
        out += entry.source.describe(a.estimator) + "\n"
        let interval = a.replicates > 0 ? "95% interval of the bounds (\(a.replicates) bootstrap replicates)" : "(no bootstrap: --replicates 0)"
        out += "       Λ       lower       upper   " + interval + "\n"
        for b in a.bounds {
            out += pad(short(b.lambda), 8) + "  " + pad(fixed(b.lower), 10) + "  " + pad(fixed(b.upper), 10)
            if let lo = b.intervalLower, let hi = b.intervalUpper { out += "   [\(fixed(lo)), \(fixed(hi))]" }
            out += "\n"
        }
        return out + summary(entry) + "\n"
    }

    /// One line in plain words: what Λ* says.
    static func summary(_ entry: Entry) -> String {
        let a = entry.analysis
        let base = entry.source.baseline
        guard a.reference != nil else {
            if case .missing(let why) = entry.source { return "Λ*: none without a reference value (\(why))" }
            return "Λ*: none without a reference value"
        }
        guard let star = a.breakdown, !star.isNaN else { return "Λ*: undefined on these rows" }
        let sampling = a.breakdownInterval.map { " (\(short($0)) allowing for sampling error)" } ?? ""
        // FT's own Λ* is 1 up to rounding (its reference is its own estimate, summed apart).
        if star <= 1 + 1e-9 { return "Λ* = 1: no gain over \(base) to erase (the estimate is not above \(base)'s)" }
        if star == .infinity {
            return "Λ* = ∞\(sampling): no Λ erases the gain over \(base) (every row's value lies above \(base)'s)"
        }
        return "Λ* = \(short(star))\(sampling): a hidden confounder would have to change the odds that a reader saw a text "
            + "by a factor of \(short(star)) to erase the gain over \(base)"
    }

    /// `s` right-aligned in `width` characters.
    static func pad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

    /// Values to 4 decimals, as `estimate` prints them.
    static func fixed(_ x: Double) -> String { x.isFinite ? String(format: "%.4f", x) : (x.isNaN ? "–" : (x > 0 ? "∞" : "-∞")) }

    /// Λ to 3 significant digits: 1, 1.25, 2.43, 119; ∞.
    static func short(_ x: Double) -> String { x.isFinite ? String(format: "%.3g", x) : (x.isNaN ? "–" : "∞") }

    // MARK: JSON

    /// The `--json` object (README "Sensitivity"): snake_case keys; a Λ* of +∞ is the string
    /// "inf" (as in metrics.jsonl), an undefined one null.
    public var json: [String: Any] {
        [
            "method": method ?? NSNull(), "seed": seed.map { $0 as Any } ?? NSNull(), "epoch": epoch ?? NSNull(),
            "rows_file": rowsFile ?? NSNull(), "f0_file": f0File ?? NSNull(), "normalization": normalization?.rawValue ?? NSNull(),
            "analyses": entries.map(Self.json), "notes": notes,
        ]
    }

    static func json(_ entry: Entry) -> [String: Any] {
        let a = entry.analysis
        return [
            "estimator": a.estimator.summaryKey, "point": jsonNumber(a.point), "reference": a.reference.map(jsonNumber) ?? NSNull(),
            "reference_source": entry.source.key ?? NSNull(),
            "breakdown": lambdaValue(a.breakdown), "breakdown_95": lambdaValue(a.breakdownInterval), "replicates": a.replicates,
            "bounds": a.bounds.map { b -> [String: Any] in
                ["lambda": b.lambda, "lower": jsonNumber(b.lower), "upper": jsonNumber(b.upper),
                 "ci95_lower": b.intervalLower.map(jsonNumber) ?? NSNull(), "ci95_upper": b.intervalUpper.map(jsonNumber) ?? NSNull()]
            },
        ]
    }

    /// Λ* in JSON: a number, "inf" for +∞, null when undefined.
    static func lambdaValue(_ x: Double?) -> Any {
        guard let x, !x.isNaN else { return NSNull() }
        return x == .infinity ? "inf" : x
    }

    /// JSON text: sorted keys, pretty-printed.
    public static func jsonText(_ object: [String: Any]) -> String { ReadBackJSON.text(object) }

    public static let jsonFormat = "cpo-tui-sensitivity"
}
