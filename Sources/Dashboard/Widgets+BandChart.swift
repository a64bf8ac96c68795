import Foundation

extension Widgets {
    /// One point of a `bandChart` series: at `x` (an epoch), the `mean`, and the band around it
    /// (a 95% interval) when there is one.
    public struct BandPoint: Sendable, Hashable {
        public var x: Int
        public var mean: Double
        public var lower: Double?
        public var upper: Double?

        public init(x: Int, mean: Double, lower: Double? = nil, upper: Double? = nil) {
            self.x = x
            self.mean = mean
            self.lower = lower
            self.upper = upper
        }

        /// The band, when both ends are finite (in order).
        var band: (lo: Double, hi: Double)? {
            guard let lower, let upper, lower.isFinite, upper.isFinite else { return nil }
            return (min(lower, upper), max(lower, upper))
        }
    }

    /// A named series of a `bandChart`: its points in increasing x, drawn in `color`.
    public struct BandSeries: Sendable, Hashable {
        public var name: String
        public var points: [BandPoint]
        public var color: Color

        public init(name: String, points: [BandPoint], color: Color) {
            self.name = name
            self.points = points
            self.color = color
        }
    }

    // MARK: - Band chart

    /// A line chart of means with their bands (learning curves: x = epoch), laid out like
    /// `lineChart`:
    ///
    /// ```
    /// ━ FT  ━ CPO  ━ DR-CPO          legend (height >= 4); with a cursor: "epoch 1: ━ FT 53.4 ..."
    /// 55.8┤       ░░░░░░░⣀⠤⠔⠊        plot: each mean a line, each band shaded behind the lines
    /// 54.6┤   ░░░⣀⡠⠤⠒⠊░│░░░          y labels max / mid / min (`ChartScale`), `│` the cursor
    /// 53.4┤⠒⠉⠉░░░░░░░░░│             (`:` shading and `|` in ASCII)
    ///     0     epoch  1       2     x labels: epochs at their columns, as many as fit
    /// ```
    ///
    /// - x runs from the smallest to the largest x of any finite mean (a single x: the left
    ///   column); the y range is the exact min and max of the finite means and band ends
    ///   (`ChartScale.range`).
    /// - The band of a column is the band at the column's middle, interpolated linearly between
    ///   neighbouring points that both have one, shaded `░` (ASCII `:`) in the series' colour,
    ///   dim, so the lines drawn over every band stay readable.
    /// - Means are joined by straight braille lines (ASCII: the series' mark, `Glyphs.asciiMarks`),
    ///   as `lineChart` draws them (`plotLines`); NaN and infinite means are skipped and break
    ///   the line.
    /// - `highlighted` series (indices: the selected method's) are drawn last, bold, in front of
    ///   the others.
    /// - `cursor` (an x within the chart's range) is a vertical marker `│` (`|`) in
    ///   `theme.accent` in the cells no line uses, as in `lineChart`; the legend row then reads
    ///   out each series' mean at that x (`–` where it has none).
    /// - `legend` false: no legend row (and no readout), for a caller whose table names the
    ///   series (`legendMark`) and reads out the cursor's epoch.
    /// - No finite mean at all: "no data yet".
    public static func bandChart(_ series: [BandSeries], in r: Rect, buffer: inout CellBuffer, theme: Theme,
                                 glyphs: Glyphs, highlighted: Set<Int> = [], cursor: Int? = nil, xLabel: String? = "epoch",
                                 legend: Bool = true) {
        guard !r.isEmpty else { return }
        let finite = series.flatMap(\.points).filter(\.mean.isFinite)
        guard let range = ChartScale.range(of: finite.flatMap { [$0.mean] + ($0.band.map { [$0.lo, $0.hi] } ?? []) }),
              let x0 = finite.map(\.x).min(), let x1 = finite.map(\.x).max() else {
            message(noDataMessage, in: r, buffer: &buffer, style: theme.dim)
            return
        }
        guard let (plot, scale, legendRows, xRows) = chartFrame(range, in: r, legend: legend, buffer: &buffer, theme: theme,
                                                                 glyphs: glyphs)
        else { return }
        let xs = BandXScale(x0: x0, x1: x1, plot: plot, dotsPerColumn: scale.dotsPerCell.columns)
        // The highlighted series last, so it is drawn over the others.
        let order = series.indices.filter { !highlighted.contains($0) } + series.indices.filter { highlighted.contains($0) }
        for s in order {
            shadeBand(series[s].points, xs: xs, scale: scale, buffer: &buffer, glyphs: glyphs,
                      style: Style(fg: series[s].color, dim: true))
        }
        // The means as `lineChart` lines: one value per x from x0 to x1; an x between two points
        // is on the straight line joining them (as the line is drawn), before the first point
        // and after the last none (NaN).
        func line(_ s: Int) -> ChartSeries {
            var values = [Double](repeating: .nan, count: x1 - x0 + 1)
            let points = series[s].points.filter { $0.x >= x0 && $0.x <= x1 }.sorted { $0.x < $1.x }
            for p in points { values[p.x - x0] = p.mean }
            for (a, b) in zip(points, points.dropFirst()) where b.x > a.x + 1 && a.mean.isFinite && b.mean.isFinite {
                for x in (a.x + 1)..<b.x { values[x - x0] = a.mean + (b.mean - a.mean) * Double(x - a.x) / Double(b.x - a.x) }
            }
            return ChartSeries(name: series[s].name, values: values, color: series[s].color, bold: highlighted.contains(s), mark: s)
        }
        let cursorShown = cursor.map { $0 >= x0 && $0 <= x1 } == true
        plotLines(order.map(line), xs: x0...x1, xStart: x0, scale: scale, in: plot, buffer: &buffer, glyphs: glyphs,
                  cursor: cursorShown ? cursor.map { (x: $0, style: theme.accent) } : nil)

        if legendRows == 1 {
            var row = r.row(0)
            var entries = series.indices.map(line)
            if let cursor, cursorShown {
                let prefix = "\(xLabel ?? "x") \(cursor): "
                buffer.put(prefix, x: row.x, y: row.y, style: theme.text, maxWidth: row.width)
                row = row.cutLeft(prefix.count).1
                for (s, ser) in series.enumerated() {
                    entries[s].name += " " + (ser.points.first { $0.x == cursor }.map { formatCompact($0.mean) } ?? "–")
                }
            }
            drawLegend(entries, in: row, buffer: &buffer, glyphs: glyphs)
        }
        if xRows == 1 { drawEpochLabels(xs, label: xLabel, row: r.maxY - 1, right: r.maxX, buffer: &buffer, theme: theme) }
    }

