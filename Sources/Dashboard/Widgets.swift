import Foundation

/// Column alignment in `Widgets.table`.
public enum Alignment: Sendable, Hashable {
    case left, right
}

/// Drawing primitives for panels: pure functions that draw into a buffer, inside a rectangle,
/// and never outside it. They keep no state between frames; the caller passes everything.
///
/// Honesty rules (Dashboard.docc/Dashboard.md, "Honest charts"): charts show the raw values (a
/// smoothed line is drawn over them, labelled as such, never instead of them by default), have
/// numeric axis labels, skip NaN/inf instead of letting them wreck the scale, and say "no data
/// yet" rather than draw an empty frame that looks like zeros.
public enum Widgets {
    /// What an empty chart says.
    public static let noDataMessage = "no data yet"

    // MARK: - Line chart

    /// A line chart of one or more named series, y = value, x = index of the value in its series
    /// (a step). Layout inside `r`, from the top:
    ///
    /// ```
    /// ━ FT  ━ CPO              legend: each name in its series' colour (height >= 4)
    ///   3┤⠑⠢⣀                  plot, y labels max / mid / min on the rows holding those values
    /// 1.5┤   ⠉⠒⠤⣀
    ///   0┤       ⠈⠉
    ///    0   step    99        x labels: first and last x, and `xLabel` between (height >= 3)
    /// ```
    ///
    /// - Braille (2x4 dots per cell) when `glyphs.hasBraille`, else one ASCII mark per cell with
    ///   a different mark per series (`Glyphs.asciiMarks`), which the legend shows instead of `━`.
    /// - Consecutive points are joined by straight lines, so when there are more points than
    ///   columns a column shows the full min-max range of its points (an envelope, not an average).
    /// - The y range is the exact min and max of the finite values of all series (labels in
    ///   `formatCompact`, with more decimals when that would make different labels look alike);
    ///   a constant series (to 12 significant digits) is drawn at mid-height with the range ±50%
    ///   of its value (±1 for 0) around it.
    /// - NaN and infinite values are skipped: the line breaks there.
    /// - Where series overlap in one cell the later series' colour wins (dots are merged).
    /// - `xStart` is the x of the first value (e.g. 1 for steps counted from 1).
    public static func lineChart(_ series: [(name: String, values: [Double], color: Color)], in r: Rect,
                                 buffer: inout CellBuffer, theme: Theme, glyphs: Glyphs, xLabel: String? = nil,
                                 xStart: Int = 0) {
        lineChart(series.map { ChartSeries(name: $0.name, values: $0.values, color: $0.color) }, in: r, buffer: &buffer,
                  theme: theme, glyphs: glyphs, options: ChartOptions(xLabel: xLabel, xStart: xStart))
    }

    /// The line chart above with what `options` adds: faint series (raw points under their
    /// smoothed line), a window of x, a cursor column, a log or symmetric-log y axis and a note
    /// after the legend. With default options and no faint series it draws exactly as above.
    ///
    /// - Faint series are drawn dim and under the others: a cell holding a dot of a non-faint
    ///   series shows only those dots; the other cells show the faint dots (ASCII: `.`). They
    ///   are left out of the legend (the caller's note says what they are).
    /// - `xWindow` (x values, as `xStart` counts them): only the points in it are drawn, the y
    ///   range is theirs, and the x labels are its ends.
    /// - `cursorX`: a vertical marker (`│`, ASCII `|`, in `theme.accent`) on that x's column,
    ///   in the cells no dot uses.
    /// - `yScale`: values are placed by `AxisScale.forward`; the labels are the values
    ///   themselves at the rows they label (so a log axis reads in the data's own units).
    /// - `legendNote`: after the legend entries in `theme.dim`, when it fits whole.
    @discardableResult
    public static func lineChart(_ series: [ChartSeries], in r: Rect, buffer: inout CellBuffer, theme: Theme,
                                 glyphs: Glyphs, options o: ChartOptions) -> ChartLayout {
        var layout = ChartLayout()
        guard !r.isEmpty else { return layout }
        let count = series.map(\.values.count).max() ?? 0
        let xs = o.xWindow ?? o.xStart...(o.xStart + max(0, count - 1))
        let shown = max(0, xs.lowerBound - o.xStart)..<max(0, min(count, xs.upperBound - o.xStart + 1))
        var lo = Double.infinity, hi = -Double.infinity
        for ser in series where !shown.isEmpty {
            for v in ser.values[min(shown.lowerBound, ser.values.count)..<min(shown.upperBound, ser.values.count)] {
                let t = o.yScale.forward(v)
                guard t.isFinite else { continue }
                lo = min(lo, t)
                hi = max(hi, t)
            }
        }
        guard let range = ChartScale.range(of: lo <= hi ? [lo, hi] : []) else {
            message(noDataMessage, in: r, buffer: &buffer, style: theme.dim)
            return layout
        }
        guard let (plot, scale, legendRows, xRows) = chartFrame(range, in: r, axis: o.yScale, buffer: &buffer, theme: theme,
                                                                 glyphs: glyphs)
        else { return layout }
        layout.plot = plot
        plotLines(series, xs: xs, xStart: o.xStart, scale: scale, in: plot, buffer: &buffer, glyphs: glyphs,
                  cursor: o.cursorX.map { (x: $0, style: theme.accent) })
        if legendRows == 1 {
            layout.noteShown = drawLegend(series, in: r.row(0), buffer: &buffer, glyphs: glyphs,
                                          note: o.legendNote.map { ($0, theme.dim) })
        }
        if xRows == 1, count > 0 {
            drawXLabels(first: xs.lowerBound, last: xs.upperBound, label: o.xLabel, under: plot, row: r.maxY - 1,
                        right: r.maxX, buffer: &buffer, theme: theme)
        }
        return layout
    }

