import CausalPO
import Foundation
import ReportCharts
import Testing
@testable import Lab

/// The report's sensitivity section (report.md, summary.json, report.html) on the tiny two-seed
/// world run: every number is the one `EpochMetrics.sensitivity` holds, and a run saved before
/// sensitivity was measured writes its report without the section.
@Suite("the report's sensitivity to hidden confounding")
struct ReportSensitivityTests {
    /// Writes the report of `run` (its writer changed by `edit`) and returns the directory.
    func written(_ run: TinyReportRun, _ name: String, edit: (inout ReportWriter) -> Void = { _ in }) throws -> String {
        let dir = NSTemporaryDirectory() + "cpo-report-sensitivity-\(getpid())-\(name)"
        var writer = run.writer
        edit(&writer)
        try writer.write(to: dir)
        return dir
    }

    func read(_ dir: String, _ file: String) throws -> String { try String(contentsOfFile: dir + "/" + file, encoding: .utf8) }

    /// Each seed's final analysis of `e` for `m`, straight from the metrics.
    func analyses(_ run: TinyReportRun, _ m: Method, _ e: Estimator) throws -> [SensitivityAnalysis] {
        try run.results.map { r in try #require(r.metrics[m]?.last?.sensitivity(e), "\(m) \(e) seed \(r.seed)") }
    }

    func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }

    /// The Λ* text the table must show for these seed values.
    func breakdownText(_ values: [Double]) -> String {
        if values.allSatisfy({ $0 == 1 }) { return "1 (no gain)" }
        if values.allSatisfy(\.isFinite) { return String(format: "%.3f", mean(values)) }
        if values.allSatisfy({ $0 == .infinity }) { return "∞" }
        return "seed "
    }

    @Test func reportMDHasTheBreakdownAndBoundsTablesFromTheMetrics() throws {
        let run = try TinyReportRun.shared.get()
        let dir = try written(run, "md")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let md = try read(dir, "report.md")
        let section = try #require(md.components(separatedBy: "Sensitivity to hidden confounding").dropFirst().first)
        #expect(section.contains("Λ* is how far hidden confounding") && section.contains("FT's estimate, which is held fixed"))
        let header = "| method | V_SNIPW Λ* | V_SNIPW Λ* 95% | V_DR Λ* | V_DR Λ* 95% |"
        #expect(section.contains(header))
        for m in run.config.methods.filter(\.trains) {
            let row = try #require(section.components(separatedBy: "\n").first { $0.hasPrefix("| \(m.rawValue) | ") })
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            var i = 1
            for e in Sensitivity.estimators {
                let a = try analyses(run, m, e)
                #expect(cells[i].hasPrefix(breakdownText(a.map { $0.breakdown ?? .nan })), "\(m) \(e) Λ*: \(cells[i])")
                #expect(cells[i + 1].hasPrefix(breakdownText(a.map { $0.breakdownInterval ?? .nan })), "\(m) \(e) Λ* 95%: \(cells[i + 1])")
                // The bounds table: the mean over seeds of each bound at Λ = 2.
                let lower = mean(a.map { $0.bound(at: 2)!.lower }), upper = mean(a.map { $0.bound(at: 2)!.upper })
                #expect(section.contains(String(format: "[%.3f, %.3f]", lower, upper)), "\(m) \(e) bounds at 2")
                i += 2
            }
        }
        // Not a hidden-trait world: no check against the trait's Λ.
        #expect(!section.contains("hides its reader trait"))
    }

