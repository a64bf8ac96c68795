import Foundation
import ReportCharts
import Testing

/// The SVG charts and the HTML page of report.html, from plain series: closed forms for the
/// axes and the smoothing, well-formed XML whatever the names, NaN never drawn.
@Suite("report charts")
struct ReportChartsTests {
    @Test func ticksAreRoundStepsCoveringTheData() {
        let t = Ticks.nice(lower: 0.03, upper: 0.97, count: 5)
        #expect(t.step == 0.2 && t.lower == 0 && t.upper == 1 && t.values.count == 6)
        #expect(t.values.map(t.label) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        // Epochs: whole numbers only, even for a span of one.
        let epochs = Ticks.nice(lower: 0, upper: 1, count: 6, integer: true)
        #expect(epochs.values == [0, 1] && epochs.values.map(epochs.label) == ["0", "1"])
        #expect(Ticks.nice(lower: 0, upper: 37, count: 6, integer: true).step == 10)
        // A constant series still gets an axis around it, and no label says "-0".
        let flat = Ticks.nice(lower: 5, upper: 5)
        #expect(flat.lower < 5 && flat.upper > 5)
        let around0 = Ticks.nice(lower: 0, upper: 0)
        #expect(around0.lower == -1 && around0.upper == 1 && !around0.values.map(around0.label).contains("-0.0"))
        // Spans doubles cannot step through are widened; huge ones still get a few ticks.
        for (lo, hi) in [(1.0, 1 + 1e-15), (0, Double.leastNonzeroMagnitude), (-1e299, 1e299), (1e15, 1e15 + 1)] {
            let t = Ticks.nice(lower: lo, upper: hi)
            #expect(t.values.count >= 2 && t.values.count <= 12 && t.lower <= lo && t.upper >= hi && t.values.allSatisfy(\.isFinite), "\(lo) \(hi)")
        }
        let negative = Ticks.nice(lower: -0.31, upper: 0.12)
        #expect(negative.values.first! <= -0.31 && negative.values.last! >= 0.12 && negative.values.contains(0))
    }

