import CausalPO
import Foundation
import Lab
import OutcomeData

/// The data view: what the run learns from.
extension DashboardView {
    // MARK: - data

    /// Where the data view's panels go: the summary and the outcome histogram (nil when there
    /// is no room or nothing to show) on top, the correlations and the messages (nil when too
    /// narrow) in the middle, the training rows below. The mouse finds what is under it with
    /// the same rectangles.
    struct DataLayout {
        var summary: Rect
        var histogram: Rect?
        var correlations: Rect
        var messages: Rect?
        var rows: Rect
    }

    /// The data view's layout in `r`. From the top: the summary (source, design, split, ĝ, FT,
    /// attribute effects) beside the outcome histogram (when there is room); the correlations
    /// beside the messages; the training rows in what is left. Panels shrink with the screen
    /// (the rows list keeps at least a header and five rows, the summary its first four lines).
    static func dataLayout(_ s: LabSnapshot, _ v: ViewState, _ r: Rect) -> DataLayout {
        let summary = dataSummaryLines(s, v.theme)
        let histogram = r.width >= Layout.widthForOutcomeHistogram && s.trainOutcomes.count > 1
        let corrLines = s.dataCorrelations.map { $0.attributeNames.count + 2 } ?? 1
        let topWant = max(2 + summary.count, histogram ? Layout.outcomeHistogramHeight : 0)
        let topMin = min(topWant, Layout.summaryMinHeight)
        let rowsWant = 3 + max(1, s.dataPreview.count), rowsMin = min(rowsWant, Layout.rowsMinHeight)
        let corrH = min(2 + corrLines, max(Layout.correlationsMinHeight, r.height - topMin - rowsMin))
        let topH = max(0, min(topWant, r.height - corrH - rowsMin))
        let (top, rest) = r.cutTop(topH)
        let (middle, bottom) = rest.cutTop(corrH)
        var layout = DataLayout(summary: top, histogram: nil, correlations: middle, messages: nil, rows: bottom)
        if histogram {
            let cols = top.splitColumns([3, 2])
            layout.summary = cols[0]
            layout.histogram = cols[1]
        }
        // Correlations as wide as they need (up to 3/5), the messages beside them.
        let share = Layout.correlationsMaxShare
        let corrW = min(correlationsWidth(s, maxBar: Layout.correlationMaxBar) + 2, middle.width * share.numerator / share.denominator)
        if middle.width - corrW >= Layout.messagesMinWidth {
            let (left, right) = middle.cutLeft(corrW)
            layout.correlations = left
            layout.messages = right
        }
        return layout
    }

    /// The data view: what the run learns from (`dataLayout`); every line is cut to its panel.
    static func dataView(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let layout = dataLayout(s, v, r)
        if let h = layout.histogram { outcomeHistogram(s, v, h, &b) }
        b.box(layout.summary, title: "Data", style: v.theme.border, titleStyle: v.theme.title, glyphs: v.glyphs)
        let inner = layout.summary.inset(by: 1)
        for (i, l) in dataSummaryLines(s, v.theme).prefix(max(0, inner.height)).enumerated() {
            b.put(Widgets.truncate(l.0, width: inner.width, glyphs: v.glyphs), x: inner.x, y: inner.y + i, style: l.1)
        }
        correlationsPanel(s, v, layout.correlations, &b)
        if let m = layout.messages { messagesPanel(s, v, m, &b) }
        rowsPanel(s, v, layout.rows, &b)
    }

    /// The border of the data view's list `kind`: focused while the list keys scroll it.
    static func dataListBorder(_ kind: ListKind, _ v: ViewState) -> Style {
        v.lists.dataFocus == kind && !v.showHelp ? v.theme.focusedBorder : v.theme.border
    }

