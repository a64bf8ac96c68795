import Foundation

extension Widgets {
    /// One x of a distribution chart: quantiles of a distribution at that x (the held-out
    /// log-weights of an epoch). A band or median that is missing or not finite is not drawn.
    public struct QuantileBands: Sendable, Hashable {
        public var x: Int
        /// The wide band (e.g. 5-95%), the narrow one (25-75%), the median.
        public var outer: ClosedRange<Double>?
        public var inner: ClosedRange<Double>?
        public var median: Double?

        public init(x: Int, outer: ClosedRange<Double>?, inner: ClosedRange<Double>?, median: Double?) {
            self.x = x
            self.outer = outer
            self.inner = inner
            self.median = median
        }
    }

    /// What the distribution chart calls its bands in the legend ("5–95%", "25–75%", "median").
    public struct BandNames: Sendable, Hashable {
        public var outer: String, inner: String, median: String

        public init(outer: String, inner: String, median: String) {
            self.outer = outer
            self.inner = inner
            self.median = median
        }
    }

    /// The distribution chart shows its legend from this height.
    static let distributionLegendMinHeight = 6

    /// TensorBoard's distributions view in cells: how a distribution changes over x (epochs).
    /// Layout inside `r`, from the top:
    ///
    /// ```
    /// ░ 5–95%  ▒ 25–75%  ━ median      legend (height >= 6)
    ///  0.7┤         ░░░░░░░░░░░        plot: every column a band, x interpolated between the
    ///     │    ░░░░░▒▒▒▒▒▒▒▒▒▒▒        points; a row belongs to a band when the band's range
    ///  0.1┤━━━━━━━━━━━━━━━━━━━━        covers its value (every band covers at least a row)
    ///     │    ░░░░░▒▒▒▒▒▒▒▒▒▒▒
    /// -0.7┤         ░░░░░░░░░░░
    ///      0      epoch       2        x labels: first and last x, `xLabel`, the cursor's x
    /// ```
    ///
    /// The wide band is drawn dim (`░`, ASCII `:`), the narrow one over it (`▒`, ASCII `#`),
    /// the median over both (`━`, ASCII `=`, bold), all in `style`. The y range is that of the
    /// finite bounds (a constant is centred in ±50%, ±1 for 0, as in `lineChart`); the labels
    /// are max / mid / min. The column of `cursorX` is marked (when there are several x): `│`
    /// (`|`) where no band is, the band cells reversed; and its x is written under it when that
    /// fits. No finite value: "no data yet".
    public static func distributionChart(_ points: [QuantileBands], in r: Rect, buffer: inout CellBuffer, style: Style,
                                         theme: Theme, glyphs: Glyphs, names: BandNames, xLabel: String? = nil,
                                         cursorX: Int? = nil) {
        guard !r.isEmpty else { return }
        func finite(_ b: ClosedRange<Double>?) -> ClosedRange<Double>? {
            guard let b, b.lowerBound.isFinite, b.upperBound.isFinite else { return nil }
            return b
        }
        let pts = points.map { QuantileBands(x: $0.x, outer: finite($0.outer), inner: finite($0.inner),
                                             median: $0.median.flatMap { $0.isFinite ? $0 : nil }) }
            .sorted { $0.x < $1.x }
        let values = pts.flatMap { p in
            [p.outer?.lowerBound, p.outer?.upperBound, p.inner?.lowerBound, p.inner?.upperBound, p.median].compactMap { $0 }
        }
        guard let range = ChartScale.range(of: values), let first = pts.first, let last = pts.last else {
            message(noDataMessage, in: r, buffer: &buffer, style: theme.dim)
            return
        }
        let legendRows = r.height >= distributionLegendMinHeight ? 1 : 0
        let xRows = r.height >= ChartScale.minHeightForXLabels ? 1 : 0
        let plotRows = r.height - legendRows - xRows
        let scale = ChartScale(lo: range.lo, hi: range.hi, rows: plotRows, glyphs: .ascii)
        let labels = scale.yLabels()
        let labelW = r.width - ChartScale.labelWidth(labels) - 1 < ChartScale.minPlotWidth ? -1 : ChartScale.labelWidth(labels)
        let plot = Rect(x: r.x + labelW + 1, y: r.y + legendRows, width: r.maxX - (r.x + labelW + 1), height: plotRows)
        guard plot.width > 0, plot.height > 0 else { return }
        if labelW >= 0 { drawYAxis(labels, left: plot, buffer: &buffer, theme: theme, glyphs: glyphs) }

        let unicode = glyphs == .unicode
        let marks: (outer: Character, inner: Character, median: Character) = unicode ? ("░", "▒", "━") : (":", "#", "=")
        let outerStyle = style.merged(with: Style(dim: true)), medianStyle = style.merged(with: Style(bold: true))
        let span = last.x - first.x
        /// The column of x (the first x on the left edge, the last on the right).
        func column(_ x: Int) -> Int {
            span <= 0 || plot.width <= 1 ? 0 : Int((Double(x - first.x) * Double(plot.width - 1) / Double(span)).rounded())
        }
        /// The bands at column `c`, linear between the points on either side of its x.
        func bands(at c: Int) -> QuantileBands {
            guard span > 0, plot.width > 1, pts.count > 1 else { return first }
            let xv = Double(first.x) + Double(c) * Double(span) / Double(plot.width - 1)
            let k = min(pts.count - 2, max(0, (pts.lastIndex { Double($0.x) <= xv } ?? 0)))
            let a = pts[k], b = pts[k + 1]
            let t = b.x == a.x ? 0 : (xv - Double(a.x)) / Double(b.x - a.x)
            func mix(_ u: Double?, _ v: Double?) -> Double? {
                guard let u, let v else { return t < 0.5 ? u : v }
                return u + (v - u) * t
            }
            func mix(_ u: ClosedRange<Double>?, _ v: ClosedRange<Double>?) -> ClosedRange<Double>? {
                guard let lo = mix(u?.lowerBound, v?.lowerBound), let hi = mix(u?.upperBound, v?.upperBound) else { return nil }
                return min(lo, hi)...max(lo, hi)
            }
            return QuantileBands(x: Int(xv.rounded()), outer: mix(a.outer, b.outer), inner: mix(a.inner, b.inner),
                                 median: mix(a.median, b.median))
        }
        /// The rows (from the bottom) whose values a band covers: those whose centre lies less
        /// than half a row beyond its ends (so a band fills alike above and below its middle);
        /// at least the row of its middle.
        func rows(_ b: ClosedRange<Double>) -> ClosedRange<Int> {
            let step = (range.hi - range.lo) / Double(max(1, plotRows - 1))
            let u = (b.lowerBound - range.lo) / step, v = (b.upperBound - range.lo) / step
            let low = max(0, Int((u - 0.5).rounded(.down)) + 1), high = min(plotRows - 1, Int((v + 0.5).rounded(.up)) - 1)
            guard plotRows > 1, low <= high else {
                let m = scale.dotRow(b.lowerBound / 2 + b.upperBound / 2)
                return m...m
            }
            return low...high
        }
        func fill(_ c: Int, _ b: ClosedRange<Double>, _ char: Character, _ st: Style) {
            for d in rows(b) { buffer[plot.x + c, plot.y + scale.cellRow(ofDotRow: d)] = Cell(char: char, style: st) }
        }
        for c in 0..<plot.width {
            let q = bands(at: c)
            if let o = q.outer { fill(c, o, marks.outer, outerStyle) }
            if let i = q.inner { fill(c, i, marks.inner, style) }
            if let m = q.median {
                let d = scale.dotRow(m)
                buffer[plot.x + c, plot.y + scale.cellRow(ofDotRow: d)] = Cell(char: marks.median, style: medianStyle)
            }
        }
        // (One x only: nothing to tell apart, no marker.)
        if let cx = cursorX, cx >= first.x, cx <= last.x, span > 0 {
            let c = column(cx)
            for row in 0..<plot.height {
                let x = plot.x + c, y = plot.y + row
                if buffer[x, y].char == " " {
                    buffer[x, y] = Cell(char: glyphs.axisVertical, style: theme.text)
                } else {
                    buffer[x, y].style = buffer[x, y].style.merged(with: Style(reverse: true))
                }
            }
        }
        if legendRows == 1 {
            var x = r.x
            for (mark, name, st) in [(marks.outer, names.outer, outerStyle), (marks.inner, names.inner, style),
                                     (marks.median, names.median, medianStyle)] {
                let entry = "\(mark) \(name)"
                guard x + entry.count <= r.maxX else { break }
                buffer[x, r.y] = Cell(char: mark, style: st)
                buffer.put(String(entry.dropFirst()), x: x + 1, y: r.y, style: theme.dim)
                x += entry.count + 2
            }
        }
        if xRows == 1 {
            let y = r.maxY - 1
            drawXLabels(first: first.x, last: last.x, label: nil, under: plot, row: y, right: r.maxX, buffer: &buffer, theme: theme)
            // The cursor's x under its column (in `theme.accent`), when it keeps a space clear of
            // the first and last x or is one of them; then `xLabel` in the widest gap left.
            if let cx = cursorX, cx >= first.x, cx <= last.x {
                let text = String(cx)
                let x = min(max(plot.x, plot.x + column(cx) - (text.count - 1) / 2), r.maxX - text.count)
                let clear = (max(r.x, x - 1)..<min(r.maxX, x + text.count + 1)).allSatisfy { buffer[$0, y].char == " " }
                let onLabel = (x..<(x + text.count)).map { buffer[$0, y].char } == Array(text)
                if clear || onLabel { buffer.put(text, x: x, y: y, style: theme.accent) }
            }
            if let xLabel, !xLabel.isEmpty {
                var best = (start: 0, length: 0), run = 0
                for x in plot.x..<r.maxX {
                    run = buffer[x, y].char == " " ? run + 1 : 0
                    if run > best.length { best = (x - run + 1, run) }
                }
                // A space clear on both sides (the row's ends need none).
                let lead = best.start > plot.x ? 1 : 0, trail = best.start + best.length < r.maxX ? 1 : 0
                let room = best.length - lead - trail
                if room >= xLabel.count {
                    buffer.put(xLabel, x: best.start + lead + (room - xLabel.count) / 2, y: y, style: theme.dim)
                }
            }
        }
    }
}