    @Test func theScaleIsLinearAndInvertible() {
        // A y axis: the lower value at the bottom pixel.
        let s = LinearScale(domain: -1, 3, range: 250, 50)
        #expect(s.position(-1) == 250 && s.position(3) == 50 && s.position(1) == 150)
        for v in [-1.0, 0.3, 2.9] { #expect(abs(s.value(atPosition: s.position(v)) - v) < 1e-12) }
    }

    @Test func aLogarithmicAxisSpacesRatiosEquallyWithReadableTicks() throws {
        #expect(Ticks.logarithmic(lower: 1, upper: 10).values == [1, 1.5, 2, 3, 5, 7, 10])
        #expect(Ticks.logarithmic(lower: 1, upper: 120).values == [1, 2, 5, 10, 20, 50, 100])
        #expect(Ticks.logarithmic(lower: 0.01, upper: 1e4).values == [0.01, 0.1, 1, 10, 100, 1000, 10000])
        let one = Ticks.logarithmic(lower: 2, upper: 2)
        #expect(one.lower < 2 && one.upper > 2 && !one.values.isEmpty && one.label(1.5) == "1.5")
        let s = LinearScale(domain: 1, 100, range: 0, 200, logarithmic: true)
        #expect(s.position(1) == 0 && abs(s.position(10) - 100) < 1e-12 && abs(s.position(100) - 200) < 1e-12)
        for v in [1.0, 2.5, 70] { #expect(abs(s.value(atPosition: s.position(v)) - v) < 1e-12 * v) }
        // A chart on it: each marker where log x puts it; x ≤ 0 is not drawn.
        let xs: [Double] = [0, 1, 2, 4, 10]
        let chart = XYChart(id: "log", title: "Log", xLabel: "Λ", yLabel: "y",
                            layers: [.line(series: "A", label: "A", colour: "#000", points: xs.map { XYPoint(x: $0, y: $0) })], logX: true)
        let svg = try XMLTree.parse(chart.svg())
        let markers = svg.all("circle").filter { $0["data-x"] != nil }
        #expect(markers.compactMap { $0["data-x"].flatMap(Double.init) } == [1, 2, 4, 10])
        let ticks = svg.all("g", ["data-axis": "x"])[0].all("g", ["class": "tick"]).compactMap { t -> (Double, Double)? in
            guard let p = Double(t.all("line").first?["x1"] ?? ""), let v = Double(t.all("text").first?.allText ?? "") else { return nil }
            return (p, v)
        }
        let (p1, v1) = try #require(ticks.first), (p2, v2) = try #require(ticks.last)
        for m in markers {
            let cx = try #require(Double(m["cx"] ?? "")), x = try #require(Double(m["data-x"] ?? ""))
            #expect(abs(log(x / v1) / log(v2 / v1) * (p2 - p1) + p1 - cx) <= 0.006)
        }
    }

    @Test func theEMAFollowsItsRecurrenceAndSkipsNaN() {
        // s1 = x1, s_t = w s_{t-1} + (1 - w) x_t; a NaN is not plotted and leaves s alone.
        let s = Smoothing.ema([1, 2, .nan, 4, .infinity], weight: 0.5)
        #expect(s[0] == 1 && s[1] == 1.5 && s[2].isNaN && s[3] == 2.75 && s[4].isNaN)
        #expect(Smoothing.ema([], weight: 0.9).isEmpty)
    }

    @Test func coordinatesAreShortAndNeverNaN() {
        #expect(Markup.coordinate(12.5) == "12.5" && Markup.coordinate(3) == "3" && Markup.coordinate(-0.001) == "0")
        #expect(Markup.coordinate(.nan) == "0" && Markup.value(.nan) == nil && Markup.value(.infinity) == nil)
        #expect(Markup.escape("a&b; <c> \"d\" 'e'\u{1}") == "a&amp;b; &lt;c&gt; &quot;d&quot; &#39;e&#39;")
    }

    /// A line chart's markers sit where the axis' own tick labels say their values are, one per
    /// finite point; NaN breaks the line and reaches no attribute.
    @Test func aPointsPixelMapsBackToItsValueThroughTheAxis() throws {
        let values: [Double] = [0.12, 0.47, .nan, 0.31, 0.9, .nan, 0.5]
        let chart = XYChart(id: "t", title: "Test", xLabel: "epoch", yLabel: "value", layers: [
            .band(series: "A", label: "", colour: Palette.colour(0), opacity: 0.2, x: values.indices.map(Double.init),
                  lower: values.map { $0 - 0.1 }, upper: values.map { $0 + 0.1 }),
            .line(series: "A", label: "A", colour: Palette.colour(0), points: values.enumerated().map { XYPoint(x: Double($0), y: $1) }),
            .dots(series: "B", label: "B raw", colour: Palette.colour(1), points: [XYPoint(x: 0, y: -0.2), XYPoint(x: 4, y: .infinity)]),
        ], integerX: true, note: "a note")
        let svg = try XMLTree.parse(chart.svg())
        #expect(svg.name == "svg" && svg["xmlns"] == "http://www.w3.org/2000/svg" && svg["data-chart"] == "t")
        let y = try ReadAxis(svg, "y"), x = try ReadAxis(svg, "x")
        let line = try #require(svg.all("g", ["data-series": "A", "data-kind": "line"]).first)
        let markers = line.all("circle")
        #expect(markers.count == 5)
        for (m, (i, v)) in zip(markers, values.enumerated().filter { $0.1.isFinite }) {
            let cx = try #require(Double(m["cx"] ?? "")), cy = try #require(Double(m["cy"] ?? ""))
            #expect(abs(y.value(cy) - v) <= 0.006 * y.valuePerPixel, "y \(y.value(cy)) for \(v)")
            #expect(abs(x.value(cx) - Double(i)) <= 0.006 * x.valuePerPixel)
        }
        // Each NaN breaks the line (and the band); the lone last point still shows, its band as a bar.
        let band = svg.all("g", ["data-kind": "band"])[0]
        #expect(line.all("polyline").count == 2 && band.all("path").count == 2 && band.all("line").count == 1)
        #expect(svg.all("g", ["data-kind": "dots"])[0].all("path")[0]["data-points"] == "1")
        // The legend names what is drawn; the note is there.
        let legend = svg.all("g", ["class": "legend"])[0].allText
        #expect(legend.contains("A") && legend.contains("B raw") && svg.allText.contains("a note"))
        for e in svg.descendants {
            for (k, v) in e.attributes where !["data-series", "class"].contains(k) {
                #expect(!v.lowercased().contains("nan") && !v.lowercased().contains("inf"), "\(e.name) \(k)=\(v)")
            }
        }
    }

    @Test func aChartWithNothingFiniteSaysNoData() throws {
        let chart = XYChart(id: "e", title: "Empty", xLabel: "x", yLabel: "y",
                            layers: [.line(series: "A", label: "A", colour: "#000", points: [XYPoint(x: 0, y: .nan)])])
        let svg = try XMLTree.parse(chart.svg())
        #expect(svg.all("text", ["class": "no-data"]).first?.allText == "no data" && svg.all("g", ["data-axis": "y"]).isEmpty)
    }

    /// Bars start at zero and end at their value on the axis; whiskers span the interval; a
    /// value that is not finite draws "n/a" instead of a bar.
    @Test func barsRunFromZeroToTheirValue() throws {
        let chart = BarChart(id: "b", title: "Effects", yLabel: "effect", categories: ["good", "plain", "bad"], series: [
            BarSeries(series: "naive", label: "naive", colour: Palette.colour(1), values: [2.5, .nan, -1.25],
                      lower: [2, .nan, -2], upper: [3, .nan, -0.5]),
            BarSeries(series: "truth", label: "truth", colour: Palette.colour(2), values: [2, 0, -2]),
        ])
        let svg = try XMLTree.parse(chart.svg())
        let y = try ReadAxis(svg, "y")
        let naive = try #require(svg.all("g", ["data-series": "naive"]).first)
        let rects = naive.all("rect")
        #expect(rects.map { $0["data-category"] } == ["good", "bad"] && naive.all("text").first?.allText == "n/a")
        for (r, v) in zip(rects, [2.5, -1.25]) {
            let top = try #require(Double(r["y"] ?? "")), h = try #require(Double(r["height"] ?? ""))
            let (end, start) = v > 0 ? (top, top + h) : (top + h, top)
            #expect(abs(y.value(end) - v) <= 0.011 * y.valuePerPixel && abs(y.value(start)) <= 0.011 * y.valuePerPixel)
        }
        #expect(naive.all("line", ["class": "whisker"]).count == 6)
        #expect(svg.all("g", ["data-series": "truth"])[0].all("rect").count == 3)
    }

    /// Names from user files (worlds, data columns) cannot break the page or inject markup.
    @Test func hostileNamesAreEscapedAndThePageIsWellFormed() throws {
        let name = "<script>alert(\"x\")</script> R&D; &amp; 'q'"
        let chart = XYChart(id: "h", title: name, xLabel: name, yLabel: name,
                            layers: [.line(series: name, label: name, colour: "#000", points: [XYPoint(x: 0, y: 1), XYPoint(x: 1, y: 2)])])
        let page = ReportPage(title: name, blocks: [
            .section(name, id: "s"), .paragraph([.text(name), .code(name), .strong(name), .link(name, href: "report.md")]),
            .list([[.text(name)]]), .table(header: [name, "b"], rows: [[name, "1"]]), .chart(chart),
            .bars(BarChart(id: "b", title: name, yLabel: name, categories: [name], series: [BarSeries(series: name, label: name, colour: "#000", values: [1])])),
        ])
        let html = page.html()
        #expect(html.hasPrefix("<!DOCTYPE html>") && !html.contains("<script"))
        let root = try XMLTree.parse(html)
        #expect(root.name == "html" && root.all("title").first?.allText == name)
        #expect(root.all("td").first?.allText == name && root.all("svg").count == 2)
        #expect(root.all("g", ["data-series": name]).count == 2)
        #expect(html.components(separatedBy: "http").count - 1 == html.components(separatedBy: "http://www.w3.org/2000/svg").count - 1)
    }
}
