import CausalPO
import CPOSupport
import Foundation
import OutcomeData

/// Everything one seed's run produced, as the report needs it.
public struct SeedResult: Sendable {
    public var seed: UInt64
    public var metrics: [Method: [EpochMetrics]]
    public var steps: [Method: [StepRecord]]
    public var winScores: [Method: [Double]]
    public var heldOut: [Method: [HeldOutRow]]
    /// The held-out f0 samples under each method's final model (with `heldOut`, what V_OUT and
    /// V_DR are computed from).
    public var heldOutF0: [Method: [HeldOutF0Sample]]
    public var ftHistory: [FTEpoch]
    public var ghatQuality: OutcomeModelQuality?
    public var ghatQualityVersusOutcomes: OutcomeModelQuality?
    public var attributeEffects: [AttributeEffect]
    public var failures: [Method: String]
    /// The models' shape and the texts its context cut.
    public var fit: ModelFit?
    /// What the run cannot identify, doubtful propensities, cut texts (`Experiment.warnings`).
    public var warnings: [String]
    /// How well the user-data judge tells texts apart (nil in worlds, where the oracle judges,
    /// and for runs saved before the judge was assessed).
    public var judge: JudgeAssessment?

    /// Collects the results of an experiment; without `heldOutRows` (no forward passes) it is
    /// enough for metrics.jsonl.
    public init(_ e: Experiment, heldOutRows: Bool = true) {
        seed = e.seed
        metrics = e.metrics
        steps = e.steps
        winScores = e.winScores
        heldOut = heldOutRows ? Dictionary(uniqueKeysWithValues: e.config.methods.map { ($0, e.heldOutRows($0)) }) : [:]
        heldOutF0 = heldOutRows ? Dictionary(uniqueKeysWithValues: e.config.methods.map { ($0, e.heldOutF0Samples($0)) }) : [:]
        ftHistory = e.ftHistory
        ghatQuality = e.ghatQuality
        ghatQualityVersusOutcomes = e.ghatQualityVersusOutcomes
        attributeEffects = e.attributeEffects
        failures = Dictionary(uniqueKeysWithValues: e.config.methods.compactMap { m in e.failure(of: m).map { (m, $0) } })
        fit = e.fit
        warnings = e.warnings
        judge = e.judgeAssessment
    }

    func final(_ m: Method) -> EpochMetrics? { metrics[m]?.last }
}

/// A mean over seeds with a 95% interval: Student t across seeds when there are several, the
/// estimate's own interval when there is one.
public struct SeedSummary: Sendable, Hashable {
    public var mean: Double
    public var lower: Double
    public var upper: Double

    init(_ values: [Double], single: Estimate? = nil) {
        let v = values.filter(\.isFinite)
        guard !v.isEmpty else { mean = .nan; lower = .nan; upper = .nan; return }
        let m = v.reduce(0, +) / Double(v.count)
        mean = m
        if v.count == 1 {
            lower = single?.lower ?? .nan
            upper = single?.upper ?? .nan
        } else {
            let sd = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
            let half = SeedSummary.t975(df: v.count - 1) * sd / Double(v.count).squareRoot()
            lower = m - half
            upper = m + half
        }
    }

    /// The 97.5% quantile of Student's t.
    static func t975(df: Int) -> Double {
        let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
                               2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
                               2.052, 2.048, 2.045, 2.042]
        return df >= 1 && df <= table.count ? table[df - 1] : 1.960
    }

    var json: Any {
        ["mean": jsonNumber(mean), "ci95": [jsonNumber(lower), jsonNumber(upper)]]
    }

    var text: String {
        guard mean.isFinite else { return "–" }
        return lower.isFinite ? String(format: "%.3f [%.3f, %.3f]", mean, lower, upper) : String(format: "%.3f", mean)
    }
}

public func jsonNumber(_ x: Double) -> Any { x.isFinite ? x : NSNull() }

/// A table of the report: report.md writes it in markdown, report.html in HTML.
struct ReportTable {
    var header: [String]
    var rows: [[String]]
}

/// Who judged the win rates, and whether its judgments mean anything.
public enum JudgeStatus: Sendable, Hashable {
    /// The world's oracle g*: exact.
    case oracle
    /// The user-data judge, assessed in every seed.
    case assessed([JudgeAssessment])
    /// A judge from a run saved before judges were assessed.
    case unassessed

