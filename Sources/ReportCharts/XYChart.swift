import Foundation
import Plot

/// A point of a series.
public struct XYPoint: Sendable, Hashable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// One thing an ``XYChart`` draws: a line (optionally with a marker per point), faint dots, or a
/// shaded band between a lower and an upper value per x.
public struct XYLayer: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case line, dots, band
    }

    public var kind: Kind
    /// The series the layer belongs to (a method's name): its `data-series` attribute.
    public var series: String
    /// The legend's text; empty leaves the layer out of the legend.
    public var label: String
    public var colour: String
    /// SVG `stroke-dasharray` of a line ("" solid).
    public var dash: String
    public var opacity: Double
    /// A line's marker per point (with a tooltip of its value).
    public var markers: Bool
    /// The points; for a band, `y` is the lower edge.
    public var points: [XYPoint]
    /// A band's upper edge, one per point.
    public var upper: [Double]

    /// A line through `points` in x order as given; non-finite points break it.
    public static func line(series: String, label: String, colour: String, dash: String = "", points: [XYPoint],
                            markers: Bool = true) -> XYLayer {
        XYLayer(kind: .line, series: series, label: label, colour: colour, dash: dash, opacity: 1, markers: markers,
                points: points, upper: [])
    }

    /// One faint dot per point (raw values under a smoothed line).
    public static func dots(series: String, label: String, colour: String, points: [XYPoint], opacity: Double = 0.3) -> XYLayer {
        XYLayer(kind: .dots, series: series, label: label, colour: colour, dash: "", opacity: opacity, markers: false,
                points: points, upper: [])
    }

    /// The area between `lower` and `upper` over `x`; an x where either edge is not finite breaks it.
    public static func band(series: String, label: String, colour: String, opacity: Double, x: [Double], lower: [Double],
                            upper: [Double]) -> XYLayer {
        let n = min(x.count, lower.count, upper.count)
        return XYLayer(kind: .band, series: series, label: label, colour: colour, dash: "", opacity: opacity, markers: false,
                       points: (0..<n).map { XYPoint(x: x[$0], y: lower[$0]) }, upper: Array(upper.prefix(n)))
    }
}

/// A chart of numeric x against numeric y: lines, dots and bands, with axes that carry numeric
/// tick labels, a legend and a note. Non-finite values (and beyond ±``Ticks/largest``) are
/// skipped, never drawn; a chart with nothing finite says "no data" instead of drawing axes
/// that would look like zeros.
public struct XYChart: Sendable, Hashable {
    /// The chart's `data-chart` attribute (unique on a page).
    public var id: String
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var layers: [XYLayer]
    /// Ticks on whole numbers only (epochs, steps).
    public var integerX: Bool
    /// A logarithmic x axis (points at x ≤ 0 are not drawn).
    public var logX: Bool
    /// A sentence drawn under the legend (what the shading means, the smoothing, the seed).
    public var note: String?
    public var width: Double
    public var plotHeight: Double

    public init(id: String, title: String, xLabel: String, yLabel: String, layers: [XYLayer], integerX: Bool = false,
                logX: Bool = false, note: String? = nil, width: Double = 640, plotHeight: Double = 220) {
        self.logX = logX
        self.id = id
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.layers = layers
        self.integerX = integerX
        self.note = note
        self.width = width
        self.plotHeight = plotHeight
    }

    /// The standalone SVG document (also what the HTML page embeds).
    public func svg() -> String { node().render() }

