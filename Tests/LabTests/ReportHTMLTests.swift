import CausalPO
import Foundation
import ReportCharts
import Testing
@testable import Lab

/// report.html of the tiny two-seed world run (`TinyReportRun`): one well-formed page that
/// needs nothing from the network, with the series report.md's numbers come from, drawn where
/// its axes say.
///
/// The whole page is parsed as XML (it is written XHTML-compatible: a doctype, void elements
/// self-closed, everything escaped), and each `<svg>` is parsed again on its own, as a
/// standalone SVG file would be.
@Suite("report.html")
struct ReportHTMLTests {
    struct Page {
        var text: String
        var root: XMLNode
        var run: TinyReportRun

        func chart(_ id: String) throws -> XMLNode { try #require(root.all("svg", ["data-chart": id]).first, "chart \(id)") }
    }

    /// Writes the report and parses report.html.
    func page(_ run: TinyReportRun, _ name: String) throws -> Page {
        let dir = NSTemporaryDirectory() + "cpo-report-html-\(getpid())-\(name)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try run.writer.write(to: dir)
        let text = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        return Page(text: text, root: try XMLTree.parse(text), run: run)
    }

    /// A page outside worlds: the same run with its world taken away.
    func fileRun() throws -> TinyReportRun {
        var run = try TinyReportRun.shared.get()
        run.data.world = nil
        return run
    }