    /// Whether win rates are evidence: the oracle's always; an assessed judge's when it tells
    /// texts apart in every seed.
    public var informative: Bool {
        switch self {
        case .oracle: return true
        case .assessed(let a): return !a.isEmpty && a.allSatisfy(\.informative)
        case .unassessed: return false
        }
    }
}

/// Writes metrics.jsonl, rows-<method>-seed<k>.csv, f0-<method>-seed<k>.csv, summary.json, report.md and
/// report.html (the same numbers with SVG charts, `ReportHTML.swift`).
public struct ReportWriter {
    public let config: LabConfig
    public let data: PreparedData
    public let results: [SeedResult]
    /// The Λ the world's hidden trait implies (`PreparedData.hiddenTraitLambda`; nil when the
    /// propensities are exact): the report checks the bounds there against the truth.
    var hiddenTraitLambda: Double?

    public init(config: LabConfig, data: PreparedData, results: [SeedResult]) {
        self.config = config
        self.data = data
        self.results = results
        hiddenTraitLambda = data.hiddenTraitLambda
    }

    /// Writes every file into `dir` (created if needed), together: every file is written in
    /// full before any replaces its old version, so a failure (a full disk) leaves the report
    /// that was there as it was.
    public func write(to dir: String) throws(LabError) {
        do { try OutputDirectory.make(dir) } catch {
            throw .failed("cannot create the report directory \(dir): \(error.reason). Choose a writable --report directory.")
        }
        let files = AtomicFile.Batch()
        func put(_ name: String, _ bytes: [UInt8]) throws(LabError) {
            do { try files.add(bytes, to: dir + "/" + name) } catch { throw Self.failure(error, dir) }
        }
        try put("metrics.jsonl", Array(metricsJSONL().utf8))
        for r in results {
            for m in config.methods {
                guard let rows = r.heldOut[m] else { continue }
                var w = CSVWriter(header: ["text", "outcome", "logP_f", "logP_R", "ghat", "weight"])
                for row in rows {
                    w.writeRecord([row.text, CSVWriter.format(row.outcome), CSVWriter.format(row.logPF),
                                   CSVWriter.format(row.logPR), CSVWriter.format(row.ghat), CSVWriter.format(row.weight)])
                }
                try put("rows-\(m.rawValue)-seed\(r.seed).csv", w.bytes)
                guard let samples = r.heldOutF0[m] else { continue }
                var f = CSVWriter(header: ["text", "logP_f0", "logP_f", "ghat", "weight"])
                for x in samples {
                    f.writeRecord([x.text, CSVWriter.format(x.logP0), CSVWriter.format(x.logPF), CSVWriter.format(x.ghat),
                                   CSVWriter.format(x.weight)])
                }
                try put("f0-\(m.rawValue)-seed\(r.seed).csv", f.bytes)
            }
        }
        let summaryData: Data
        do {
            summaryData = try JSONSerialization.data(withJSONObject: summary(), options: [.prettyPrinted, .sortedKeys])
        } catch {
            throw .failed("could not encode summary.json: \(error)")
        }
        try put("summary.json", [UInt8](summaryData))
        try put("report.md", Array(markdown().utf8))
        try put("report.html", Array(html().utf8))
        do { try files.commit() } catch { throw Self.failure(error, dir) }
    }

    private static func failure(_ error: FileWriteError, _ dir: String) -> LabError {
        if case .renameFailed = error {
            return .failed("writing the report failed at \(error.path): \(error.reason). Files in \(dir) before it are new, the rest old: write the report again.")
        }
        return .failed("writing the report failed at \(error.path): \(error.reason). The report in \(dir) is as it was (no file of it was replaced).")
    }

    // MARK: metrics.jsonl

