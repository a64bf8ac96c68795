import CausalPO
import Foundation
import ReportCharts

/// Λ* of one method and estimator over the seeds: a mean with its 95% interval when every seed's
/// is finite, else each seed's value (+∞, "never", has no mean).
struct BreakdownSummary {
    /// One value per seed that measured it, with the seed.
    var values: [(seed: UInt64, value: Double)]

    var isEmpty: Bool { values.isEmpty }

    /// The mean over seeds with its 95% interval, which stops at 1 (no Λ* is below it).
    var summary: SeedSummary {
        var s = SeedSummary(values.map(\.value))
        if s.lower.isFinite { s.lower = max(1, s.lower) }
        return s
    }

    /// "2.310", "2.310 [1.900, 2.700]" over several seeds, "1 (no gain)", "∞", or per seed when
    /// some are infinite.
    var text: String {
        guard !values.isEmpty else { return "–" }
        if values.allSatisfy({ $0.value == 1 }) { return "1 (no gain)" }
        if values.allSatisfy(\.value.isFinite) { return summary.text }
        if values.allSatisfy({ $0.value == .infinity }) { return "∞" }
        return values.map { "seed \($0.seed): " + BreakdownSummary.format($0.value) }.joined(separator: "; ")
    }

    static func format(_ v: Double) -> String { v == .infinity ? "∞" : v.isFinite ? String(format: "%.3f", v) : "–" }

    /// `{mean, ci95, seeds}`: +∞ written "inf" as in metrics.jsonl (null would read as "not
    /// measured"); the mean and interval only when every seed's value is finite.
    var json: Any {
        let seeds = values.map { BreakdownSummary.jsonValue($0.value) }
        if values.allSatisfy(\.value.isFinite) {
            let s = summary
            return ["mean": jsonNumber(s.mean), "ci95": [jsonNumber(s.lower), jsonNumber(s.upper)], "seeds": seeds]
        }
        let allInfinite = values.allSatisfy { $0.value == .infinity }
        return ["mean": allInfinite ? "inf" as Any : NSNull(), "ci95": [NSNull(), NSNull()], "seeds": seeds]
    }

    static func jsonValue(_ v: Double) -> Any { v == .infinity ? "inf" : jsonNumber(v) }
}

/// Whether the bounds at the Λ a world's hidden trait implies cover the method's true value, in
/// one seed (truth used for reporting only).
struct HiddenTraitCoverage {
    var seed: UInt64
    var bound: SensitivityBound
    var truth: Double
    /// Recomputed from the held-out rows at the Λ itself (else the grid point at or above it).
    var exact: Bool

    var covered: Bool { bound.covers(truth) }
}

/// The report's section on hidden confounding (report.md, report.html, summary.json): Λ* per
/// method from every seed's final evaluation, the bounds at a few Λ, and in a hidden-trait world
/// whether the bounds at the trait's Λ cover the true value.
extension ReportWriter {
    /// The Λ of the bounds table: no hidden confounding, then readable steps.
    static let sensitivityTableLambdas: [Double] = [1, 1.25, 1.5, 2, 3]

    /// What Λ and Λ* mean, one sentence under the tables.
    static let sensitivityStatement = "Λ* is how far hidden confounding would have to go to erase the gain over FT: the "
        + "smallest Λ (each reader's true chance of seeing a text off by up to a factor Λ from the P^R used) at which the "
        + "lower bound of the method's value falls to FT's estimate, which is held fixed; Λ* 95% also allows for sampling "
        + "error (the 95% interval's lower end). Λ* = 1: no gain to erase; ∞: no Λ erases it."

    /// Each seed's analysis of `estimator` for `m` at its final evaluation (seeds without one are left out).
    func sensitivityAnalyses(_ m: Method, _ estimator: Estimator) -> [(seed: UInt64, analysis: SensitivityAnalysis)] {
        results.compactMap { r in r.final(m)?.sensitivity(estimator).map { (r.seed, $0) } }
    }

    /// Whether any trained method's final evaluation has a sensitivity analysis (runs saved
    /// before it was measured have none, and their report has no such section).
    var hasSensitivity: Bool {
        trainedMethods.contains { m in Sensitivity.estimators.contains { !sensitivityAnalyses(m, $0).isEmpty } }
    }

    func breakdown(_ m: Method, _ estimator: Estimator, interval: Bool) -> BreakdownSummary {
        BreakdownSummary(values: sensitivityAnalyses(m, estimator).compactMap { s, a in
            (interval ? a.breakdownInterval : a.breakdown).map { (s, $0) }
        })
    }