    /// Where x values land in a band chart's plot: x0...x1 spread over the dot columns.
    struct BandXScale {
        let x0: Int, x1: Int
        let plot: Rect
        let dotsPerColumn: Int

        var dotColumns: Int { plot.width * dotsPerColumn }

        func dotColumn(_ x: Int) -> Int {
            x1 == x0 ? 0 : Int((Double(x - x0) * Double(dotColumns - 1) / Double(x1 - x0)).rounded())
        }

        func cellColumn(_ x: Int) -> Int { dotColumn(x) / dotsPerColumn }

        /// The x at the middle of cell column `c` (a fraction; x0 for every column when x0 == x1).
        func x(atColumn c: Int) -> Double {
            guard x1 > x0, dotColumns > 1 else { return Double(x0) }
            let dot = Double(c * dotsPerColumn) + Double(dotsPerColumn - 1) / 2
            return Double(x0) + dot * Double(x1 - x0) / Double(dotColumns - 1)
        }
    }

    /// The band of `points` shaded column by column: at each column's middle x, between two
    /// neighbouring points that both have a band (interpolated linearly), or at a point's own
    /// column (a single point, or x0 == x1).
    static func shadeBand(_ points: [BandPoint], xs: BandXScale, scale: ChartScale, buffer: inout CellBuffer,
                          glyphs: Glyphs, style: Style) {
        let shade: Character = glyphs == .unicode ? "░" : ":"
        func fill(column c: Int, _ band: (lo: Double, hi: Double)) {
            let top = scale.cellRow(ofDotRow: scale.dotRow(band.hi)), bottom = scale.cellRow(ofDotRow: scale.dotRow(band.lo))
            for row in top...bottom { buffer[xs.plot.x + c, xs.plot.y + row] = Cell(char: shade, style: style) }
        }
        let banded = points.filter { $0.mean.isFinite && $0.band != nil }
        for p in banded { if let b = p.band { fill(column: xs.cellColumn(p.x), b) } }
        for (a, b) in zip(points, points.dropFirst()) {
            guard a.mean.isFinite, b.mean.isFinite, let ba = a.band, let bb = b.band, b.x > a.x else { continue }
            for c in xs.cellColumn(a.x)...xs.cellColumn(b.x) {
                let x = xs.x(atColumn: c)
                guard x >= Double(a.x), x <= Double(b.x) else { continue }
                let t = (x - Double(a.x)) / Double(b.x - a.x)
                fill(column: c, (ba.lo + t * (bb.lo - ba.lo), ba.hi + t * (bb.hi - ba.hi)))
            }
        }
    }