    func metricsJSONL() -> String {
        let enc = MetricsJSON.encoder()
        var lines: [String] = []
        func add(_ kind: String, _ seed: UInt64, _ method: String, _ value: some Encodable) {
            guard let d = try? enc.encode(value), var obj = String(data: d, encoding: .utf8), obj.hasPrefix("{") else { return }
            obj.removeFirst()
            lines.append("{\"type\":\"\(kind)\",\"seed\":\(seed),\"method_name\":\"\(method)\"," + obj)
        }
        for r in results {
            for e in r.ftHistory { add("ft_epoch", r.seed, "FT", e) }
            for m in config.methods {
                for s in r.steps[m] ?? [] { add("step", r.seed, m.rawValue, s) }
                for e in r.metrics[m] ?? [] { add("epoch", r.seed, m.rawValue, e) }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: summary.json

    func over(_ m: Method, _ f: (EpochMetrics) -> Estimate?) -> SeedSummary {
        let finals = results.compactMap { $0.final(m) }
        return SeedSummary(finals.compactMap { f($0)?.value }, single: finals.count == 1 ? f(finals[0]) : nil)
    }

    func overScalar(_ m: Method, _ f: (EpochMetrics) -> Double?) -> SeedSummary {
        SeedSummary(results.compactMap { $0.final(m) }.compactMap(f))
    }

    /// Every seed's warnings, once each, with the seeds they came from when not all.
    var warnings: [String] {
        var seen: [String: [UInt64]] = [:]
        var order: [String] = []
        for r in results {
            for w in r.warnings {
                if seen[w] == nil { order.append(w) }
                seen[w, default: []].append(r.seed)
            }
        }
        return order.map { w in
            let seeds = seen[w] ?? []
            return seeds.count == results.count ? w : "seed \(seeds.map(String.init).joined(separator: ", ")): " + w
        }
    }

    func summary() -> [String: Any] {
        let design: String
        switch config.source {
        case .world: design = config.design.rawValue
        case .file: design = "file"
        }
        var methods: [[String: Any]] = []
        for m in config.methods {
            var o: [String: Any] = ["name": m.rawValue, "epochs": results.first?.final(m)?.epoch ?? 0]
            o["true_value"] = data.world == nil ? NSNull() : over(m) { $0.trueValue }.json
            o["normalized_gain"] = data.world == nil ? NSNull() : overScalar(m) { $0.normalizedGain }.json
            for e in Estimator.allCases { o[e.summaryKey] = over(m) { $0.estimates[e] }.json }
            o["win_rate_vs_ft"] = over(m) { $0.winRateVsFT }.json
            o["kl_to_ft"] = jsonNumber(overScalar(m) { $0.klToFT.value }.mean)
            o["ess_fraction"] = jsonNumber(overScalar(m) { $0.weights.essFraction }.mean)
            o["f0_ess_fraction"] = jsonNumber(overScalar(m) { $0.f0Weights?.fraction }.mean)
            // Estimators whose final evaluation rested on too few effective rows, in any seed.
            let unreliable = unreliableEstimators(m)
            o["unreliable"] = unreliable.map(\.summaryKey)
            o["unreliable_reasons"] = results.compactMap { r in r.final(m)?.reliability.reason.map { "seed \(r.seed): \($0)" } }
            o["invalid_rate"] = data.world == nil ? NSNull() : jsonNumber(overScalar(m) { $0.invalidRate }.mean)
            if let shares = results.first?.final(m)?.attributeShares {
                var s: [String: Any] = [:]
                for name in shares.keys { s[name] = jsonNumber(overScalar(m) { $0.attributeShares?[name] }.mean) }
                o["attribute_shares"] = s
            }
            let failures = results.compactMap { $0.failures[m] }
            o["failed"] = failures.isEmpty ? NSNull() : failures.joined(separator: "; ")
            if let s = sensitivityJSON(m) { o["sensitivity"] = s }
            if m.trains {
                let (byEpoch, stopping) = byEpochJSON(m)
                o["by_epoch"] = byEpoch
                o["stopping_rule"] = stopping
            }
            methods.append(o)
        }
        var dataObj: [String: Any] = [
            "source": data.sourceLabel, "rows": data.train.count, "eval_rows": data.eval.count, "design": design,
            "ghat_from": config.ghatFrom.rawValue, "propensity": config.propensity.rawValue,
            "seeds": results.map(\.seed), "outcome_kind": data.outcomeKind.rawValue,
            "split": ["seed": data.split.seed, "eval_fraction": data.split.evalFraction, "train": data.split.trainCount,
                      "eval": data.split.evalCount, "from_column": data.split.fromColumn,
                      "validation": data.split.validationCount, "validation_fraction": data.split.validationFraction],
        ]
        if let w = data.world {
            dataObj["v_star"] = w.bestValue
            dataObj["eval_design"] = config.evalDesign.rawValue
        }
        if let lambda = data.hiddenTraitLambda { dataObj["hidden_trait_lambda"] = lambda }
        dataObj["warnings"] = warnings
        if let fit = results.first?.fit {
            dataObj["texts_cut"] = Dictionary((fit.cuts + (fit.f0Cut.map { [$0] } ?? [])).map { ($0.part, ["cut": $0.cut, "of": $0.count]) },
                                              uniquingKeysWith: { a, _ in a })
        }
        if let q = results.first?.ghatQuality { dataObj["ghat_quality"] = [q.metric.rawValue: jsonNumber(q.value)] }
        // The first seed's model shape (each seed fits its own training texts).
        let model = results.first?.fit?.model ?? config.model
        dataObj["judge"] = judgeJSON()
        dataObj["ess_rule"] = ["min_fraction": EffectiveSampleSize.minFraction, "min_rows": EffectiveSampleSize.minimum]
        return ["data": dataObj, "methods": methods,
                "config": ["epochs": config.epochs, "learning_rate": Double(config.learningRate), "batch_size": config.batchSize,
                           "f0_ratio": config.f0Ratio, "f0_from_scratch": config.f0FromScratch, "folds": config.folds,
                           "normalization": config.objective.normalization.rawValue, "robust_lambda": config.objective.robustLambda,
                           "model": ["vocab": model.vocabSize, "context": model.contextLength,
                                     "d_model": model.dModel, "heads": model.heads, "layers": model.layers]]]
    }

    /// The config line of a run trained with `--robust-lambda` (nil without it, or without a
    /// method that reads it). The methods keep their names: the option is what is recorded.
    var robustObjectiveLine: String? {
        let lambda = config.objective.robustLambda
        let robust = config.methods.filter { $0.spec.options.contains(.robustLambda) }
        guard lambda != 1, !robust.isEmpty else { return nil }
        let names = robust.map(\.rawValue).joined(separator: " and ")
        return "Robust objective (`--robust-lambda \(String(format: "%g", lambda))`): \(names) trained on the worst case of "
            + "\(robust.count > 1 ? "their" : "its") importance-weighted value when each training row's weight may be off by a "
            + "factor in [1/Λ, Λ], Λ = \(String(format: "%g", lambda))"
            + (robust.contains(.drCPO) ? " (DR-CPO: its residual term; V_OUT does not involve P^R)." : ".")
    }

    /// Who judged the win rates, and whether the judgments mean anything.
    public var judgeStatus: JudgeStatus {
        if data.world != nil { return .oracle }
        let assessed = results.compactMap(\.judge)
        return assessed.count == results.count && !assessed.isEmpty ? .assessed(assessed) : .unassessed
    }

    func judgeJSON() -> [String: Any] {
        switch judgeStatus {
        case .oracle: return ["kind": "oracle", "informative": true]
        case .unassessed: return ["kind": "ridge on ĝ's features (saved before judges were assessed)", "informative": false]
        case .assessed(let a):
            return ["kind": "nearest neighbours on character n-grams", "informative": judgeStatus.informative,
                    "seeds": a.map { j -> [String: Any] in
                        [j.quality.metric.rawValue: jsonNumber(j.quality.value), "p_value": j.pValue, "rows": j.rows,
                         "neighbors": j.neighbors, "informative": j.informative]
                    }]
        }
    }

    /// The value estimators marked unreliable in the final evaluation of any seed.
    func unreliableEstimators(_ m: Method) -> [Estimator] {
        let marked = Set(results.compactMap { $0.final(m) }.flatMap { $0.reliability.unreliable })
        return Estimator.allCases.filter { marked.contains($0) }
    }

    // MARK: report.md

    /// Pairwise win rate of `a` over `b` on the shared prompts, pooled over seeds by averaging
    /// each seed's rate (with the across-seed interval when there are several).
    func pairwise(_ a: Method, _ b: Method) -> SeedSummary {
        let per = results.compactMap { r -> Estimate? in
            guard let sa = r.winScores[a], let sb = r.winScores[b], sa.count == sb.count, !sa.isEmpty else { return nil }
            return WinRate.estimate(scoresA: sa, scoresB: sb)
        }
        return SeedSummary(per.map(\.value), single: per.count == 1 ? per[0] : nil)
    }

    /// A markdown table with one row per method: its name, then `cells(method)`.
    func table(_ header: [String], cells: (Method) -> [String]) -> String {
        markdownTable(ReportTable(header: header, rows: rows(cells)))
    }

    /// One row per method: its name, then `cells(method)`.
    func rows(_ cells: (Method) -> [String]) -> [[String]] { config.methods.map { [$0.rawValue] + cells($0) } }

    func markdownTable(_ t: ReportTable) -> String {
        var md = "| " + t.header.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: t.header.count) + "\n"
        for row in t.rows { md += "| " + row.joined(separator: " | ") + " |\n" }
        return md
    }

    /// Table 1 (report.md and report.html): each method's value under every estimator, the
    /// unreliable ones marked †.
    var valueTable: ReportTable {
        ReportTable(header: ["method"] + Estimator.allCases.map(\.longName), rows: rows { m in
            let unreliable = unreliableEstimators(m)
            return Estimator.allCases.map { e in over(m) { $0.estimates[e] }.text + (unreliable.contains(e) ? " †" : "") }
        })
    }

    /// The worlds' true-value table (report.md and report.html).
    var trueValueTable: ReportTable {
        ReportTable(header: ["method", "true value", "normalized gain", "invalid-text rate", "KL to FT", "ESS fraction"], rows: rows { m in
            [over(m) { $0.trueValue }.text, overScalar(m) { $0.normalizedGain }.text, overScalar(m) { $0.invalidRate }.text,
             overScalar(m) { $0.klToFT.value }.text, overScalar(m) { $0.weights.essFraction }.text]
        })
    }

    /// What the † of table 1 means.
    static let unreliableNote = "† Unreliable: the weighted estimate rests on a few texts, and its interval does not mean what it says."

    /// Why the estimates marked † in table 1 mean nothing, one sentence per method and seed.
    var reliabilityReasons: [String] {
        config.methods.flatMap { m in
            results.compactMap { r in r.final(m)?.reliability.reason.map { "\(m.rawValue), seed \(r.seed): \($0)." } }
        }
    }

    /// Why the estimates marked † in table 1 mean nothing, one line per method and seed.
    func reliabilityNotes() -> String {
        let lines = reliabilityReasons
        guard !lines.isEmpty else { return "" }
        return "\n" + Self.unreliableNote + "\n\n" + lines.map { "- " + $0 }.joined(separator: "\n") + "\n"
    }

    /// Section 2: what judged, whether it can tell texts apart, and the win rates only if so,
    /// each marked * when its 95% interval excludes ½.
    func winRateSection() -> String {
        var md = "Continuations of the same truncated held-out texts, judged by "
        switch judgeStatus {
        case .oracle: md += "the world's oracle g*"
        case .unassessed: md += "a ridge on ĝ's features fitted on the held-out split (a run saved before judges were assessed)"
        case .assessed(let a):
            md += "k nearest neighbours on character n-grams, fitted on the held-out split only (unlike ĝ: other rows, features "
            md += "and model); per seed: " + zip(results, a).map { r, j in "seed \(r.seed) \(j.summary)" }.joined(separator: "; ")
        }
        md += "; ties count half.\n\n"
        guard judgeStatus.informative else {
            switch judgeStatus {
            case .assessed(let a):
                let bad = zip(results, a).filter { !$1.informative }.map { "seed \($0.0.seed): \($0.1.verdict)" }
                md += "**No win rates are shown:** " + bad.joined(separator: "; ") + ". They are in `summary.json` for the record.\n"
            default:
                md += "**No win rates are shown:** this judge was never checked against chance, so its win rates are not evidence. "
                md += "They are in `summary.json` for the record.\n"
            }
            return md
        }
        var marked = 0
        md += "| | " + config.methods.map(\.rawValue).joined(separator: " | ") + " |\n|---|"
        md += String(repeating: "---|", count: config.methods.count) + "\n"
        for a in config.methods {
            md += "| \(a.rawValue) |"
            for b in config.methods {
                if a == b { md += " – |"; continue }
                let w = pairwise(a, b)
                let excludesHalf = w.lower > 0.5 || w.upper < 0.5
                if excludesHalf { marked += 1 }
                md += " \(w.text)\(excludesHalf ? "*" : "") |"
            }
            md += "\n"
        }
        md += marked > 0
            ? "\n\\* the 95% interval excludes ½.\n"
            : "\nNo win rate's 95% interval excludes ½: the judge finds no difference between any two methods.\n"
        return md
    }

    func markdown() -> String {
        var md = "# cpo-tui report\n\n"
        md += "Data: `\(data.sourceLabel)`, \(data.train.count) training rows (\(config.design.rawValue) design for worlds), "
        if !data.validation.isEmpty { md += "\(data.validation.count) validation rows (FT's stopping only), " }
        md += "\(data.eval.count) held-out rows\(config.evalDesign == .observational ? " (observational design)" : ""); ĝ from `\(config.ghatFrom.rawValue)`; P^R from `\(config.propensity.rawValue)`; "
        md += "seeds \(results.map { String($0.seed) }.joined(separator: ", ")); \(config.epochs) epochs per method.\n"
        if let robust = robustObjectiveLine { md += robust + "\n" }
        if let q = results.first?.ghatQuality {
            md += "ĝ held-out \(q.metric.rawValue) (seed \(results[0].seed)): \(String(format: "%.3f", q.value))"
            if let v = results.first?.ghatQualityVersusOutcomes, v != q {
                md += "; against the true outcomes: \(String(format: "%.3f", v.value))"
            }
            md += ".\n"
        }
        md += config.f0FromScratch
            ? "f0 samples: drawn from FT from scratch, so their importance ratio P^f/P^FT is exact.\n"
            : "f0 samples: FT's continuations of truncated training texts (`--f0-from-prefixes`). Their importance ratio uses FT's "
                + "probability of the whole text, not the density they were drawn from, so V_OUT and V_DR are approximate.\n"
        if let fit = results.first?.fit { md += "Model (seed \(results[0].seed)): \(fit.summary).\n" }
        let warnings = warnings
        if !warnings.isEmpty { md += "\n## Warnings\n\n" + warnings.map { "- **" + $0 + "**" }.joined(separator: "\n") + "\n\n" }
        md += "Values are means over seeds with 95% intervals (across seeds when there are several, otherwise the estimate's own).\n\n"

        md += "## 1. Value of each trained model under the objectives\n\n"
        md += markdownTable(valueTable)
        md += reliabilityNotes()

        md += "\n## 2. Pairwise win rates (row method over column method)\n\n"
        md += winRateSection()

        if config.ghatFrom != .same {
            md += "\n## 3. Confounding study\n\n"
            md += "This run's ĝ was fit on `\(config.ghatFrom.rawValue)` data, so it is confounded"
            if let v = results.first?.ghatQualityVersusOutcomes { md += String(format: " (its %@ against the true outcomes: %.3f)", v.metric.rawValue, v.value) }
            md += ". Methods that trust ĝ (OO-RLHF) should suffer; DR-CPO's residual term should correct it; CPO does not use ĝ. "
            md += "Compare with a run using `--ghat-from same`.\n\n"
            // The estimators that read ĝ: V_DR corrects it, V_OUT trusts it.
            let trusting: [Estimator] = [.dr, .out]
            let world = data.world != nil
            let wins = judgeStatus.informative
            md += table(["method"] + (wins ? ["win rate vs FT"] : []) + trusting.map(\.name) + (world ? ["true value", "normalized gain"] : [])) { m in
                (wins ? [over(m) { $0.winRateVsFT }.text] : []) + trusting.map { e in over(m) { $0.estimates[e] }.text }
                    + (world ? [over(m) { $0.trueValue }.text, overScalar(m) { $0.normalizedGain }.text] : [])
            }
        }

        if let w = data.world {
            md += "\n## \(config.ghatFrom != .same ? 4 : 3). True value (world `\(w.name)`, V* = \(String(format: "%.3f", w.bestValue)))\n\n"
            md += markdownTable(trueValueTable)
            md += "\nAttribute shares in each model's samples (what each method learned to write):\n\n"
            md += table(["method"] + w.attributes.map(\.name)) { m in
                w.attributes.map { a in String(format: "%.2f", overScalar(m) { $0.attributeShares?[a.name] }.mean) }
            }
        }
        let next = (config.ghatFrom != .same ? 4 : 3) + (data.world != nil ? 1 : 0)
        md += sensitivitySection(number: next)
        md += byEpochSection(number: next + (hasSensitivity ? 1 : 0))
        let failures = results.flatMap { r in r.failures.map { "seed \(r.seed): \($0.key.rawValue) failed: \($0.value)" } }
        if !failures.isEmpty { md += "\n## Failures\n\n" + failures.map { "- " + $0 }.joined(separator: "\n") + "\n" }
        md += "\nFiles: `summary.json` (the numbers above), `metrics.jsonl` (one line per step and per epoch per method and seed), "
        md += "`rows-METHOD-seedK.csv` (held-out rows with logP_f, logP_R, ĝ and weight) and `f0-METHOD-seedK.csv` (held-out f0 "
        md += "samples with logP_f0, logP_f, ĝ and weight): V_IPW, V_SNIPW, V_OUT and V_DR can be recomputed from these two alone. "
        md += "`report.html`: " + Self.htmlDescription + ".\n"
        return md
    }
}