    /// One line of `lineChart`: a name, values (x = index + `ChartOptions.xStart`), a colour,
    /// and whether it is drawn faint (raw points under a smoothed line). A `bold` line is drawn
    /// bold (the selected method's); `mark` numbers its ASCII mark and legend mark (nil: its
    /// position among the plain series), for a caller that draws series in another order than
    /// it numbers them.
    public struct ChartSeries: Sendable {
        public var name: String
        public var values: [Double]
        public var color: Color
        public var faint: Bool
        public var bold: Bool
        public var mark: Int?

        public init(name: String, values: [Double], color: Color, faint: Bool = false, bold: Bool = false, mark: Int? = nil) {
            self.name = name
            self.values = values
            self.color = color
            self.faint = faint
            self.bold = bold
            self.mark = mark
        }
    }

    /// What `lineChart` draws beyond the series (see there).
    public struct ChartOptions: Sendable {
        public var xLabel: String?
        public var xStart: Int
        public var xWindow: ClosedRange<Int>?
        public var cursorX: Int?
        public var yScale: AxisScale
        public var legendNote: String?

        public init(xLabel: String? = nil, xStart: Int = 0, xWindow: ClosedRange<Int>? = nil, cursorX: Int? = nil,
                    yScale: AxisScale = .linear, legendNote: String? = nil) {
            self.xLabel = xLabel
            self.xStart = xStart
            self.xWindow = xWindow
            self.cursorX = cursorX
            self.yScale = yScale
            self.legendNote = legendNote
        }
    }

    /// Where `lineChart` drew: its plot area (empty when it drew none), and whether the
    /// legend note fitted.
    public struct ChartLayout: Sendable {
        public var plot = Rect(width: 0, height: 0)
        public var noteShown = false
    }

    /// How a chart places values on its y axis.
    public enum AxisScale: Sendable, Hashable {
        case linear
        /// log10 y: for positive values only (others are not drawn).
        case log
        /// sign(y)·log10(1 + |y|): logarithmic in |y| beyond about ±1, linear near 0, so
        /// negative values (CPO's losses) have a log scale too.
        case symlog

        /// Where `y` goes on the axis.
        public func forward(_ y: Double) -> Double {
            switch self {
            case .linear: y
            case .log: y > 0 ? Foundation.log10(y) : .nan
            case .symlog: y < 0 ? -Foundation.log10(1 - y) : Foundation.log10(1 + y)
            }
        }

        /// The value at axis position `t` (`forward`'s inverse).
        public func inverse(_ t: Double) -> Double {
            switch self {
            case .linear: t
            case .log: Foundation.pow(10, t)
            case .symlog: t < 0 ? 1 - Foundation.pow(10, -t) : Foundation.pow(10, t) - 1
            }
        }
    }

    /// A chart's rows in `r` (legend, plot, x labels; the legend and then the x labels are left
    /// out when `r` is low, the legend also when `legend` is false) and its y axis with labels
    /// left of the plot (left out when they would leave the plot too narrow), drawn. Returns the
    /// plot's rectangle and scale (`range` on the `axis`), and whether the legend and x-label
    /// rows are there (0 or 1); nil when no plot fits.
    static func chartFrame(_ range: (lo: Double, hi: Double), in r: Rect, legend: Bool = true, axis: AxisScale = .linear,
                           buffer: inout CellBuffer, theme: Theme,
                           glyphs: Glyphs) -> (plot: Rect, scale: ChartScale, legendRows: Int, xRows: Int)? {
        let legendRows = legend && r.height >= ChartScale.minHeightForLegend ? 1 : 0
        let xRows = r.height >= ChartScale.minHeightForXLabels ? 1 : 0
        let plotRows = r.height - legendRows - xRows
        let scale = ChartScale(lo: range.lo, hi: range.hi, rows: plotRows, glyphs: glyphs, axis: axis)
        let labels = scale.yLabels()
        // Too narrow for labels beside a useful plot: no labels and no axis line.
        let labelW = r.width - ChartScale.labelWidth(labels) - 1 < ChartScale.minPlotWidth ? -1 : ChartScale.labelWidth(labels)
        let plot = Rect(x: r.x + labelW + 1, y: r.y + legendRows, width: r.maxX - (r.x + labelW + 1), height: plotRows)
        guard plot.width > 0, plot.height > 0 else { return nil }
        if labelW >= 0 { drawYAxis(labels, left: plot, buffer: &buffer, theme: theme, glyphs: glyphs) }
        return (plot, scale, legendRows, xRows)
    }