    static func dataSummaryLines(_ s: LabSnapshot, _ t: Theme) -> [(String, Style)] {
        var lines: [(String, Style)] = [
            ("source: \(s.sourceLabel)   training rows \(s.trainRows)   held-out rows \(s.evalRows)", t.text),
            ("design \(s.config.design.rawValue)   ĝ from \(s.config.ghatFrom.rawValue)   P^R from \(s.config.propensity.rawValue)   seed \(s.seed)", t.text),
        ]
        if let sp = s.split {
            lines.append((sp.fromColumn
                ? "split from the data's split column: \(sp.trainCount) train / \(sp.evalCount) held out"
                : "split: \(sp.trainCount) train / \(sp.evalCount) held out (seed \(sp.seed))", t.text))
        }
        if let vs = s.vStar { lines.append(("world \(s.worldName ?? "")   best attainable value V* \(f(vs, 2))", t.text)) }
        if let q = s.ghatQuality { lines.append(("ĝ held-out \(q.metric.rawValue) \(f(q.value))", t.text)) }
        if !s.ftHistory.isEmpty {
            lines.append(("FT eval loss by epoch: " + s.ftHistory.map { f($0.evalLoss) }.joined(separator: " "), t.text))
        }
        if !s.attributeEffects.isEmpty {
            lines.append(("attribute       naive OLS (±SE)   ĝ learned   truth   trait SMD", t.header))
            for (i, a) in s.attributeEffects.enumerated() {
                let name = i < s.attributeNames.count ? s.attributeNames[i] : "#\(i)"
                lines.append((name.padding(toLength: Layout.summaryNameWidth, withPad: " ", startingAt: 0)
                              + String(format: "  %+6.2f (±%.2f)   %+6.2f", a.naive.value, a.naive.standardError, a.learned.value)
                              + (a.truth.map { String(format: "   %+6.2f", $0) } ?? "      –")
                              + (i < s.traitImbalance.count ? String(format: "   %+.2f", s.traitImbalance[i]) : ""),
                              (a.truth ?? 0) * a.naive.value < 0 ? t.bad : t.text))
            }
        }
        return lines
    }

    static func outcomeHistogram(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let t = v.theme
        b.box(r, title: "outcome (\(s.outcomeKind?.rawValue ?? ""), \(s.trainOutcomes.count) training rows)", style: t.border,
              titleStyle: t.title, glyphs: v.glyphs)
        let inner = r.inset(by: 1)
        let finite = s.trainOutcomes.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max(), hi > lo else {
            Widgets.message(finite.first.map { "every outcome is \(Widgets.formatCompact($0))" } ?? Widgets.noDataMessage,
                            in: inner, buffer: &b, style: t.dim)
            return
        }
        let bins = max(Layout.outcomeBins.lowerBound, min(Layout.outcomeBins.upperBound, inner.width))
        var counts = [Int](repeating: 0, count: bins)
        for y in s.trainOutcomes where y.isFinite { counts[min(bins - 1, Int(Double(bins) * (y - lo) / (hi - lo)))] += 1 }
        let edges = (0...bins).map { lo + (hi - lo) * Double($0) / Double(bins) }
        Widgets.histogram(counts, edges: edges, in: inner, buffer: &b, style: t.accent, theme: t, glyphs: v.glyphs)
    }

    // Correlations: "name  ±0.00 bar  ±0.00 bar", the name column wide enough for "trait–outcome".
    static func traitOutcomeLabel(_ g: Glyphs) -> String { g == .unicode ? "trait–outcome" : "trait-outcome" }

    /// What a missing or undefined (NaN) number shows.
    static func missing(_ g: Glyphs) -> String { g == .unicode ? "—" : "-" }

    static func correlationNameWidth(_ c: DataCorrelations) -> Int {
        let bounds = Layout.correlationNameWidth
        return min(bounds.upperBound, max(bounds.lowerBound, c.attributeNames.map(\.count).max() ?? 0))
    }

    /// The cells one group (a value and its bar) takes: two spaces, the value, a space and
    /// the bar (none when `bar` is 0).
    static func correlationGroupWidth(bar: Int) -> Int {
        2 + Layout.correlationValueWidth + (bar > 0 ? 1 + bar : 0)
    }