    /// Λ* and Λ* 95% per trained method, for V_SNIPW and V_DR.
    var breakdownTable: ReportTable {
        let header = ["method"] + Sensitivity.estimators.flatMap { ["\($0.name) Λ*", "\($0.name) Λ* 95%"] }
        return ReportTable(header: header, rows: trainedMethods.map { m in
            [m.rawValue] + Sensitivity.estimators.flatMap { e in
                [breakdown(m, e, interval: false).text, breakdown(m, e, interval: true).text]
            }
        })
    }

    /// The mean over seeds of a bound's field at `lambda` (nil when no seed has that grid point).
    func meanBound(_ m: Method, _ estimator: Estimator, _ lambda: Double, _ f: (SensitivityBound) -> Double?) -> Double? {
        let v = sensitivityAnalyses(m, estimator).compactMap { $0.analysis.bound(at: lambda).flatMap(f) }.filter(\.isFinite)
        return v.isEmpty ? nil : v.reduce(0, +) / Double(v.count)
    }

    /// [lower, upper] at a few Λ per trained method and estimator (means over seeds), with FT's
    /// estimate the lower bound is compared with.
    var boundsTable: ReportTable {
        let lambdas = Self.sensitivityTableLambdas
        var rows: [[String]] = []
        for e in Sensitivity.estimators {
            for m in trainedMethods where !sensitivityAnalyses(m, e).isEmpty {
                let refs = sensitivityAnalyses(m, e).compactMap(\.analysis.reference)
                let ref = refs.isEmpty ? "–" : String(format: "%.3f", refs.reduce(0, +) / Double(refs.count))
                rows.append([m.rawValue, e.name, ref] + lambdas.map { l in
                    guard let lo = meanBound(m, e, l, { $0.lower }), let hi = meanBound(m, e, l, { $0.upper }) else { return "–" }
                    return String(format: "[%.3f, %.3f]", lo, hi)
                })
            }
        }
        return ReportTable(header: ["method", "estimator", "FT's estimate"] + lambdas.map { "Λ = " + String(format: "%g", $0) }, rows: rows)
    }

    /// How the bounds table aggregates seeds.
    var boundsTableNote: String {
        results.count > 1 ? "Bounds [lower, upper] at a few Λ, each the mean over \(results.count) seeds; Λ = 1 is the estimate itself."
            : "Bounds [lower, upper] at a few Λ; Λ = 1 is the estimate itself."
    }

    // MARK: the hidden trait's Λ (worlds that hide the reader trait)

    /// The estimator inputs of `m`'s held-out rows and f0 samples in seed `r` (the numbers of
    /// rows-METHOD-seedK.csv and f0-METHOD-seedK.csv); nil when the result has none.
    func heldOutInputs(_ r: SeedResult, _ m: Method) -> EstimatorInputs? {
        guard let rows = r.heldOut[m], !rows.isEmpty else { return nil }
        let f0 = r.heldOutF0[m] ?? []
        return EstimatorInputs(logP: rows.map(\.logPF), logPR: rows.map(\.logPR), outcomes: rows.map(\.outcome), ghat: rows.map(\.ghat),
                               sampleLogP: f0.map(\.logPF), sampleLogP0: f0.map(\.logP0), sampleGhat: f0.map(\.ghat),
                               normalization: config.objective.normalization)
    }

    /// Per seed, the bounds of `estimator` for `m` at the hidden trait's Λ and the true value:
    /// recomputed from the held-out rows at that Λ (with the bootstrap interval), else the grid
    /// point at or just above it; empty outside hidden-trait worlds or when neither exists.
    func hiddenTraitCoverage(_ m: Method, _ estimator: Estimator) -> [HiddenTraitCoverage] {
        guard let lambda = hiddenTraitLambda, lambda.isFinite, lambda >= 1 else { return [] }
        return results.compactMap { r in
            guard let final = r.final(m), let truth = final.trueValue?.value, truth.isFinite,
                  let stored = final.sensitivity(estimator) else { return nil }
            if let inputs = heldOutInputs(r, m),
               let a = Sensitivity.analyze(inputs, estimator: estimator, reference: stored.reference, lambdas: [lambda],
                                           replicates: stored.replicates, seed: r.seed),
               let b = a.bounds.first {
                return HiddenTraitCoverage(seed: r.seed, bound: b, truth: truth, exact: true)
            }
            guard let b = stored.bounds.filter({ $0.lambda >= lambda * (1 - 1e-9) }).min(by: { $0.lambda < $1.lambda }) else { return nil }
            return HiddenTraitCoverage(seed: r.seed, bound: b, truth: truth, exact: false)
        }
    }