    func node() -> SVGNode {
        let frame = ChartFrame(width: width, plotHeight: plotHeight, legend: layers.filter { !$0.label.isEmpty }.count, note: note)
        var body: [SVGNode] = frame.heading(title: title)
        let usable = layers.map { $0.finitePoints.filter { !logX || $0.x > 0 } }
        let xs = usable.flatMap { $0.map(\.x) }
        let ys = zip(layers, usable).flatMap { layer, pts in layer.kind == .band ? pts.flatMap { [$0.y, $0.upper] } : pts.map(\.y) }
        guard let xMin = xs.min(), let xMax = xs.max(), let yMin = ys.min(), let yMax = ys.max() else {
            body.append(contentsOf: frame.noData())
            return frame.root(id: id, title: title, kind: "xy", body)
        }
        let xTicks = logX ? Ticks.logarithmic(lower: xMin, upper: xMax) : Ticks.nice(lower: xMin, upper: xMax, count: 6, integer: integerX)
        let yTicks = Ticks.nice(lower: yMin, upper: yMax, count: 5)
        let xScale = LinearScale(domain: xTicks.lower, xTicks.upper, range: frame.left, frame.right, logarithmic: logX)
        let yScale = LinearScale(domain: yTicks.lower, yTicks.upper, range: frame.bottom, frame.top)
        body.append(frame.yAxis(yTicks, yScale, label: yLabel))
        body.append(frame.xAxis(xTicks, xScale, label: xLabel))
        for kind in [XYLayer.Kind.band, .dots, .line] {
            for (layer, pts) in zip(layers, usable) where layer.kind == kind {
                body.append(layer.node(pts, xScale, yScale, xLabel: xLabel))
            }
        }
        body.append(frame.legend(layers.filter { !$0.label.isEmpty }.map { $0.legendEntry }))
        body.append(contentsOf: frame.noteLines())
        return frame.root(id: id, title: title, kind: "xy", body)
    }
}

/// A point that can be drawn: finite, and for a band both edges.
struct DrawablePoint {
    var x: Double
    var y: Double
    var upper: Double
    /// Its index among the layer's points (a run of consecutive indices is drawn connected).
    var index: Int
}

func drawable(_ v: Double) -> Bool { v.isFinite && abs(v) < Ticks.largest }

extension XYLayer {
    var finitePoints: [DrawablePoint] {
        points.indices.compactMap { i in
            let p = points[i]
            let up = kind == .band ? (i < upper.count ? upper[i] : .nan) : p.y
            guard drawable(p.x), drawable(p.y), drawable(up) else { return nil }
            return DrawablePoint(x: p.x, y: p.y, upper: up, index: i)
        }
    }

    /// Runs of consecutive drawable points: a non-finite point between two breaks the line.
    static func runs(_ pts: [DrawablePoint]) -> [[DrawablePoint]] {
        var out: [[DrawablePoint]] = []
        for p in pts {
            if let last = out.last?.last, last.index == p.index - 1 { out[out.count - 1].append(p) } else { out.append([p]) }
        }
        return out
    }

    func node(_ pts: [DrawablePoint], _ xs: LinearScale, _ ys: LinearScale, xLabel: String) -> SVGNode {
        let c = Markup.coordinate
        var children: [SVGNode] = []
        switch kind {
        case .band:
            for run in Self.runs(pts) {
                if run.count == 1, let p = run.first {
                    children.append(svgElement("line", ["x1": c(xs.position(p.x)), "x2": c(xs.position(p.x)), "y1": c(ys.position(p.y)),
                                                        "y2": c(ys.position(p.upper)), "stroke": colour, "stroke-width": "6",
                                                        "stroke-opacity": c(opacity)]))
                    continue
                }
                let lower = run.map { "\(c(xs.position($0.x))) \(c(ys.position($0.y)))" }
                let upper = run.reversed().map { "\(c(xs.position($0.x))) \(c(ys.position($0.upper)))" }
                children.append(svgElement("path", ["d": "M" + (lower + upper).joined(separator: " L") + " Z", "fill": colour,
                                                    "fill-opacity": c(opacity), "stroke": "none"]))
            }
        case .dots:
            if !pts.isEmpty {
                let d = pts.map { "M\(c(xs.position($0.x))) \(c(ys.position($0.y)))h0" }.joined()
                children.append(svgElement("path", ["d": d, "stroke": colour, "stroke-opacity": c(opacity), "stroke-width": "3",
                                                    "stroke-linecap": "round", "fill": "none", "data-points": "\(pts.count)"]))
            }
        case .line:
            for run in Self.runs(pts) where run.count > 1 {
                var a: [(String, String)] = [("points", run.map { "\(c(xs.position($0.x))),\(c(ys.position($0.y)))" }.joined(separator: " ")),
                                             ("fill", "none"), ("stroke", colour), ("stroke-width", "2"), ("stroke-linejoin", "round")]
                if !dash.isEmpty { a.append(("stroke-dasharray", dash)) }
                children.append(svgElement("polyline", a))
            }
            // Markers, and a lone point even without them (else it would not show).
            for run in Self.runs(pts) where markers || run.count == 1 {
                for p in run {
                    var a: [(String, String)] = [("cx", c(xs.position(p.x))), ("cy", c(ys.position(p.y))), ("r", "3"), ("fill", colour)]
                    if let x = Markup.value(p.x) { a.append(("data-x", x)) }
                    if let y = Markup.value(p.y) { a.append(("data-y", y)) }
                    let tip = "\(series), \(xLabel) \(formatShort(p.x)): \(formatShort(p.y))"
                    children.append(svgElement("circle", a, [.element(named: "title", nodes: [.escaped(tip)])]))
                }
            }
        }
        return svgElement("g", [("class", "layer"), ("data-series", series), ("data-kind", kind.rawValue)], children)
    }

