import CausalPO
import Foundation
import Lab

/// How a file's weight column compares with the weights recomputed from its log-probabilities
/// (softmax over the file of logP_f − logP_R, or logP_f − logP_f0). The estimates always use
/// the recomputed weights; a mismatch means the file's writer normalized differently, or the
/// log-probabilities and the weights come from different models, and is reported.
public struct WeightCheck: Sendable {
    /// A weight matches when |file − recomputed| ≤ absoluteTolerance + relativeTolerance·recomputed:
    /// loose enough for weights written with 6-7 significant digits (float32 writers).
    public static let relativeTolerance = 1e-4
    public static let absoluteTolerance = 1e-7

    public var file: String
    public var checked: Int
    public var mismatches: Int
    public var maxAbsoluteDifference: Double
    /// The worst mismatch: its line, the file's weight and the recomputed one.
    public var worst: (line: Int, inFile: Double, recomputed: Double)?

    public init(file: String, inFile: [Double], recomputed: [Double], lines: [Int]) {
        self.file = file
        checked = inFile.count
        var bad = 0, maxDiff = 0.0
        var worst: (line: Int, inFile: Double, recomputed: Double)?
        for i in inFile.indices {
            let d = abs(inFile[i] - recomputed[i])
            if d > Self.absoluteTolerance + Self.relativeTolerance * abs(recomputed[i]) {
                bad += 1
                if worst == nil || d > maxDiff { worst = (lines[i], inFile[i], recomputed[i]) }
            }
            maxDiff = max(maxDiff, d)
        }
        mismatches = bad
        maxAbsoluteDifference = maxDiff
        self.worst = worst
    }

    public var matches: Bool { mismatches == 0 }

    /// One sentence: "weights match ..." or what differs and where.
    public func sentence(_ what: String) -> String {
        guard let w = worst else {
            return "\(file): the weight column matches the softmax of \(what) (largest difference "
                + String(format: "%.1e", maxAbsoluteDifference) + ")"
        }
        return "WARNING: \(file): \(mismatches) of \(checked) weights differ from the softmax of \(what) (worst at line \(w.line): "
            + "file \(Self.number(w.inFile)), recomputed \(Self.number(w.recomputed))); the estimates use the recomputed weights"
    }

    static func number(_ x: Double) -> String { String(format: "%.6g", x) }
}

/// `cpo-tui estimate`: every estimate, the weight diagnostics and the reliability marks of one
/// evaluation, from its rows file (and f0 file) alone, computed by the lab's own code
/// (`HeldOutEvaluation`).
public struct RowsEstimate: Sendable {
    public var rowsFile: String
    public var f0File: String?
    public var rowCount: Int
    public var f0Count: Int?
    /// The DR residual term's weights (the run's objective normalization).
    public var normalization: WeightNormalization
    public var batchSize: Int
    public var evaluation: HeldOutEvaluation
    public var rowsCheck: WeightCheck
    public var f0Check: WeightCheck?

    /// The estimates of `rows` (and `f0`): without f0 samples V_OUT and V_DR are undefined.
    public init(rows: RowsFile, f0: F0File?, normalization: WeightNormalization = .hajek, batchSize: Int = 32) {
        rowsFile = rows.table.file
        f0File = f0?.table.file
        rowCount = rows.table.count
        f0Count = f0?.table.count
        self.normalization = normalization
        self.batchSize = batchSize
        evaluation = HeldOutEvaluation(
            EstimatorInputs(rows: rows, f0: f0, normalization: normalization),
            batchSize: max(1, batchSize), measureEmptyF0: false)
        rowsCheck = WeightCheck(file: rows.table.file, inFile: rows.weights,
                                recomputed: softmax(Estimators.logRatios(rows.logPF, rows.logPR)), lines: rows.table.lines)
        f0Check = f0.map {
            WeightCheck(file: $0.table.file, inFile: $0.weights, recomputed: softmax(Estimators.logRatios($0.logPF, $0.logP0)),
                        lines: $0.table.lines)
        }
    }

    /// The estimators this command prints, in the lab's order.
    public static let estimators = Estimator.allCases

    /// The quantile levels of log w, as keys: 0 → "p0", 0.05 → "p5".
    static func percentileKey(_ level: Double) -> String { "p" + String(format: "%g", level * 100) }

    // MARK: JSON