    /// The hidden trait's Λ, and per trained method and estimator whether its bounds there cover
    /// the true value; nil outside hidden-trait worlds.
    var hiddenTraitTable: (lambda: Double, table: ReportTable)? {
        guard let lambda = hiddenTraitLambda, lambda.isFinite else { return nil }
        var rows: [[String]] = []
        for e in Sensitivity.estimators {
            for m in trainedMethods {
                let c = hiddenTraitCoverage(m, e)
                guard !c.isEmpty else { continue }
                let bounds = c.map { x -> String in
                    let at = x.exact ? "" : String(format: " (at Λ = %g)", x.bound.lambda)
                    let interval = x.bound.intervalLower.flatMap { lo in x.bound.intervalUpper.map { String(format: "; 95%% [%.3f, %.3f]", lo, $0) } }
                    return String(format: "[%.3f, %.3f]", x.bound.lower, x.bound.upper) + (interval ?? "") + at
                }
                let truths = c.map { String(format: "%.3f", $0.truth) }
                let seeds = c.count > 1
                rows.append([m.rawValue, e.name, (seeds ? zip(c, bounds).map { "seed \($0.seed): \($1)" } : bounds).joined(separator: "; "),
                             truths.joined(separator: "; "), "\(c.filter(\.covered).count) of \(c.count)"])
            }
        }
        guard !rows.isEmpty else { return nil }
        return (lambda, ReportTable(header: ["method", "estimator", "bounds at the hidden trait's Λ", "true value", "covered (seeds)"],
                                    rows: rows))
    }

    static let hiddenTraitStatement = "The world hides its reader trait: the methods got only the marginal propensities, "
        + "and the trait implies this Λ. Bounds at it (with their 95% interval) should cover each method's true value; "
        + "the truth is used here for reporting only."

    // MARK: report.md and summary.json

    /// The report.md section, or "" when no trained method has an analysis.
    func sensitivitySection(number: Int) -> String {
        guard hasSensitivity else { return "" }
        var md = "\n## \(number). Sensitivity to hidden confounding\n\n"
        md += "Λ* per trained method at its final epoch (" + (results.count > 1 ? "mean over seeds with a 95% interval" : "one seed")
        md += "; bootstrap of \(sensitivityReplicates) replicates):\n\n"
        md += markdownTable(breakdownTable)
        md += "\n" + Self.sensitivityStatement + "\n\n"
        md += boundsTableNote + "\n\n"
        md += markdownTable(boundsTable)
        if let (lambda, table) = hiddenTraitTable {
            md += "\n" + Self.hiddenTraitStatement + String(format: " Λ = %.3g.\n\n", lambda)
            md += markdownTable(table)
        }
        return md
    }

    /// The bootstrap replicates of the analyses (the first found).
    var sensitivityReplicates: Int {
        trainedMethods.lazy.flatMap { m in Sensitivity.estimators.lazy.flatMap { self.sensitivityAnalyses(m, $0) } }.first?.analysis.replicates
            ?? Sensitivity.defaultReplicates
    }

    /// summary.json's `sensitivity` of a method: per estimator Λ*, Λ* 95%, the point, FT's
    /// estimate and the bounds over the grid (means over seeds), and the hidden trait's check.
    func sensitivityJSON(_ m: Method) -> [String: Any]? {
        var out: [String: Any] = [:]
        for e in Sensitivity.estimators {
            let analyses = sensitivityAnalyses(m, e)
            guard let first = analyses.first?.analysis else { continue }
            func mean(_ v: [Double?]) -> Any {
                let f = v.compactMap { $0 }.filter(\.isFinite)
                return f.isEmpty ? NSNull() : f.reduce(0, +) / Double(f.count)
            }
            var o: [String: Any] = [
                "breakdown": breakdown(m, e, interval: false).json, "breakdown_95": breakdown(m, e, interval: true).json,
                "point": mean(analyses.map(\.analysis.point)), "reference": mean(analyses.map(\.analysis.reference)),
                "replicates": first.replicates,
                "bounds": first.bounds.map { b -> [String: Any] in
                    // Means over seeds (meanBound), null where no seed has the field.
                    func field(_ f: (SensitivityBound) -> Double?) -> Any { meanBound(m, e, b.lambda, f).map(jsonNumber) ?? NSNull() }
                    return ["lambda": b.lambda, "lower": field { $0.lower }, "upper": field { $0.upper },
                            "ci95": [field { $0.intervalLower }, field { $0.intervalUpper }]]
                },
            ]
            let c = hiddenTraitCoverage(m, e)
            if !c.isEmpty {
                o["hidden_trait"] = c.map { x -> [String: Any] in
                    ["seed": x.seed, "lambda": x.bound.lambda, "lower": x.bound.lower, "upper": x.bound.upper,
                     "ci95": [jsonNumber(x.bound.intervalLower ?? .nan), jsonNumber(x.bound.intervalUpper ?? .nan)],
                     "true_value": x.truth, "covered": x.covered]
                }
            }
            out[e.summaryKey] = o
        }
        return out.isEmpty ? nil : out
    }
}