    /// How a line chart maps values to dot rows: the value range, the plot's height in cells
    /// and the dots per cell (braille: 2x4; ASCII: 1x1).
    struct ChartScale {
        /// Below these heights the chart drops its legend, then its x labels.
        static let minHeightForLegend = 4
        static let minHeightForXLabels = 3
        /// Plots narrower than this (beside the labels) drop the labels and the axis.
        static let minPlotWidth = 4
        /// Relative spread below which a series counts as constant (rounding noise).
        static let constantTolerance = 1e-12

        /// The range on the axis (after `axis.forward`).
        let lo: Double, hi: Double
        /// Plot height in cells, and dots per cell.
        let rows: Int
        let dotsPerCell: (columns: Int, rows: Int)
        let axis: AxisScale

        init(lo: Double, hi: Double, rows: Int, glyphs: Glyphs, axis: AxisScale = .linear) {
            self.lo = lo
            self.hi = hi
            self.rows = rows
            self.axis = axis
            dotsPerCell = glyphs.hasBraille ? (2, 4) : (1, 1)
        }

        var dotRows: Int { rows * dotsPerCell.rows }

        /// The exact min and max of the finite values; a constant (to 12 significant digits)
        /// is centred in ±50% of its value (±1 for 0). Nil when no value is finite.
        static func range(of values: [Double]) -> (lo: Double, hi: Double)? {
            let finite = values.filter(\.isFinite)
            guard var lo = finite.min(), var hi = finite.max() else { return nil }
            if hi - lo <= max(abs(lo), abs(hi)) * constantTolerance {
                lo = lo / 2 + hi / 2
                hi = lo
                let pad = lo == 0 ? 1 : abs(lo) / 2
                lo -= pad
                hi += pad
            }
            return (lo, hi)
        }

        /// Dot row counted from the bottom for value `v` (placed by `axis`, clamped to lo...hi).
        func dotRow(_ v: Double) -> Int {
            let v = axis.forward(v)
            // Halves keep the arithmetic finite for values near ±Double.greatestFiniteMagnitude.
            let t = (v / 2 - lo / 2) / (hi / 2 - lo / 2)
            return Int((min(1, max(0, t)) * Double(dotRows - 1)).rounded())
        }

        /// The cell row (0 = top) holding dot row `d` (counted from the bottom).
        func cellRow(ofDotRow d: Int) -> Int { (dotRows - 1 - d) / dotsPerCell.rows }

        /// Y labels: max on the top row, min on the bottom row, and the mid value on the row
        /// that holds it (when that is neither); on a log axis, the values at those positions.
        func yLabels() -> [(row: Int, text: String)] {
            let mid = lo / 2 + hi / 2
            var rowsAndValues = [(0, hi)]
            if rows >= 2 { rowsAndValues.append((rows - 1, lo)) }
            if rows >= 3 {
                let m = cellRow(ofDotRow: dotRow(axis.inverse(mid)))
                if m > 0 && m < rows - 1 { rowsAndValues.append((m, mid)) }
            }
            return zip(rowsAndValues.map(\.0), axisLabels(rowsAndValues.map { axis.inverse($0.1) })).map { (row: $0, text: $1) }
        }

        static func labelWidth(_ labels: [(row: Int, text: String)]) -> Int { labels.map(\.text.count).max() ?? 0 }
    }

    /// The y axis in the column left of `plot` (a tick at each labelled row), the labels
    /// right-aligned against it.
    static func drawYAxis(_ labels: [(row: Int, text: String)], left plot: Rect, buffer: inout CellBuffer, theme: Theme,
                          glyphs: Glyphs) {
        for row in 0..<plot.height {
            let tick = labels.contains { $0.row == row }
            buffer[plot.x - 1, plot.y + row] = Cell(char: tick ? glyphs.axisTick : glyphs.axisVertical, style: theme.border)
        }
        for l in labels {
            buffer.put(l.text, x: plot.x - 1 - l.text.count, y: plot.y + l.row, style: theme.dim)
        }
    }