    /// The inner width the correlations table wants with bars of at most `maxBar` cells.
    static func correlationsWidth(_ s: LabSnapshot, maxBar: Int) -> Int {
        guard let c = s.dataCorrelations else { return Layout.correlationsEmptyWidth }
        let groups = c.attributeTrait == nil ? 1 : 2
        return correlationNameWidth(c) + groups * correlationGroupWidth(bar: maxBar)
    }

    static func correlationsPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let t = v.theme
        let inner = r.inset(by: 1)
        // Attributes beyond the panel's height are left out (the title says so); the trait's
        // own line stays.
        let attributes = s.dataCorrelations?.attributeNames.count ?? 0
        let fitting = min(attributes, max(0, inner.height - 2))
        b.box(r, title: fitting < attributes ? "Correlations (r, bars ±1; \(fitting) of \(attributes) shown)"
                                             : "Correlations (Pearson r, bars -1 to +1)",
              style: t.border, titleStyle: t.title, glyphs: v.glyphs)
        guard let c = s.dataCorrelations, !inner.isEmpty else {
            Widgets.message(Widgets.noDataMessage, in: inner, buffer: &b, style: t.dim)
            return
        }
        let nameW = correlationNameWidth(c)
        let groups = c.attributeTrait == nil ? 1 : 2
        // Bars of an odd width (the zero mark in the middle), of at least 3 cells, or none.
        let besideBars = nameW + groups * (correlationGroupWidth(bar: 0) + 1)   // names, values and gaps
        var barW = min(Layout.correlationMaxBar, (inner.width - besideBars) / groups)
        if barW % 2 == 0 { barW -= 1 }
        if barW < 3 { barW = 0 }
        let groupW = correlationGroupWidth(bar: barW)
        /// One value and its bar at column `x`; "—" for NaN or missing.
        func cell(_ r: Double?, x: Int, y: Int) {
            guard let r, r.isFinite else {
                b.put("    " + missing(v.glyphs), x: x, y: y, style: t.dim)
                return
            }
            b.put(String(format: "%+5.2f", r), x: x, y: y, style: t.text)
            if barW > 0 {
                Widgets.signedBar(value: r, scale: 1, in: Rect(x: x + Layout.correlationValueWidth + 1, y: y, width: barW, height: 1), buffer: &b,
                                  style: t.accent, axisStyle: t.dim, glyphs: v.glyphs)
            }
        }
        b.fill(inner.row(0), style: t.header)
        b.put("attribute", x: inner.x, y: inner.y, style: t.header)
        b.put("with outcome", x: inner.x + nameW + 2, y: inner.y, style: t.header, maxWidth: inner.maxX - inner.x - nameW - 2)
        if groups == 2 {
            b.put("with trait", x: inner.x + nameW + groupW + 2, y: inner.y, style: t.header,
                  maxWidth: max(0, inner.maxX - inner.x - nameW - groupW - 2))
        }
        // The attributes, then the trait's own correlation with the outcome.
        var shown: [(String, Double?, Double?, Style)] = c.attributeNames.prefix(fitting).enumerated().map { i, name in
            (name, i < c.attributeOutcome.count ? c.attributeOutcome[i] : nil,
             c.attributeTrait.flatMap { i < $0.count ? $0[i] : nil }, t.text)
        }
        if inner.height >= 2 { shown.append((traitOutcomeLabel(v.glyphs), c.traitOutcome, nil, t.dim)) }
        for (k, row) in shown.enumerated() {
            let y = inner.y + 1 + k
            b.put(Widgets.truncate(row.0, width: nameW, glyphs: v.glyphs), x: inner.x, y: y, style: row.3)
            cell(row.1, x: inner.x + nameW + 2, y: y)
            if groups == 2, k < shown.count - 1 {
                cell(row.2, x: inner.x + nameW + groupW + 2, y: y)
            }
        }
        if c.attributeTrait == nil, inner.width > nameW + groupW + 20, let y = shown.indices.last.map({ inner.y + 1 + $0 }) {
            b.put("(no trait column)", x: inner.x + nameW + groupW + 2, y: y, style: t.dim, maxWidth: inner.maxX - inner.x - nameW - groupW - 2)
        }
    }

    /// The last save's lines in the Messages panel's inside `inner`: its message (a failure in
    /// full, leaving a line for the log when it can; a cut message ends in an ellipsis).
    static func messagesSaveLines(_ s: LabSnapshot, _ v: ViewState, _ inner: Rect) -> [(String, Style)] {
        guard let save = s.lastSave, !inner.isEmpty else { return [] }
        let text = clock(save.time, v.timeZone) + (save.succeeded ? " " : " SAVE FAILED: ") + save.message
        if save.succeeded { return [(Widgets.truncate(text, width: inner.width, glyphs: v.glyphs), v.theme.text)] }
        let wrapped = Widgets.wrap(text, width: inner.width, hangingIndent: 2)
        let room = max(1, inner.height - 1)
        return wrapped.prefix(room).enumerated().map { k, l in
            let cut = k == room - 1 && wrapped.count > room
            return (cut ? Widgets.truncate(l + "  ", width: inner.width, glyphs: v.glyphs) : l, v.theme.bad)
        }
    }

    /// Where the Messages panel lists the log: its inside `inner` below the last save's lines.
    static func messagesLogArea(_ s: LabSnapshot, _ v: ViewState, _ inner: Rect) -> Rect {
        inner.cutTop(messagesSaveLines(s, v, inner).count).1
    }

    /// The last save's message first, then the log: by default its newest lines that fit whole,
    /// oldest first (the start of the newest, cut, when not even it fits); scrolled and
    /// filtered as `ViewState.lists[.messages]` says.
    static func messagesPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let t = v.theme
        let inner = r.inset(by: 1)
        let area = messagesLogArea(s, v, inner)
        let win = listWindow(.messages, s, v, width: area.width, height: area.height)
        let p = v.lists[.messages]
        b.box(r, title: "Messages" + (area.isEmpty ? "" : listTitle(win, p)), style: dataListBorder(.messages, v), titleStyle: t.title,
              glyphs: v.glyphs)
        guard !inner.isEmpty else { return }
        for (k, line) in messagesSaveLines(s, v, inner).enumerated() { b.put(line.0, x: inner.x, y: inner.y + k, style: line.1) }
        guard !area.isEmpty else { return }
        let log = messageLog(s)
        if log.isEmpty {
            b.put("no messages", x: area.x, y: area.y, style: t.dim)
            return
        }
        if win.count == 0 {
            b.put("nothing matches '\(p.filter)'", x: area.x, y: area.y, style: t.dim, maxWidth: area.width)
            return
        }
        drawList(win, top: p.top, highlight: highlightedMatch(.messages, win, v), in: area, &b, v) { k in
            (Widgets.wrap(log[win.items[k]], width: area.width, hangingIndent: 2), t.dim)
        }
    }

    /// The training rows (every one; a page at a time, scrolled and filtered as
    /// `ViewState.lists[.rows]` says): outcome, trait, the attributes (a 0/1 column each when
    /// they fit, else the names of those present) and the text, cut to the width.
    static func rowsPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let t = v.theme
        let inner = r.inset(by: 1)
        let area = inner.cutTop(1).1
        let win = listWindow(.rows, s, v, width: area.width, height: area.height)
        let p = v.lists[.rows]
        let page = win.visible(from: p.top)
        let title = p.filter.isEmpty
            ? (page.isEmpty ? "" : " " + range(page, of: max(s.trainRows, s.dataPreview.count)))
            : listTitle(win, p)
        b.box(r, title: "Training rows" + title, style: dataListBorder(.rows, v), titleStyle: t.title, glyphs: v.glyphs)
        guard !s.dataPreview.isEmpty else {
            Widgets.message(Widgets.noDataMessage, in: inner, buffer: &b, style: t.dim)
            return
        }
        guard !page.isEmpty else {
            if win.count == 0 {
                b.put("nothing matches '\(p.filter)'", x: inner.x, y: inner.y, style: t.dim, maxWidth: inner.width)
            }
            return
        }
        let rows = page.map { s.dataPreview[win.items[$0]] }
        let highlight = highlightedMatch(.rows, win, v).flatMap { page.contains($0) ? $0 - page.lowerBound : nil }
        let binary = s.outcomeKind == .binary
        func outcome(_ y: Double) -> String {
            let text = binary ? String(format: "%.0f", y) : String(format: "%.2f", y)
            return text.count > Layout.outcomeMaxWidth ? Widgets.formatCompact(y) : text
        }
        let traits = rows.compactMap(\.trait)
        let integerTraits = traits.allSatisfy { $0 == $0.rounded() && abs($0) < 1e6 }
        func trait(_ x: Double?) -> String {
            guard let x else { return missing(v.glyphs) }
            return integerTraits ? String(format: "%+.0f", x) : Widgets.formatCompact(x)
        }
        var header = ["outcome"], align: [Alignment] = [.right]
        var cells = rows.map { [outcome($0.outcome)] }
        if !traits.isEmpty {
            header.append("trait")
            align.append(.right)
            for (i, row) in rows.enumerated() { cells[i].append(trait(row.trait)) }
        }
        /// Cells taken by the columns so far, each with its two-space gap.
        func used() -> Int { header.indices.map { k in max(header[k].count, cells.map { $0[k].count }.max() ?? 0) + 2 }.reduce(0, +) }
        let short = shortNames(s.attributeNames)
        if !short.isEmpty {
            // A column per attribute when the text keeps enough cells; else the present ones by name.
            let zero: String = v.glyphs == .unicode ? "·" : "."
            if inner.width - used() - short.map({ $0.count + 2 }).reduce(0, +) >= Layout.rowsMinTextWidth {
                for (j, name) in short.enumerated() {
                    header.append(name)
                    align.append(.left)
                    for (i, row) in rows.enumerated() {
                        let x = j < row.attributes.count ? row.attributes[j] : .nan
                        let mark = x == 1 ? "1" : x == 0 ? zero : Widgets.formatCompact(x)
                        let pad = max(0, (name.count - mark.count + 1) / 2)
                        cells[i].append(String(repeating: " ", count: pad) + mark)
                    }
                }
            } else {
                header.append("attributes")
                align.append(.left)
                for (i, row) in rows.enumerated() {
                    let present = short.indices.filter { $0 < row.attributes.count && row.attributes[$0] != 0 }.map { short[$0] }
                    cells[i].append(Widgets.truncate(present.isEmpty ? missing(v.glyphs) : present.joined(separator: ","),
                                                     width: Layout.attributeNamesWidth,
                                                     glyphs: v.glyphs))
                }
            }
        }
        // The text gets the rest of the width (cut here, so the columns keep two-space gaps).
        let textWidth = max(Layout.rowsTextMinWidth, inner.width - used())
        header.append("text")
        align.append(.left)
        for (i, row) in rows.enumerated() {
            // One more character than fits, so that truncate knows to cut.
            cells[i].append(Widgets.truncate(Widgets.singleLine(row.text, limit: textWidth + 1), width: textWidth, glyphs: v.glyphs))
        }
        Widgets.table(header: header, rows: cells, alignments: align, in: inner, buffer: &b, theme: t, selectedRow: highlight,
                      glyphs: v.glyphs)
    }

    /// Attribute names cut to the shortest common length, from 3 cells, that keeps them apart
    /// (up to 6; beyond that, "a1", "a2", ...).
    static func shortNames(_ names: [String]) -> [String] {
        for n in Layout.shortNameLengths {
            let cut = names.map { String($0.prefix(n)) }
            if Set(cut).count == names.count { return cut }
        }
        return names.indices.map { "a\($0 + 1)" }
    }
}