    @Test func thePageIsWellFormedOfflineAndHasNoScript() throws {
        let p = try page(try TinyReportRun.shared.get(), "offline")
        #expect(p.text.hasPrefix("<!DOCTYPE html>") && p.root.name == "html")
        // Every chart is also a well-formed standalone SVG.
        let svgs = p.text.components(separatedBy: "<svg ").dropFirst().map { "<svg " + $0.components(separatedBy: "</svg>")[0] + "</svg>" }
        #expect(svgs.count == p.root.all("svg").count && svgs.count >= 4 + 3 + 3 + 1)
        for s in svgs {
            let svg = try XMLTree.parse(s)
            #expect(svg.name == "svg" && svg["xmlns"] == "http://www.w3.org/2000/svg" && svg.all("title").first != nil)
        }
        // Nothing runs and nothing is fetched: no script, no handler, no URL but the SVG namespace.
        let lower = p.text.lowercased()
        #expect(!lower.contains("<script") && !lower.contains("javascript:") && !lower.contains("@import") && !lower.contains("url("))
        #expect(lower.components(separatedBy: "http").count == lower.components(separatedBy: "http://www.w3.org/2000/svg").count)
        for e in p.root.descendants {
            #expect(!e.attributes.keys.contains { $0.lowercased().hasPrefix("on") } && e["src"] == nil, "\(e.name)")
            if let href = e["href"] { #expect(href.hasPrefix("#") || !href.contains(":"), "\(href)") }
        }
        // NaN and infinity never reach an attribute (names are the run's, not numbers).
        let named: Set = ["data-series", "data-category", "class", "id", "href", "lang", "charset", "xmlns", "font-family"]
        for e in p.root.descendants {
            for (k, v) in e.attributes where !named.contains(k) {
                #expect(!v.lowercased().contains("nan") && !v.lowercased().contains("inf"), "\(e.name) \(k)=\(v)")
            }
        }
        // The headline tables are report.md's, cell for cell.
        let tables = p.root.all("table")
        let value = p.run.writer.valueTable
        #expect(tables.first?.all("th").map(\.allText) == value.header)
        #expect(tables.first?.all("tr").dropFirst().map { $0.all("td").map(\.allText) } == value.rows)
        #expect(tables.dropFirst().first?.all("tr").dropFirst().map { $0.all("td").map(\.allText) } == p.run.writer.trueValueTable.rows)
        let md = p.run.writer.markdown()
        for row in value.rows { #expect(md.contains("| " + row.joined(separator: " | ") + " |")) }
    }

    /// Each learning curve has one marker per epoch per trained method, at the pixel its value
    /// has on the chart's own axes, and a shaded 95% band where there is one.
    @Test func learningCurvesHaveOnePointPerEpochWhereTheAxisSays() throws {
        let p = try page(try TinyReportRun.shared.get(), "curves")
        let trained = p.run.config.methods.filter(\.trains)
        for q in CurveQuantity.shown(world: true) {
            let svg = try p.chart("curve-\(q.rawValue)")
            let x = try ReadAxis(svg, "x"), y = try ReadAxis(svg, "y")
            let curves = LearningCurve.curves(q, runs: p.run.results.map(\.metrics), methods: trained, world: true)
            #expect(curves.map(\.method) == trained)
            for c in curves {
                #expect(c.points.map(\.epoch) == [0, 1] && c.points.allSatisfy { $0.seeds == 2 })
                let line = try #require(svg.all("g", ["data-series": c.method.rawValue, "data-kind": "line"]).first)
                let markers = line.all("circle")
                #expect(markers.count == c.points.count, "\(q) \(c.method)")
                for (m, point) in zip(markers, c.points) {
                    let cx = try #require(Double(m["cx"] ?? "")), cy = try #require(Double(m["cy"] ?? ""))
                    #expect(abs(x.value(cx) - Double(point.epoch)) <= 0.006 * x.valuePerPixel)
                    #expect(abs(y.value(cy) - point.mean) <= 0.006 * y.valuePerPixel, "\(q) \(c.method) epoch \(point.epoch)")
                    #expect(m["data-y"].flatMap(Double.init) == point.mean)
                }
                // Two seeds: a band across them wherever both edges are finite.
                let band = try #require(svg.all("g", ["data-series": c.method.rawValue, "data-kind": "band"]).first)
                let hasBand = c.points.filter { $0.lower.isFinite && $0.upper.isFinite }.count >= 2
                #expect(band.all("path").count == (hasBand ? 1 : 0), "\(q) \(c.method)")
            }
            #expect(svg.all("g", ["class": "legend"])[0].allText.contains(trained[0].rawValue))
        }
        // Outside worlds: V_DR, and no gain chart.
        let file = try page(try fileRun(), "curves-file")
        #expect(try file.chart("curve-value").all("title").first?.allText == "V_DR by epoch")
        #expect(file.root.all("svg", ["data-chart": "curve-gain"]).isEmpty)
    }

    /// The loss chart: every step's loss as a faint dot and the EMA line over them, its weight in
    /// the legend, the line's last point the EMA's last value.
    @Test func lossChartsDrawEveryStepAndTheirNamedEMA() throws {
        let p = try page(try TinyReportRun.shared.get(), "loss")
        let seed = p.run.results[0]
        for m in p.run.config.methods.filter(\.trains) {
            let svg = try p.chart("loss-\(m.rawValue)")
            let losses = (seed.steps[m] ?? []).map(\.loss)
            #expect(!losses.isEmpty && losses.allSatisfy(\.isFinite))
            let dots = try #require(svg.all("g", ["data-kind": "dots"]).first?.all("path").first)
            #expect(dots["data-points"] == "\(losses.count)")
            let line = try #require(svg.all("g", ["data-kind": "line"]).first?.all("polyline").first)
            let points = (line["points"] ?? "").split(separator: " ")
            #expect(points.count == losses.count)
            let y = try ReadAxis(svg, "y")
            let lastY = try #require(points.last.flatMap { Double($0.split(separator: ",")[1]) })
            let ema = Smoothing.ema(losses, weight: ReportWriter.lossSmoothing)
            #expect(abs(y.value(lastY) - ema[ema.count - 1]) <= 0.006 * y.valuePerPixel)
            #expect(svg.all("g", ["class": "legend"])[0].allText.contains("EMA, weight 0.9"))
            #expect(svg.all("title").first?.allText.contains("seed \(seed.seed)") == true)
        }
    }

    /// Weight distributions: per epoch the min–max, 5–95% and 25–75% bands of log w and the
    /// median, from WeightSummary's quantiles.
    @Test func weightChartsShadePercentileBandsPerEpoch() throws {
        let p = try page(try TinyReportRun.shared.get(), "weights")
        let seed = p.run.results[0]
        for m in p.run.config.methods.filter(\.trains) {
            let svg = try p.chart("weights-\(m.rawValue)")
            let bands = svg.all("g", ["data-series": m.rawValue, "data-kind": "band"])
            #expect(bands.count == 3)
            #expect(svg.all("g", ["class": "legend"])[0].allText.contains("5%–95%"))
            let y = try ReadAxis(svg, "y")
            let markers = try #require(svg.all("g", ["data-kind": "line"]).first).all("circle")
            let epochs = try #require(seed.metrics[m])
            #expect(markers.count == epochs.count)
            for (marker, e) in zip(markers, epochs) {
                let median = e.weights.logRatioQuantiles[try #require(e.weights.quantileLevels.firstIndex(of: 0.5))]
                let cy = try #require(Double(marker["cy"] ?? ""))
                #expect(abs(y.value(cy) - median) <= 0.006 * y.valuePerPixel)
            }
        }
    }

    /// Attribute effects: naive OLS, ĝ-learned and (in worlds) the truth as grouped bars, one per
    /// attribute, each bar's value on its data attribute; outside worlds no truth.
    @Test func attributeEffectsAreGroupedBarsWithTruthInWorlds() throws {
        let p = try page(try TinyReportRun.shared.get(), "effects")
        let effects = p.run.results[0].attributeEffects
        #expect(!effects.isEmpty)
        let svg = try p.chart("attribute-effects")
        for (series, values) in [("naive", effects.map(\.naive.value)), ("ghat", effects.map(\.learned.value)),
                                 ("truth", effects.map { $0.truth ?? .nan })] {
            let g = try #require(svg.all("g", ["data-series": series]).first, "\(series)")
            let drawn = g.all("rect").compactMap { $0["data-value"].flatMap(Double.init) }
            #expect(drawn == values.filter(\.isFinite), "\(series)")
        }
        // A data file has no true effects (this run's come from its world: strip them).
        var run = try fileRun()
        run.results = run.results.map { r in
            var r = r
            r.attributeEffects = r.attributeEffects.map { var a = $0; a.truth = nil; return a }
            return r
        }
        let noTruth = try page(run, "effects-no-truth")
        #expect(try noTruth.chart("attribute-effects").all("g", ["data-series": "truth"]).isEmpty)
        #expect(noTruth.root.all("th").map(\.allText).contains("truth") == false)
    }
}