    /// Every series as lines through its points (x = `xStart` + index; the x values `xs` spread
    /// over the width, points outside them left out) on a dot canvas, then the canvas into
    /// `plot`: braille cells, or each series' ASCII mark. A cell takes the colour of the last
    /// series with a dot in it; faint series only show in cells without another series' dots.
    /// `cursor`: a marker down the column of that x, in the cells without dots.
    static func plotLines(_ series: [ChartSeries], xs: ClosedRange<Int>, xStart: Int, scale: ChartScale,
                          in plot: Rect, buffer: inout CellBuffer, glyphs: Glyphs, cursor: (x: Int, style: Style)? = nil) {
        let (cw, ch) = scale.dotsPerCell
        let dotCols = plot.width * cw, dotRows = scale.dotRows
        let cells = plot.width * plot.height
        // Two layers: 0 the series drawn plainly, 1 the faint ones.
        var bits = [[UInt8]](repeating: [UInt8](repeating: 0, count: cells), count: 2)
        var owner = [[Int]](repeating: [Int](repeating: -1, count: cells), count: 2)
        let span = xs.upperBound - xs.lowerBound
        func dotCol(_ x: Int) -> Int {
            span <= 0 ? 0 : Int((Double(x - xs.lowerBound) * Double(dotCols - 1) / Double(span)).rounded())
        }
        func setDot(_ dx: Int, _ dyFromBottom: Int, _ s: Int, _ layer: Int) {
            let dy = dotRows - 1 - dyFromBottom
            guard dx >= 0, dx < dotCols, dy >= 0, dy < dotRows else { return }
            let cell = (dy / ch) * plot.width + dx / cw
            bits[layer][cell] |= brailleBit(column: dx % cw, row: dy % ch)
            owner[layer][cell] = s
        }
        for (s, ser) in series.enumerated() {
            let layer = ser.faint ? 1 : 0
            // Consecutive points in one dot column join into a vertical stroke over their range,
            // so a run of them is drawn as that stroke (the same dots, far fewer of them set
            // when there are many more points than columns): the line from the previous point
            // to the run's first, the run's range, and on from its last.
            var previous: (Int, Int)?
            var run: (col: Int, first: Int, last: Int, lo: Int, hi: Int)?
            func flush() {
                guard let r = run else { return }
                if let q = previous { line(from: q, to: (r.col, r.first)) { setDot($0, $1, s, layer) } }
                for d in r.lo...r.hi { setDot(r.col, d, s, layer) }
                previous = (r.col, r.last)
                run = nil
            }
            let first = max(0, xs.lowerBound - xStart), end = min(ser.values.count, xs.upperBound - xStart + 1)
            guard first < end else { continue }
            for i in first..<end {
                let v = ser.values[i]
                guard scale.axis.forward(v).isFinite else {
                    flush()
                    previous = nil
                    continue
                }
                let col = dotCol(xStart + i), row = scale.dotRow(v)
                if let r = run, r.col == col {
                    run = (col, r.first, row, min(r.lo, row), max(r.hi, row))
                } else {
                    flush()
                    run = (col, row, row, row, row)
                }
            }
            flush()
        }
        // ASCII marks by position among the plain series, as the legend numbers them.
        var mark = [Int](repeating: 0, count: series.count)
        var plain = 0
        for (s, ser) in series.enumerated() where !ser.faint {
            mark[s] = ser.mark ?? plain
            plain += 1
        }
        for cell in 0..<cells {
            let layer = owner[0][cell] >= 0 ? 0 : 1
            let s = owner[layer][cell]
            guard s >= 0 else { continue }
            let char: Character = glyphs.hasBraille
                ? brailleCharacter(bits[layer][cell])
                : layer == 1 ? "." : Glyphs.asciiMarks[mark[s] % Glyphs.asciiMarks.count]
            buffer[plot.x + cell % plot.width, plot.y + cell / plot.width] = Cell(
                char: char, style: Style(fg: series[s].color, bold: series[s].bold && layer == 0, dim: layer == 1))
        }
        if let cursor, xs.contains(cursor.x) {
            let col = dotCol(cursor.x) / cw
            for row in 0..<plot.height where owner[0][row * plot.width + col] < 0 && owner[1][row * plot.width + col] < 0 {
                buffer[plot.x + col, plot.y + row] = Cell(char: glyphs.axisVertical, style: cursor.style)
            }
        }
    }

    /// The mark of series `s` in a legend: `━`, or in ASCII its plot mark (`Glyphs.asciiMarks`).
    public static func legendMark(_ s: Int, glyphs: Glyphs) -> Character {
        glyphs.hasBraille ? glyphs.legendMarker : Glyphs.asciiMarks[s % Glyphs.asciiMarks.count]
    }

    /// `━ name` per plain series in its colour (its ASCII mark instead of `━` in ASCII; bold
    /// for a bold series), two spaces apart, cut at the edge of `row`; then `note` when it fits whole. Returns whether
    /// the note was drawn.
    @discardableResult
    static func drawLegend(_ series: [ChartSeries], in row: Rect, buffer: inout CellBuffer, glyphs: Glyphs,
                           note: (text: String, style: Style)? = nil) -> Bool {
        var x = row.x
        for (s, ser) in series.filter({ !$0.faint }).enumerated() {
            let entry = "\(legendMark(ser.mark ?? s, glyphs: glyphs)) \(ser.name)"
            guard x < row.maxX else { break }
            buffer.put(entry, x: x, y: row.y, style: Style(fg: ser.color, bold: ser.bold), maxWidth: row.maxX - x)
            x += entry.count + 2
        }
        guard let note, !note.text.isEmpty, x + note.text.count <= row.maxX else { return false }
        buffer.put(note.text, x: x, y: row.y, style: note.style)
        return true
    }