    /// The `--json` object (keys documented in README "Scaling out"): snake_case, NaN as null.
    public var json: [String: Any] {
        let r = evaluation.reliability
        var estimates: [String: Any] = [:]
        for e in Self.estimators {
            let x = evaluation.estimates[e]
            estimates[e.summaryKey] = x.value.isFinite
                ? ["value": x.value, "standard_error": jsonNumber(x.standardError), "ci95": [jsonNumber(x.lower), jsonNumber(x.upper)],
                   "reliable": !r.unreliable.contains(e)] as [String: Any]
                : NSNull()
        }
        let w = evaluation.weights
        var percentiles: [String: Any] = [:]
        for (level, q) in zip(w.quantileLevels, w.logRatioQuantiles) { percentiles[Self.percentileKey(level)] = jsonNumber(q) }
        func ess(_ e: EffectiveSampleSize) -> [String: Any] {
            ["ess": jsonNumber(e.ess), "count": e.count, "fraction": jsonNumber(e.fraction), "enough": e.enough]
        }
        func check(_ c: WeightCheck) -> [String: Any] {
            var o: [String: Any] = ["checked": c.checked, "mismatches": c.mismatches, "max_abs_difference": jsonNumber(c.maxAbsoluteDifference)]
            if let worst = c.worst {
                o["worst"] = ["line": worst.line, "in_file": worst.inFile, "recomputed": worst.recomputed]
            }
            return o
        }
        return [
            "format": "cpo-tui-estimate", "version": 1,
            "rows_file": rowsFile, "f0_file": f0File ?? NSNull(), "rows": rowCount, "f0_samples": f0Count ?? NSNull(),
            "normalization": normalization.rawValue, "batch_size": batchSize,
            "estimates": estimates,
            "ess": ["rows": ess(w.effectiveSampleSize), "f0": evaluation.f0Weights.map { ess($0) as Any } ?? NSNull()],
            "weights": ["max_weight_share": jsonNumber(w.maxWeightShare), "mean_batch_ess_fraction": jsonNumber(w.meanBatchESSFraction),
                        "log_ratio_percentiles": percentiles],
            "overlap": ["threshold": w.overlap.threshold, "limit": w.overlap.limit, "count": w.overlap.count,
                        "share": w.overlap.share, "triggered": w.overlap.triggered],
            "unreliable": r.unreliable.filter { evaluation.estimates[$0].value.isFinite }.map(\.summaryKey),
            "unreliable_reason": reliabilityReason ?? NSNull(),
            "weight_check": ["rows": check(rowsCheck), "f0": f0Check.map { check($0) as Any } ?? NSNull()],
        ]
    }

    /// The JSON text (sorted keys, pretty-printed).
    public func jsonText() -> String { ReadBackJSON.text(json) }

    /// Why the defined estimates marked unreliable are (nil when none is).
    var reliabilityReason: String? {
        let r = evaluation.reliability
        let defined = r.unreliable.filter { evaluation.estimates[$0].value.isFinite }
        // The lab's sentence, naming only the estimates this file set defines.
        guard !defined.isEmpty, let reason = r.reason, let why = reason.range(of: " unreliable: ") else { return nil }
        return defined.map(\.name).joined(separator: ", ") + reason[why.lowerBound...]
    }

    // MARK: text

    /// The report for people: the estimates with intervals (unreliable ones marked `!`, as the
    /// dashboard does), ESS, the weights' percentiles and overlap, and the weight check.
    public var text: String {
        let r = evaluation.reliability
        var out = "rows: \(rowsFile) (\(rowCount) rows)"
        out += f0File.map { "   f0: \($0) (\(f0Count ?? 0) samples)" } ?? "   f0: none (V_OUT and V_DR need --f0)"
        out += "\nDR residual weights: \(normalization.rawValue)\n\n"
        out += "estimator      value        95% interval            SE\n"
        for e in Self.estimators {
            let x = evaluation.estimates[e]
            let name = e.name.padding(toLength: 12, withPad: " ", startingAt: 0)
            guard x.value.isFinite else {
                out += "\(name)   –" + (e.weightsSamples ? "  (needs --f0)" : "") + "\n"
                continue
            }
            out += name + String(format: " %10.4f%@  [%.4f, %.4f]  %.4f", x.value, r.unreliable.contains(e) ? "!" : " ", x.lower, x.upper, x.standardError) + "\n"
        }
        if let reason = reliabilityReason { out += "! " + reason + "\n" }
        let w = evaluation.weights
        out += "\n" + String(format: "held-out ESS %.1f of %d rows (%.1f%%)", w.ess, w.count, 100 * w.essFraction)
        if let f = evaluation.f0Weights { out += String(format: "   f0 ESS %.1f of %d samples (%.1f%%)", f.ess, f.count, 100 * f.fraction) }
        out += String(format: "\nlargest weight %.2f%% of the total   in-batch ESS (batches of %d) %.2f\n", 100 * w.maxWeightShare, batchSize,
                      w.meanBatchESSFraction)
        out += "log w percentiles: " + zip(w.quantileLevels, w.logRatioQuantiles).map {
            Self.percentileKey($0) + String(format: " %+.3f", $1)
        }.joined(separator: "  ") + "\n"
        out += String(format: "overlap: %d of %d rows (%.1f%%) have |log w| > %.2f: %@ (alarm above %.0f%%)\n", w.overlap.count, w.count,
                      100 * w.overlap.share, w.overlap.threshold, w.overlap.triggered ? "ALARM" : "ok", 100 * w.overlap.limit)
        out += rowsCheck.sentence("logP_f - logP_R") + "\n"
        if let c = f0Check { out += c.sentence("logP_f - logP_f0") + "\n" }
        return out
    }
}