// MARK: report.html

extension ReportWriter {
    /// The sensitivity section of report.html: the Λ* table, one chart of the bounds against Λ per
    /// estimator, the bounds table and the hidden trait's check; nothing without analyses.
    var sensitivityBlocks: [ReportPage.Block] {
        guard hasSensitivity else { return [] }
        var blocks: [ReportPage.Block] = [
            .section("Sensitivity to hidden confounding", id: "sensitivity"),
            .paragraph([.text("Λ* per trained method at its final epoch ("
                              + (results.count > 1 ? "mean over seeds with a 95% interval" : "one seed")
                              + "; bootstrap of \(sensitivityReplicates) replicates), as in "), .link("report.md", href: "report.md"), "."]),
            .table(header: breakdownTable.header, rows: breakdownTable.rows),
            .paragraph([.text(Self.sensitivityStatement)]),
        ]
        if let seed = results.first {
            for e in Sensitivity.estimators {
                let chart = sensitivityChart(e, seed)
                if !chart.layers.isEmpty { blocks.append(.chart(chart)) }
            }
        }
        blocks.append(.paragraph([.text(boundsTableNote)]))
        blocks.append(.table(header: boundsTable.header, rows: boundsTable.rows))
        if let (lambda, table) = hiddenTraitTable {
            blocks.append(.paragraph([.text(Self.hiddenTraitStatement + String(format: " Λ = %.3g.", lambda))]))
            blocks.append(.table(header: table.header, rows: table.rows))
        }
        return blocks
    }

    /// The bounds of `estimator` against Λ (log axis) in one seed: per trained method the lower
    /// and upper bounds as lines over the bootstrap interval's band, and its Λ* as a point on
    /// FT's estimate (the reference line, held fixed), all from the stored analyses.
    func sensitivityChart(_ estimator: Estimator, _ seed: SeedResult) -> XYChart {
        var layers: [XYLayer] = []
        var references: [Double] = []
        var stars: [String] = []
        for m in trainedMethods {
            guard let a = seed.final(m)?.sensitivity(estimator) else { continue }
            let (colour, dash) = Self.style(m)
            let x = a.bounds.map(\.lambda)
            layers.append(.band(series: m.rawValue, label: "", colour: colour, opacity: 0.15, x: x,
                                lower: a.bounds.map { $0.intervalLower ?? .nan }, upper: a.bounds.map { $0.intervalUpper ?? .nan }))
            layers.append(.line(series: m.rawValue, label: "\(m.rawValue) bounds", colour: colour, dash: dash,
                                points: a.bounds.map { XYPoint(x: $0.lambda, y: $0.lower) }, markers: false))
            layers.append(.line(series: m.rawValue, label: "", colour: colour, dash: dash,
                                points: a.bounds.map { XYPoint(x: $0.lambda, y: $0.upper) }, markers: false))
            if let ref = a.reference { references.append(ref) }
            if let star = a.breakdown {
                stars.append("\(m.rawValue) \(BreakdownSummary.format(star))")
                if let ref = a.reference, star.isFinite, star > 1, let top = x.max(), star <= top {
                    layers.append(.line(series: m.rawValue, label: String(format: "%@ Λ* = %.2f", m.rawValue, star), colour: colour,
                                        points: [XYPoint(x: star, y: ref)]))
                }
            }
        }
        let grid = layers.flatMap { $0.points.map(\.x) }
        if let ref = references.first, let first = grid.min(), let last = grid.max() {
            layers.append(.line(series: "FT", label: "FT's \(estimator.name) (held fixed)", colour: "#777777", dash: "4 4",
                                points: [XYPoint(x: first, y: ref), XYPoint(x: last, y: ref)], markers: false))
        }
        let which = results.count > 1 ? "seed \(seed.seed), one of \(results.count)" : "seed \(seed.seed)"
        return XYChart(id: "sensitivity-\(estimator.summaryKey)", title: "\(estimator.name) bounds against Λ (\(which))",
                       xLabel: "Λ (log scale)", yLabel: "\(estimator.name) bounds", layers: layers, logX: true,
                       note: "Each method's lower and upper bounds of \(estimator.name) when every propensity may be off by a factor "
                           + "up to Λ; the shaded band is their 95% bootstrap interval. The dashed grey line is FT's estimate; a "
                           + "method's Λ* is where its lower bound meets it (Λ*: " + (stars.isEmpty ? "none" : stars.joined(separator: ", "))
                           + ").")
    }
}