    @Test func summaryJSONCarriesEachSeedsBreakdownAndTheMeanBounds() throws {
        let run = try TinyReportRun.shared.get()
        let dir = try written(run, "json")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(read(dir, "summary.json").utf8)) as? [String: Any])
        let methods = try #require(summary["methods"] as? [[String: Any]])
        for (o, m) in zip(methods, run.config.methods) {
            let s = try #require(o["sensitivity"] as? [String: Any], "\(m)")
            for e in Sensitivity.estimators {
                let a = try analyses(run, m, e)
                let obj = try #require(s[e.summaryKey] as? [String: Any], "\(m) \(e)")
                let breakdown = try #require(obj["breakdown"] as? [String: Any])
                let seeds = try #require(breakdown["seeds"] as? [Any])
                #expect(seeds.count == a.count)
                for (v, x) in zip(seeds, a) {
                    let b = try #require(x.breakdown)
                    // JSONSerialization's text keeps about 15 digits.
                    if b == .infinity { #expect(v as? String == "inf") } else { #expect(abs((v as? Double ?? .nan) - b) <= 1e-12 * b) }
                }
                #expect(obj["breakdown_95"] is [String: Any] && obj["replicates"] as? Int == a[0].replicates)
                let bounds = try #require(obj["bounds"] as? [[String: Any]])
                #expect(bounds.compactMap { $0["lambda"] as? Double } == a[0].bounds.map(\.lambda))
                for b in bounds {
                    let l = try #require(b["lambda"] as? Double)
                    let lower = try #require(b["lower"] as? Double), upper = try #require(b["upper"] as? Double)
                    #expect(abs(lower - mean(a.map { $0.bound(at: l)!.lower })) <= 1e-12 * max(1, abs(lower)))
                    #expect(abs(upper - mean(a.map { $0.bound(at: l)!.upper })) <= 1e-12 * max(1, abs(upper)))
                    #expect((b["ci95"] as? [Any])?.count == 2)
                }
            }
        }
    }

    /// The bounds at the hidden trait's Λ, recomputed from the held-out rows, are the stored ones
    /// where Λ is on the grid; without rows the grid point at or above Λ stands in; the table
    /// says how many seeds' bounds cover the true value.
    @Test func theHiddenTraitsLambdaIsCheckedAgainstTheTruth() throws {
        let run = try TinyReportRun.shared.get()
        var writer = run.writer
        writer.hiddenTraitLambda = 2
        for m in run.config.methods.filter(\.trains) {
            for e in Sensitivity.estimators {
                let c = writer.hiddenTraitCoverage(m, e)
                let a = try analyses(run, m, e)
                #expect(c.count == run.results.count && c.allSatisfy(\.exact))
                for (x, (s, r)) in zip(c, zip(a, run.results)) {
                    let stored = try #require(s.bound(at: 2))
                    #expect(abs(x.bound.lower - stored.lower) <= 1e-9 * max(1, abs(stored.lower)), "\(m) \(e)")
                    #expect(abs(x.bound.upper - stored.upper) <= 1e-9 * max(1, abs(stored.upper)), "\(m) \(e)")
                    #expect(x.truth == r.metrics[m]?.last?.trueValue?.value)
                }
                let row = try #require(writer.hiddenTraitTable?.table.rows.first { $0[0] == m.rawValue && $0[1] == e.name })
                #expect(row.last == "\(c.filter(\.covered).count) of \(c.count)")
            }
        }
        let md = writer.markdown()
        #expect(md.contains("hides its reader trait") && md.contains("| method | estimator | bounds at the hidden trait's Λ |"))
        // Without held-out rows: the grid point at or just above Λ.
        var noRows = run
        noRows.results = run.results.map { var r = $0; r.heldOut = [:]; r.heldOutF0 = [:]; return r }
        var w = noRows.writer
        w.hiddenTraitLambda = 1.3
        let c = w.hiddenTraitCoverage(.cpo, .snipw)
        #expect(!c.isEmpty && c.allSatisfy { !$0.exact && $0.bound.lambda == 1.5 })
        #expect(w.markdown().contains("(at Λ = 1.5)"))
    }

    @Test func reportHTMLDrawsTheBoundsAgainstLogLambdaWithFTsLine() throws {
        let run = try TinyReportRun.shared.get()
        let dir = try written(run, "html")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = try XMLTree.parse(try read(dir, "report.html"))
        #expect(root.all("h2", ["id": "sensitivity"]).first?.allText == "Sensitivity to hidden confounding")
        let table = run.writer.breakdownTable
        let shown = root.all("table").first { $0.all("th").map(\.allText) == table.header }
        #expect(shown?.all("tr").dropFirst().map { $0.all("td").map(\.allText) } == table.rows)
        let trained = run.config.methods.filter(\.trains)
        let seed = run.results[0]
        for e in Sensitivity.estimators {
            let svg = try #require(root.all("svg", ["data-chart": "sensitivity-\(e.summaryKey)"]).first)
            let series = Set(svg.all("g", ["class": "layer"]).compactMap { $0["data-series"] })
            #expect(series == Set(trained.map(\.rawValue) + ["FT"]))
            // A logarithmic x axis: the ticks' pixels are linear in log Λ.
            let ticks = svg.all("g", ["data-axis": "x"])[0].all("g", ["class": "tick"]).compactMap { t -> (Double, Double)? in
                guard let p = Double(t.all("line").first?["x1"] ?? ""), let v = Double(t.all("text").first?.allText ?? "") else { return nil }
                return (p, v)
            }
            let (p1, v1) = try #require(ticks.first), (p2, v2) = try #require(ticks.last)
            #expect(v1 == 1 && v2 == 10 && ticks.contains { $0.1 == 2 })
            func lambda(atPixel p: Double) -> Double { Foundation.exp(log(v1) + (p - p1) / (p2 - p1) * (log(v2) - log(v1))) }
            for (p, v) in ticks { #expect(abs(lambda(atPixel: p) - v) <= 1e-3 * v) }
            let y = try ReadAxis(svg, "y")
            // FT's estimate as a horizontal line.
            let reference = try #require(seed.metrics[trained[0]]?.last?.sensitivity(e)?.reference)
            let ft = try #require(svg.all("g", ["data-series": "FT"]).first?.all("polyline").first?["points"])
            let ys = ft.split(separator: " ").compactMap { Double($0.split(separator: ",")[1]) }
            #expect(ys.count == 2 && ys.allSatisfy { abs(y.value($0) - reference) <= 0.006 * y.valuePerPixel })
            for m in trained {
                let a = try #require(seed.metrics[m]?.last?.sensitivity(e))
                let lines = svg.all("g", ["data-series": m.rawValue, "data-kind": "line"])
                #expect(lines.filter { !$0.all("polyline").isEmpty }.count == 2, "\(m) lower and upper")
                // Λ* marked on FT's line when it falls inside the grid.
                if let star = a.breakdown, star > 1, star <= 10 {
                    let marker = try #require(lines.flatMap { $0.all("circle") }.first, "\(m) Λ*")
                    let cx = try #require(Double(marker["cx"] ?? "")), cy = try #require(Double(marker["cy"] ?? ""))
                    #expect(abs(lambda(atPixel: cx) - star) <= 1e-3 * star)
                    #expect(abs(y.value(cy) - reference) <= 0.006 * y.valuePerPixel)
                }
            }
        }
    }

    /// Λ* over seeds: an interval that stops at 1, "no gain" when every seed's is 1, each seed's
    /// value when one is infinite (no mean), and "inf" in JSON.
    @Test func breakdownsAggregateOverSeedsWithoutAMeanOfInfinity() throws {
        let spread = BreakdownSummary(values: [(1, 1), (2, 1.5)])
        #expect(spread.summary.lower == 1 && spread.summary.upper > 1.5 && spread.text.hasPrefix("1.250 [1.000, "))
        #expect(BreakdownSummary(values: [(1, 2)]).text == "2.000")
        #expect(BreakdownSummary(values: [(1, 1), (2, 1)]).text == "1 (no gain)")
        let mixed = BreakdownSummary(values: [(3, .infinity), (4, 2)])
        #expect(mixed.text == "seed 3: ∞; seed 4: 2.000" && BreakdownSummary(values: [(3, .infinity)]).text == "∞")
        let json = try #require(mixed.json as? [String: Any])
        #expect(json["mean"] is NSNull && (json["seeds"] as? [Any])?.first as? String == "inf")
        #expect((BreakdownSummary(values: [(3, .infinity)]).json as? [String: Any])?["mean"] as? String == "inf")
    }

    /// Runs saved before sensitivity was measured (nil in their metrics) still report, without
    /// the section, the summary key or the chart.
    @Test func aRunWithoutSensitivityReportsWithoutTheSection() throws {
        var run = try TinyReportRun.shared.get()
        run.results = run.results.map { r in
            var r = r
            for (m, ms) in r.metrics { r.metrics[m] = ms.map { var e = $0; e.sensitivity = nil; return e } }
            return r
        }
        let dir = try written(run, "old") { $0.hiddenTraitLambda = 2 }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(!(try read(dir, "report.md")).contains("Sensitivity to hidden confounding"))
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(read(dir, "summary.json").utf8)) as? [String: Any])
        #expect((summary["methods"] as? [[String: Any]])?.allSatisfy { $0["sensitivity"] == nil } == true)
        let html = try read(dir, "report.html")
        _ = try XMLTree.parse(html)
        #expect(!html.contains("data-chart=\"sensitivity-") && !html.contains("id=\"sensitivity\""))
    }
}