    /// On `row`: the first x under the plot's first column, the last x ending at `right` (when
    /// both fit), and `label` centred between them, a space clear of both (when it fits).
    static func drawXLabels(first firstX: Int, last lastXValue: Int, label: String?, under plot: Rect, row y: Int,
                            right: Int, buffer: inout CellBuffer, theme: Theme) {
        let first = String(firstX)
        let last = String(lastXValue)
        buffer.put(first, x: plot.x, y: y, style: theme.dim, maxWidth: right - plot.x)
        var lastX = right
        if lastXValue > firstX, first.count + 1 + last.count <= plot.width {
            lastX = right - last.count
            buffer.put(last, x: lastX, y: y, style: theme.dim)
        }
        let gapStart = plot.x + first.count + 1, gapEnd = lastX - 1
        if let label, !label.isEmpty, gapEnd - gapStart >= label.count {
            buffer.put(label, x: gapStart + (gapEnd - gapStart - label.count) / 2, y: y, style: theme.dim)
        }
    }

    /// The braille dot bit for dot (`column` 0-1, `row` 0-3 from the top) of a cell (Unicode
    /// braille patterns: dots 1-2-3-7 down the left, 4-5-6-8 down the right).
    static func brailleBit(column: Int, row: Int) -> UInt8 {
        let left: [UInt8] = [0x01, 0x02, 0x04, 0x40]
        let right: [UInt8] = [0x08, 0x10, 0x20, 0x80]
        return column == 0 ? left[row] : right[row]
    }

    static func brailleCharacter(_ bits: UInt8) -> Character {
        Character(Unicode.Scalar(0x2800 + UInt32(bits))!)
    }

