import Foundation
import Plot

/// One series of a ``BarChart``: a value per category, optionally with an interval drawn as a
/// whisker.
public struct BarSeries: Sendable, Hashable {
    /// Its `data-series` attribute.
    public var series: String
    /// The legend's text.
    public var label: String
    public var colour: String
    /// One per category; a non-finite value draws no bar but "n/a" at the baseline.
    public var values: [Double]
    /// The whiskers' ends, one per category (empty: no whiskers; non-finite: none there).
    public var lower: [Double]
    public var upper: [Double]

    public init(series: String, label: String, colour: String, values: [Double], lower: [Double] = [], upper: [Double] = []) {
        self.series = series
        self.label = label
        self.colour = colour
        self.values = values
        self.lower = lower
        self.upper = upper
    }
}

/// Grouped bars: per category one bar per series from zero, with whiskers, a numeric y axis,
/// a legend and a note.
public struct BarChart: Sendable, Hashable {
    public var id: String
    public var title: String
    public var yLabel: String
    public var categories: [String]
    public var series: [BarSeries]
    public var note: String?
    public var width: Double
    public var plotHeight: Double

    public init(id: String, title: String, yLabel: String, categories: [String], series: [BarSeries], note: String? = nil,
                width: Double = 640, plotHeight: Double = 220) {
        self.id = id
        self.title = title
        self.yLabel = yLabel
        self.categories = categories
        self.series = series
        self.note = note
        self.width = width
        self.plotHeight = plotHeight
    }

    public func svg() -> String { node().render() }

    /// Approximate width of a label in pixels at the 11-pixel font.
    static func labelWidth(_ s: String) -> Double { Double(s.count) * 6.2 }

    func node() -> SVGNode {
        let slot = (width - 80) / Double(max(1, categories.count))
        let rotate = categories.contains { Self.labelWidth($0) > slot - 4 }
        let longest = categories.map(Self.labelWidth).max() ?? 0
        let extra = rotate ? min(120, longest * 0.6) : 0
        let frame = ChartFrame(width: width, plotHeight: plotHeight, legend: series.count, note: note, bottomExtra: extra)
        var body = frame.heading(title: title)
        let finite = series.flatMap { s in s.values + s.lower + s.upper }.filter(drawable)
        guard !categories.isEmpty, series.contains(where: { $0.values.contains(where: drawable) }) else {
            body.append(contentsOf: frame.noData())
            return frame.root(id: id, title: title, kind: "bars", body)
        }
        // Bars start at zero, so the axis includes it.
        let ticks = Ticks.nice(lower: min(0, finite.min() ?? 0), upper: max(0, finite.max() ?? 0), count: 5)
        let y = LinearScale(domain: ticks.lower, ticks.upper, range: frame.bottom, frame.top)
        body.append(frame.yAxis(ticks, y, label: yLabel))
        let c = Markup.coordinate
        let categorySlot = (frame.right - frame.left) / Double(categories.count)
        let barWidth = categorySlot * 0.8 / Double(max(1, series.count))
        let zero = y.position(0)
        var labels: [SVGNode] = []
        for (i, name) in categories.enumerated() {
            let cx = frame.left + (Double(i) + 0.5) * categorySlot
            let ly = frame.bottom + 15
            labels.append(rotate
                ? svgText(name, [("x", c(cx)), ("y", c(ly)), ("text-anchor", "end"), ("transform", "rotate(-35 \(c(cx)) \(c(ly)))")])
                : svgText(name, [("x", c(cx)), ("y", c(ly)), ("text-anchor", "middle")]))
        }
        body.append(svgElement("g", [("class", "axis"), ("data-axis", "x")], labels))
        for (k, s) in series.enumerated() {
            var bars: [SVGNode] = []
            for (i, name) in categories.enumerated() {
                let x0 = frame.left + Double(i) * categorySlot + categorySlot * 0.1 + Double(k) * barWidth
                let v = i < s.values.count ? s.values[i] : .nan
                guard drawable(v) else {
                    bars.append(svgText("n/a", [("x", c(x0 + barWidth / 2)), ("y", c(zero - 3)), ("text-anchor", "middle"),
                                                ("font-size", "9"), ("fill", s.colour), ("data-category", name)]))
                    continue
                }
                let top = min(zero, y.position(v)), height = abs(y.position(v) - zero)
                var tip = "\(s.label), \(name): \(formatShort(v))"
                var a: [(String, String)] = [("x", c(x0 + 1)), ("y", c(top)), ("width", c(max(1, barWidth - 2))), ("height", c(height)),
                                             ("fill", s.colour), ("data-category", name)]
                if let value = Markup.value(v) { a.append(("data-value", value)) }
                let lo = i < s.lower.count ? s.lower[i] : .nan, hi = i < s.upper.count ? s.upper[i] : .nan
                var whisker: [SVGNode] = []
                if drawable(lo), drawable(hi) {
                    tip += " [\(formatShort(lo)), \(formatShort(hi))]"
                    let wx = x0 + barWidth / 2, cap = min(4, barWidth / 4)
                    for (x1, x2, y1, y2) in [(wx, wx, y.position(lo), y.position(hi)), (wx - cap, wx + cap, y.position(lo), y.position(lo)),
                                             (wx - cap, wx + cap, y.position(hi), y.position(hi))] {
                        whisker.append(svgElement("line", [("x1", c(x1)), ("x2", c(x2)), ("y1", c(y1)), ("y2", c(y2)), ("stroke", "#222"),
                                                           ("stroke-width", "1.2"), ("class", "whisker")]))
                    }
                }
                bars.append(svgElement("rect", a, [.element(named: "title", nodes: [.escaped(tip)])]))
                bars.append(contentsOf: whisker)
            }
            body.append(svgElement("g", [("class", "layer"), ("data-series", s.series), ("data-kind", "bars")], bars))
        }
        body.append(frame.legend(series.map { LegendEntry(label: $0.label, colour: $0.colour, kind: .band, dash: "", opacity: 1, marker: false) }))
        body.append(contentsOf: frame.noteLines())
        return frame.root(id: id, title: title, kind: "bars", body)
    }
}