    var legendEntry: LegendEntry {
        LegendEntry(label: label, colour: colour, kind: kind, dash: dash, opacity: opacity, marker: markers)
    }
}

/// A number in four significant digits, for tooltips.
func formatShort(_ v: Double) -> String { String(format: "%.4g", v) }

/// One line of a legend.
struct LegendEntry {
    var label: String
    var colour: String
    var kind: XYLayer.Kind
    var dash: String
    var opacity: Double
    var marker: Bool
}

/// The layout every chart shares: a title on top, the plot area with its axes, then the legend
/// in rows of two and the note, wrapped.
struct ChartFrame {
    static let legendRow = 18.0
    static let noteLine = 15.0
    static let legendColumn = 280.0
    static let noteCharacters = 100

    var width: Double
    var plotHeight: Double
    var legendCount: Int
    var note: [String]
    /// Extra room under the plot (rotated category labels).
    var bottomExtra: Double = 0

    init(width: Double, plotHeight: Double, legend: Int, note: String?, bottomExtra: Double = 0) {
        self.width = width
        self.plotHeight = plotHeight
        self.legendCount = legend
        self.note = note.map { wrap($0, width: Self.noteCharacters) } ?? []
        self.bottomExtra = bottomExtra
    }

    var left: Double { 64 }
    var right: Double { width - 16 }
    var top: Double { 34 }
    var bottom: Double { top + plotHeight }
    var columns: Int { max(1, Int((right - left) / Self.legendColumn)) }
    var legendTop: Double { bottom + 52 + bottomExtra }
    var legendRows: Int { (legendCount + columns - 1) / columns }
    var height: Double { legendTop + Double(legendRows) * Self.legendRow + Double(note.count) * Self.noteLine + 6 }

    func root(id: String, title: String, kind: String, _ body: [SVGNode]) -> SVGNode {
        let c = Markup.coordinate
        return svgElement("svg", [("xmlns", "http://www.w3.org/2000/svg"), ("width", c(width)), ("height", c(height)),
                                  ("viewBox", "0 0 \(c(width)) \(c(height))"), ("role", "img"), ("class", "chart"),
                                  ("data-chart", id), ("data-kind", kind), ("font-family", "sans-serif"), ("font-size", "11")],
                          [.element(named: "title", nodes: [.escaped(title)])] + body)
    }

    func heading(title: String) -> [SVGNode] {
        [svgText(title, [("x", Markup.coordinate(left)), ("y", "20"), ("font-size", "14"), ("font-weight", "bold")])]
    }

    func noData() -> [SVGNode] {
        let c = Markup.coordinate
        return [svgElement("rect", [("x", c(left)), ("y", c(top)), ("width", c(right - left)), ("height", c(plotHeight)),
                                    ("fill", "none"), ("stroke", "#999")]),
                svgText("no data", [("x", c((left + right) / 2)), ("y", c((top + bottom) / 2)), ("text-anchor", "middle"),
                                    ("fill", "#666"), ("class", "no-data")])]
    }