    /// Epoch labels on `row` under their columns: x0 (from the plot's left), the last epoch
    /// (ending at `right` at most) and every `step`-th epoch between them, the smallest step of
    /// 1, 2, 5, 10, 20, 50, ... that keeps a space between labels (one too close to the last
    /// gives way to it); only x0 when even x0 and the last do not fit. `label` goes in the widest
    /// gap when it fits with a space each side.
    static func drawEpochLabels(_ xs: BandXScale, label: String?, row y: Int, right: Int, buffer: inout CellBuffer,
                                theme: Theme) {
        let labels = epochLabels(xs, right: right)
        for l in labels { buffer.put(l.text, x: l.x, y: y, style: theme.dim) }
        guard let label, !label.isEmpty, labels.count >= 2 else { return }
        let gaps = zip(labels, labels.dropFirst()).map { (start: $0.x + $0.text.count + 1, end: $1.x - 1) }
        if let widest = gaps.max(by: { $0.end - $0.start < $1.end - $1.start }), widest.end - widest.start >= label.count {
            buffer.put(label, x: widest.start + (widest.end - widest.start - label.count) / 2, y: y, style: theme.dim)
        }
    }

    /// The epoch labels `drawEpochLabels` writes, left to right.
    static func epochLabels(_ xs: BandXScale, right: Int) -> [(x: Int, text: String)] {
        func label(_ e: Int) -> (x: Int, text: String) {
            let text = String(e)
            let centre = xs.plot.x + xs.cellColumn(e)
            return (min(max(xs.plot.x, centre - (text.count - 1) / 2), right - text.count), text)
        }
        func apart(_ a: (x: Int, text: String), _ b: (x: Int, text: String)) -> Bool { a.x + a.text.count + 1 <= b.x }
        let first = label(xs.x0), last = label(xs.x1)
        guard xs.x1 > xs.x0, apart(first, last) else { return [first] }
        var step = 1, k = 0
        while true {
            var out = [first] + stride(from: xs.x0 + step, to: xs.x1, by: step).map(label)
            while out.count > 1, !apart(out[out.count - 1], last) { out.removeLast() }
            out.append(last)
            if zip(out, out.dropFirst()).allSatisfy({ apart($0, $1) }) { return out }
            // Next step: 2, 5, 10, 20, 50, 100, ... (reaches the span, where only x0 and the last are left).
            k += 1
            step = [1, 2, 5][k % 3] * Int(pow(10, Double(k / 3)))
        }
    }
}