    /// Bresenham's line between two dots (both ends included).
    static func line(from a: (Int, Int), to b: (Int, Int), _ plot: (Int, Int) -> Void) {
        var (x0, y0) = a
        let (x1, y1) = b
        let dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1
        let dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            plot(x0, y0)
            if x0 == x1 && y0 == y1 { return }
            let e2 = 2 * err
            if e2 >= dy {
                err += dy
                x0 += sx
            }
            if e2 <= dx {
                err += dx
                y0 += sy
            }
        }
    }

    // MARK: - Histogram

    /// Vertical bars of `counts`, tallest = full height, in 1/8-cell steps (`▁▂▃▄▅▆▇█`; ASCII `#`
    /// for a cell at least half full, `.` below). Bins share the width evenly (a bin is wider than
    /// one column when there is room); with more bins than columns neighbouring bins are summed.
    /// A non-zero count is never drawn as nothing (at least 1/8 cell). With `edges` (bin edges,
    /// `counts.count + 1` of them) and room for it, the bottom row shows the first and last edge
    /// (and the middle edge if it fits) in `formatCompact`. Empty `counts`: "no data yet".
    public static func histogram(_ counts: [Int], edges: [Double]?, in r: Rect, buffer: inout CellBuffer,
                                 style: Style, theme: Theme, glyphs: Glyphs) {
        guard !r.isEmpty else { return }
        guard !counts.isEmpty else {
            message(noDataMessage, in: r, buffer: &buffer, style: theme.dim)
            return
        }
        let showEdges = (edges?.count ?? 0) >= 2 && r.height >= 2
        let barH = r.height - (showEdges ? 1 : 0)
        let n = counts.count, w = r.width

        // Column values and the column span of each.
        var columns: [(x: Int, width: Int, value: Int)] = []
        if n <= w {
            for i in 0..<n {
                let x0 = i * w / n, x1 = (i + 1) * w / n
                columns.append((r.x + x0, x1 - x0, max(0, counts[i])))
            }
        } else {
            for c in 0..<w {
                let b0 = c * n / w, b1 = (c + 1) * n / w
                columns.append((r.x + c, 1, counts[b0..<b1].reduce(0) { $0 + max(0, $1) }))
            }
        }
        let top = columns.map(\.value).max() ?? 0
        if top > 0 {
            let blocks = glyphs.verticalEighths
            for col in columns where col.value > 0 {
                let eighths = max(1, Int((Double(col.value) / Double(top) * Double(barH * 8)).rounded()))
                for k in 0..<barH {
                    let e = min(8, max(0, eighths - 8 * k))
                    guard e > 0 else { break }
                    let y = r.y + barH - 1 - k
                    for x in col.x..<(col.x + col.width) { buffer[x, y] = Cell(char: blocks[e], style: style) }
                }
            }
        }

        if showEdges, let edges {
            let y = r.maxY - 1
            let m = edges.count / 2
            let texts = axisLabels(edges.count >= 3 ? [edges[0], edges[edges.count - 1], edges[m]]
                                                    : [edges[0], edges[edges.count - 1]])
            let first = texts[0], last = texts[1]
            buffer.put(first, x: r.x, y: y, style: theme.dim, maxWidth: w)
            if first.count + 1 + last.count <= w {
                buffer.put(last, x: r.maxX - last.count, y: y, style: theme.dim)
                // The middle edge, centred under its position, if it keeps a space on both sides.
                if edges.count >= 3 {
                    let text = texts[2]
                    let pos = r.x + m * w / n     // the left edge of bin m
                    let x = pos - text.count / 2
                    if x > r.x + first.count, x + text.count < r.maxX - last.count {
                        buffer.put(text, x: x, y: y, style: theme.dim)
                    }
                }
            }
        }
    }

    // MARK: - Table

    /// A table: a header row (in `theme.header`, the whole row), then the rows (in
    /// `theme.text`, or `cellStyle(row, column)` when that returns a style). Columns are as wide
    /// as their widest cell, two spaces apart (one when space is short); when the table is still
    /// too wide the widest column gives up a cell at a time, and cut cells end in `…` (`~` in
    /// ASCII). Missing cells are blank; missing alignments are `.left`. The selected row is
    /// highlighted across the whole width (`theme.selected` laid over the cell styles) and is
    /// always scrolled into view.
    public static func table(header: [String], rows: [[String]], alignments: [Alignment], in r: Rect,
                             buffer: inout CellBuffer, theme: Theme, selectedRow: Int?, glyphs: Glyphs,
                             cellStyle: ((_ row: Int, _ column: Int) -> Style?)? = nil) {
        guard !r.isEmpty else { return }
        let columns = max(header.count, rows.map(\.count).max() ?? 0)
        guard columns > 0 else { return }
        var widths = columnWidths(header: header, rows: rows)
        var gap = 2
        func total() -> Int { widths.reduce(0, +) + gap * (columns - 1) }
        if total() > r.width { gap = 1 }
        while total() > r.width, let widest = widths.indices.max(by: { widths[$0] < widths[$1] }), widths[widest] > 1 {
            widths[widest] -= 1
        }

        func drawRow(_ cells: [String], y: Int, style: (Int) -> Style) {
            var x = r.x
            for c in 0..<columns {
                guard x < r.maxX else { break }
                let text = truncate(c < cells.count ? cells[c] : "", width: widths[c], glyphs: glyphs)
                let align = c < alignments.count ? alignments[c] : .left
                let pad = widths[c] - text.count
                buffer.put(text, x: align == .right ? x + pad : x, y: y, style: style(c), maxWidth: r.maxX - x)
                x += widths[c] + gap
            }
        }

        buffer.fill(r.row(0), style: theme.header)
        drawRow(header, y: r.y) { _ in theme.header }

        let visible = r.height - 1
        guard visible > 0 else { return }
        let offset = tableOffset(selectedRow: selectedRow, rows: rows.count, visible: visible)
        for (k, i) in (offset..<min(rows.count, offset + visible)).enumerated() {
            let y = r.y + 1 + k
            let isSelected = i == selectedRow
            if isSelected { buffer.fill(r.row(1 + k), style: theme.selected) }
            drawRow(rows[i], y: y) { c in
                let base = cellStyle?(i, c) ?? theme.text
                return isSelected ? base.merged(with: theme.selected) : base
            }
        }
    }

    /// The width `table` needs to show every cell whole, with two cells between columns.
    public static func naturalTableWidth(header: [String], rows: [[String]]) -> Int {
        let widths = columnWidths(header: header, rows: rows)
        return widths.reduce(0, +) + 2 * max(0, widths.count - 1)
    }

    /// Each column's widest cell, header included.
    static func columnWidths(header: [String], rows: [[String]]) -> [Int] {
        let columns = max(header.count, rows.map(\.count).max() ?? 0)
        return (0..<columns).map { c in
            max(c < header.count ? header[c].count : 0, rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0)
        }
    }

    /// The first row a table shows: 0, or as far down as brings `selectedRow` into the last
    /// of `visible` rows. The mouse finds the row under it with the same offset.
    static func tableOffset(selectedRow: Int?, rows: Int, visible: Int) -> Int {
        guard let sel = selectedRow, visible > 0, sel >= visible else { return 0 }
        return min(sel - visible + 1, max(0, rows - visible))
    }

    // MARK: - Text list

    /// Items one after another, each word-wrapped to the width of `r` (continuation lines
    /// indented by `hangingIndent`), each in its own style; the first `scroll` lines are skipped
    /// (clamped so the last line can reach the bottom but no further). Returns the number of
    /// wrapped lines, for a caller that keeps a scroll position.
    @discardableResult
    public static func textList(_ items: [(String, Style)], in r: Rect, buffer: inout CellBuffer, scroll: Int,
                                hangingIndent: Int = 0) -> Int {
        guard !r.isEmpty else { return 0 }
        var lines: [(String, Style)] = []
        for (text, style) in items {
            for l in wrap(text, width: r.width, hangingIndent: hangingIndent) { lines.append((l, style)) }
        }
        let start = max(0, min(scroll, lines.count - r.height))
        for (k, l) in lines.dropFirst(start).prefix(r.height).enumerated() {
            buffer.put(l.0, x: r.x, y: r.y + k, style: l.1, maxWidth: r.width)
        }
        return lines.count
    }

    /// Greedy word wrap: lines of at most `width` characters; newlines in `text` start new lines;
    /// runs of spaces between words become one; a word longer than a line is cut across lines.
    /// Continuation lines start with `hangingIndent` spaces (ignored when it leaves no room).
    public static func wrap(_ text: String, width: Int, hangingIndent: Int = 0) -> [String] {
        guard width > 0 else { return [] }
        let indent = hangingIndent > 0 && hangingIndent < width ? String(repeating: " ", count: hangingIndent) : ""
        var out: [String] = []
        for paragraph in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let words = paragraph.split(separator: " ", omittingEmptySubsequences: true)
            if words.isEmpty {
                out.append("")
                continue
            }
            var line = ""           // the line being filled (continuation lines start with the indent)
            var lineHasWord = false
            func newLine() {
                out.append(line)
                line = indent
                lineHasWord = false
            }
            for word in words {
                var rest = Substring(word)
                if lineHasWord {
                    if line.count + 1 + rest.count <= width {
                        line += " " + rest
                        continue
                    }
                    newLine()
                }
                while line.count + rest.count > width {   // longer than a whole line: cut it
                    let room = width - line.count
                    line += rest.prefix(room)
                    rest = rest.dropFirst(room)
                    newLine()
                }
                line += rest
                lineHasWord = true
            }
            out.append(line)
        }
        return out
    }

    // MARK: - Bar with whisker

    /// A horizontal bar on the first row of `r`: filled from `range.lowerBound` to `value` in
    /// 1/8-cell steps (`▏▎▍▌▋▊▉█`; ASCII `=` for a cell at least half full, `-` below), and the
    /// confidence interval [`lower`, `upper`] as a whisker: `├` at the lower end, `┤` at the
    /// upper end (`│` when both ends share a cell; `|` in ASCII), `─` (`-`) between them where the
    /// bar is not. So a value of 0.5 with CI [0.3, 0.8] over 0...1 in 12 cells is
    ///
    ///     ███├██───┤
    ///
    /// The lower-end mark sits inside the bar when the CI starts below the value (a notch in
    /// the bar); the bar's last cell keeps its partial block unless a mark lands on it.
    /// Values outside `range` are clamped to it; a non-finite value draws nothing, a non-finite
    /// or missing bound draws no whisker.
    public static func bar(value: Double, lower: Double?, upper: Double?, range: ClosedRange<Double>, in r: Rect,
                           buffer: inout CellBuffer, style: Style, glyphs: Glyphs) {
        guard !r.isEmpty, value.isFinite, range.lowerBound.isFinite, range.upperBound.isFinite else { return }
        let w = r.width
        let span = range.upperBound - range.lowerBound
        func eighths(_ v: Double) -> Int {
            guard span > 0 else { return v >= range.upperBound ? w * 8 : 0 }
            let t = min(1, max(0, (v - range.lowerBound) / span))
            return Int((t * Double(w * 8)).rounded())
        }
        let b = eighths(value)
        let full = b / 8, partial = b % 8
        let blocks = glyphs.horizontalEighths
        for c in 0..<min(full, w) { buffer[r.x + c, r.y] = Cell(char: blocks[8], style: style) }
        if partial > 0, full < w { buffer[r.x + full, r.y] = Cell(char: blocks[partial], style: style) }
        let barCells = full + (partial > 0 ? 1 : 0)

        guard let lower, let upper, lower.isFinite, upper.isFinite else { return }
        let (l, u) = (min(lower, upper), max(lower, upper))
        func cell(_ v: Double) -> Int { min(w - 1, eighths(v) / 8) }
        let lc = cell(l), uc = cell(u)
        if lc + 1 < uc {
            for c in (lc + 1)..<uc where c >= barCells {
                buffer[r.x + c, r.y] = Cell(char: glyphs.whiskerLine, style: style)
            }
        }
        if lc == uc {
            buffer[r.x + lc, r.y] = Cell(char: glyphs.whiskerBoth, style: style)
        } else {
            buffer[r.x + lc, r.y] = Cell(char: glyphs.whiskerLower, style: style)
            buffer[r.x + uc, r.y] = Cell(char: glyphs.whiskerUpper, style: style)
        }
    }

    // MARK: - Signed bar

    /// A horizontal bar for a signed value on the first row of `r`, around a zero mark in the
    /// middle cell (`│`, ASCII `|`, in `axisStyle`): positive values grow right of it, negative
    /// ones left, `scale` (> 0) filling one side. The bar's end cell is quantized alike on both
    /// sides so equal magnitudes look equal: an eighth (`▏`/`▕`), a half (`▌`/`▐`) or a full
    /// block (ASCII `-` below half a cell, `=` from half). So +0.5 and -0.375 with scale 1 in
    /// 9 cells (blanks shown as `·`) are
    ///
    ///     ····│██··        ··▐█│····
    ///
    /// Values beyond ±`scale` are clamped; a non-finite value or scale draws the zero mark only.
    /// An even width leaves its last cell blank, so both sides stay the same length.
    public static func signedBar(value: Double, scale: Double, in r: Rect, buffer: inout CellBuffer, style: Style,
                                 axisStyle: Style, glyphs: Glyphs) {
        guard !r.isEmpty else { return }
        let half = (r.width - 1) / 2, centre = r.x + half
        buffer[centre, r.y] = Cell(char: glyphs.axisVertical, style: axisStyle)
        guard half > 0, value.isFinite, scale.isFinite, scale > 0 else { return }
        let eighths = Int((min(1, abs(value) / scale) * Double(half * 8)).rounded())
        let full = eighths / 8, rest = eighths % 8
        let unicode = glyphs == .unicode
        let fullCell: Character = unicode ? "█" : "="
        let partial: Character? = switch rest {
        case 0: nil
        case 1...2: unicode ? (value > 0 ? "▏" : "▕") : "-"
        case 3...5: unicode ? (value > 0 ? "▌" : "▐") : (rest >= 4 ? "=" : "-")
        default: fullCell
        }
        let step = value > 0 ? 1 : -1
        for k in 0..<full { buffer[centre + step * (k + 1), r.y] = Cell(char: fullCell, style: style) }
        if let partial, full < half { buffer[centre + step * (full + 1), r.y] = Cell(char: partial, style: style) }
    }

    // MARK: - Small helpers

    /// `text` centred in `r` (on its middle row), cut to its width.
    public static func message(_ text: String, in r: Rect, buffer: inout CellBuffer, style: Style) {
        guard !r.isEmpty else { return }
        let shown = String(text.prefix(r.width))
        buffer.put(shown, x: r.x + (r.width - shown.count) / 2, y: r.y + (r.height - 1) / 2, style: style)
    }

    /// `s` cut to `width` characters, the last one replaced by `…` (`~` in ASCII) when cut.
    /// Looks at no more than `width + 1` characters, however long `s` is.
    public static func truncate(_ s: String, width: Int, glyphs: Glyphs) -> String {
        guard width > 0 else { return "" }
        guard !s.dropFirst(width).isEmpty else { return s }
        return String(s.prefix(width - 1)) + String(glyphs.ellipsis)
    }

    /// The first `limit` characters of `text` as one line: its words (runs of characters that
    /// are not whitespace) joined by single spaces, as
    /// `text.split(whereSeparator: \.isWhitespace).joined(separator: " ").prefix(limit)`, but
    /// reading only as much of `text` as that needs (a data row can be megabytes long).
    public static func singleLine(_ text: String, limit: Int) -> String {
        var out = ""
        var count = 0, space = false
        for ch in text {
            guard count < limit else { break }
            if ch.isWhitespace {
                space = count > 0
                continue
            }
            if space {
                out.append(" ")
                count += 1
                space = false
                guard count < limit else { break }
            }
            out.append(ch)
            count += 1
        }
        return out
    }

    /// A short number for axis labels and tight cells, at most about 6 characters:
    /// `0`, `0.034`, `0.00123`, `3.4e-5`, `1.25`, `58.3`, `123`, `1.2k`, `12.3k`, `123k`, `4.5M`,
    /// `1.2e15`; negative values get a leading `-`; trailing zeros after the point are dropped;
    /// NaN and infinities print as `nan`, `inf`, `-inf`.
    public static func formatCompact(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        if x == 0 { return "0" }
        let sign = x < 0 ? "-" : ""
        let a = abs(x)

        func fixed(_ v: Double, _ decimals: Int) -> String {
            trimZeros(String(format: "%.\(decimals)f", v))
        }
        func exponent(_ v: Double) -> String {
            // printf rounds mantissa and exponent together (9.96e5 -> 1.0e+06) and handles
            // subnormals; then drop the zeros: "1.0e+06" -> "1e6", "3.4e-05" -> "3.4e-5".
            let parts = String(format: "%.1e", v).split(separator: "e")
            guard parts.count == 2, let e = Int(parts[1]) else { return String(format: "%.1e", v) }
            return trimZeros(String(parts[0])) + "e" + String(e)
        }
        /// 1 decimal below 100, none from 100 up (1.2, 58.3, 123).
        func threeDigits(_ v: Double) -> String { v < 99.95 ? fixed(v, 1) : fixed(v, 0) }

        let body: String
        if a >= 1e15 {
            body = exponent(a)
        } else if a >= 999.5 {
            let units = ["k", "M", "G", "T"]
            var m = a, u = -1
            while m >= 999.5 && u < units.count - 1 {
                m /= 1000
                u += 1
            }
            body = m >= 999.5 ? exponent(a) : threeDigits(m) + units[u]
        } else if a >= 9.995 {
            body = threeDigits(a)
        } else if a >= 0.9995 {
            body = fixed(a, 2)
        } else if a >= 0.0009995 {
            // Three significant digits.
            let decimals = 2 - Int(floor(log10(a)))
            body = fixed(a, decimals)
        } else {
            body = exponent(a)
        }
        return body == "0" ? "0" : sign + body
    }

    /// Labels for an axis: `formatCompact` of each value, unless that makes two different values
    /// look the same (2.3451 and 2.3458 both "2.35"): then plain decimals, as many as it takes
    /// (up to 12) to tell them apart.
    public static func axisLabels(_ values: [Double]) -> [String] {
        let compact = values.map(formatCompact)
        let distinct = Set(values.filter(\.isFinite)).count
        guard Set(compact).count < distinct else { return compact }
        for decimals in 0...12 {
            let texts = values.map { $0.isFinite ? trimZeros(String(format: "%.\(decimals)f", $0)) : formatCompact($0) }
            if Set(texts).count == distinct { return texts }
        }
        return compact
    }

    private static func trimZeros(_ s: String) -> String {
        guard s.contains(".") else { return s }
        var t = Substring(s)
        while t.hasSuffix("0") { t = t.dropLast() }
        if t.hasSuffix(".") { t = t.dropLast() }
        return String(t)
    }
}