    /// The y axis: a grid line and a numeric label per tick (the zero line darker), the frame,
    /// and the axis' name turned along it.
    func yAxis(_ ticks: Ticks, _ scale: LinearScale, label: String) -> SVGNode {
        let c = Markup.coordinate
        var nodes: [SVGNode] = ticks.values.map { v in
            let y = c(scale.position(v))
            return svgElement("g", [("class", "tick"), ("data-value", Markup.value(v) ?? "0")], [
                svgElement("line", [("x1", c(left)), ("x2", c(right)), ("y1", y), ("y2", y), ("stroke", v == 0 ? "#888" : "#e2e2e2")]),
                svgText(ticks.label(v), [("x", c(left - 6)), ("y", c(scale.position(v) + 4)), ("text-anchor", "end")]),
            ])
        }
        nodes.append(svgElement("rect", [("x", c(left)), ("y", c(top)), ("width", c(right - left)), ("height", c(plotHeight)),
                                         ("fill", "none"), ("stroke", "#999")]))
        let mid = c((top + bottom) / 2)
        nodes.append(svgText(label, [("x", "14"), ("y", mid), ("text-anchor", "middle"), ("transform", "rotate(-90 14 \(mid))"),
                                     ("class", "axis-label")]))
        return svgElement("g", [("class", "axis"), ("data-axis", "y")], nodes)
    }

    /// The x axis: a grid line and a numeric label per tick, and the axis' name.
    func xAxis(_ ticks: Ticks, _ scale: LinearScale, label: String) -> SVGNode {
        let c = Markup.coordinate
        var nodes: [SVGNode] = ticks.values.map { v in
            let x = c(scale.position(v))
            return svgElement("g", [("class", "tick"), ("data-value", Markup.value(v) ?? "0")], [
                svgElement("line", [("x1", x), ("x2", x), ("y1", c(top)), ("y2", c(bottom)), ("stroke", "#e2e2e2")]),
                svgText(ticks.label(v), [("x", x), ("y", c(bottom + 15)), ("text-anchor", "middle")]),
            ])
        }
        nodes.append(svgText(label, [("x", c((left + right) / 2)), ("y", c(bottom + 33)), ("text-anchor", "middle"),
                                     ("class", "axis-label")]))
        return svgElement("g", [("class", "axis"), ("data-axis", "x")], nodes)
    }

    func legend(_ entries: [LegendEntry]) -> SVGNode {
        let c = Markup.coordinate
        let nodes: [SVGNode] = entries.enumerated().map { i, e in
            let x = left + Double(i % columns) * Self.legendColumn
            let y = legendTop + Double(i / columns) * Self.legendRow
            var swatch: [SVGNode]
            switch e.kind {
            case .line:
                var a: [(String, String)] = [("x1", c(x)), ("x2", c(x + 22)), ("y1", c(y - 4)), ("y2", c(y - 4)), ("stroke", e.colour),
                                             ("stroke-width", "2")]
                if !e.dash.isEmpty { a.append(("stroke-dasharray", e.dash)) }
                swatch = [svgElement("line", a)]
                if e.marker { swatch.append(svgElement("circle", [("cx", c(x + 11)), ("cy", c(y - 4)), ("r", "3"), ("fill", e.colour)])) }
            case .dots:
                swatch = [svgElement("circle", [("cx", c(x + 11)), ("cy", c(y - 4)), ("r", "2.5"), ("fill", e.colour),
                                                ("fill-opacity", c(max(e.opacity, 0.3)))])]
            case .band:
                swatch = [svgElement("rect", [("x", c(x)), ("y", c(y - 10)), ("width", "22"), ("height", "12"), ("fill", e.colour),
                                              ("fill-opacity", c(e.opacity))])]
            }
            return svgElement("g", [("class", "legend-entry")], swatch + [svgText(e.label, [("x", c(x + 28)), ("y", c(y))])])
        }
        return svgElement("g", [("class", "legend")], nodes)
    }

    func noteLines() -> [SVGNode] {
        let y0 = legendTop + Double(legendRows) * Self.legendRow
        return note.enumerated().map { i, line in
            svgText(line, [("x", Markup.coordinate(left)), ("y", Markup.coordinate(y0 + Double(i) * Self.noteLine)), ("fill", "#444"),
                           ("class", "note")])
        }
    }
}

/// `s` in lines of at most `width` characters, broken at spaces (a longer word stands alone).
func wrap(_ s: String, width: Int) -> [String] {
    var lines: [String] = []
    var line = ""
    for word in s.split(separator: " ") {
        if !line.isEmpty && line.count + 1 + word.count > width {
            lines.append(line)
            line = ""
        }
        line += (line.isEmpty ? "" : " ") + word
    }
    if !line.isEmpty { lines.append(line) }
    return lines
}
