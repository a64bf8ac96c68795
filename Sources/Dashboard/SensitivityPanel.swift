import CausalPO
import Foundation
import Lab

/// The Confounding panel: ĝ's quality, the selected method's DR residual and KL to FT, how much
/// hidden confounding each method's estimate survives (the sensitivity block), and the
/// attribute table (naive, ĝ-learned and true effects, the reader trait's imbalance).
///
/// The sensitivity block reads each method's last evaluation (`EpochMetrics.sensitivity`; the
/// methods the Methods panel's filter keeps, all without one):
///
///     hidden confounding at Λ = 1.50 (< > to change)
///     method  Λ* (V_DR)   Λ* 95%  bounds (┃ FT)            [lower, upper]
///     FT        no gain  no gain  ├──┃──┤                  [53.21, 55.08]
///     CPO          2.38     1.75     ┃   ├─────┤           [55.20, 56.95]
///     DR-CPO       2.83     2.09     ┃     ├─────┤         [55.58, 57.29]
///
/// One estimator for every row: V_DR when any method has its analysis, else V_SNIPW (the
/// header names it). The bars share one scale (every method's bounds at the Λ shown, and FT's
/// value, the marker); `<` `>` step Λ through `Sensitivity.defaultGrid`.
///
/// Short of rows, lines give way in this order (first to go first): the attribute table's
/// rows from the bottom (its header with the last one), the methods other than the selected
/// one from the bottom, the DR residual line, ĝ's quality, the hidden trait's line, the selected
/// method's row with the column header; the block's title stays. Short of columns, a row drops
/// the bars, then narrows its gaps, then writes the bounds with one decimal, then drops the
/// "Λ* 95%" column.
extension DashboardView {
    /// One line of the panel: text, style, and for a sensitivity row the bar drawn into it and
    /// whether it is the selected method's (its whole row highlighted).
    struct ConfoundingLine {
        var text: String
        var style: Style
        var bar: RangeBar?
        var selected = false
    }

    /// A range bar inside a line: which cells (from the line's start), the range it draws, the
    /// marker and the scale shared by the rows.
    struct RangeBar {
        var x: Int
        var width: Int
        var lower: Double
        var upper: Double
        var marker: Double?
        var scale: ClosedRange<Double>
        var style: Style
    }

    /// Lines that show together or not at all, and how soon they give way (lower: later).
    struct ConfoundingUnit {
        var rank: Int
        var lines: [ConfoundingLine]
    }

    static func confoundingPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let inner = panelBox(.confounding, r, v, &b)
        guard !inner.isEmpty else { return }
        var units: [ConfoundingUnit] = []
        if let q = s.ghatQuality {
            var l = "ĝ held-out \(q.metric.rawValue) \(f(q.value))"
            if let o = s.ghatQualityVersusOutcomes, o != q { l += ", against true outcomes \(f(o.value))" }
            units.append(ConfoundingUnit(rank: Rank.ghat, lines: [ConfoundingLine(text: l, style: v.theme.text)]))
        }
        if let m = selected(s, v), let e = m.epochs.last {
            let l = "\(m.method.rawValue): DR residual Σw(Y−ĝ) \(pm(e.estimates[.drResidual]))  KL(f‖FT) \(f(e.klToFT.value)) nats"
                + (e.invalidRate.map { String(format: "  invalid %.0f%%", 100 * $0) } ?? "")
            units.append(ConfoundingUnit(rank: Rank.residual, lines: [ConfoundingLine(text: l, style: v.theme.text)]))
        }
        units += sensitivityUnits(s, v, width: inner.width)
        if !s.attributeEffects.isEmpty {
            let header = ConfoundingLine(text: "attribute      naive   ĝ-learned   truth   imbalance(SMD)", style: v.theme.header)
            for (i, a) in s.attributeEffects.enumerated() {
                let name = i < s.attributeNames.count ? s.attributeNames[i] : "#\(i)"
                let smd = i < s.traitImbalance.count ? f(s.traitImbalance[i], 2) : "–"
                let wrongSign = (a.truth ?? 0) * a.naive.value < 0
                let line = ConfoundingLine(
                    text: name.padding(toLength: Layout.confoundingNameWidth, withPad: " ", startingAt: 0)
                        + String(format: " %+6.2f   %+6.2f", a.naive.value, a.learned.value)
                        + (a.truth.map { String(format: "   %+6.2f", $0) } ?? "      –") + "   " + smd,
                    style: wrongSign ? v.theme.bad : v.theme.text)
                units.append(ConfoundingUnit(rank: Rank.attributes + i, lines: i == 0 ? [header, line] : [line]))
            }
        }
        let shown = units.isEmpty ? [ConfoundingLine(text: "waiting for ĝ", style: v.theme.dim)] : fitUnits(units, height: inner.height)
        for (i, l) in shown.enumerated() {
            let y = inner.y + i
            if l.selected { b.fill(inner.row(i), style: v.theme.selected) }
            let style = l.selected ? l.style.merged(with: v.theme.selected) : l.style
            b.put(l.text, x: inner.x, y: y, style: style, maxWidth: inner.width)
            if let bar = l.bar {
                Widgets.rangeBar(lower: bar.lower, upper: bar.upper, marker: bar.marker, scale: bar.scale,
                                 in: Rect(x: inner.x + bar.x, y: y, width: bar.width, height: 1), buffer: &b,
                                 style: l.selected ? bar.style.merged(with: v.theme.selected) : bar.style,
                                 markerStyle: l.selected ? v.theme.accent.merged(with: v.theme.selected) : v.theme.accent,
                                 glyphs: v.glyphs)
            }
        }
    }

    /// How soon each kind of line gives way when the panel is short (the lowest stays longest).
    enum Rank {
        static let title = 0, selectedMethod = 1, hiddenTrait = 2, ghat = 3, residual = 4, otherMethods = 10
        static let attributes = 100
    }

    /// The units that fit in `height` rows, most important first (units of one rank together
    /// or not at all), stopping at the first rank that does not fit; returned in display order.
    static func fitUnits(_ units: [ConfoundingUnit], height: Int) -> [ConfoundingLine] {
        var kept: Set<Int> = [], used = 0
        for rank in Set(units.map(\.rank)).sorted() {
            let group = units.indices.filter { units[$0].rank == rank }
            let lines = group.map { units[$0].lines.count }.reduce(0, +)
            guard used + lines <= height else { break }
            kept.formUnion(group)
            used += lines
        }
        return units.indices.filter(kept.contains).flatMap { units[$0].lines }
    }

    // MARK: - sensitivity

    /// The estimator the panel's Λ* column reads: V_DR when any method's last evaluation has its
    /// analysis (it is undefined without f0 samples), else V_SNIPW.
    static func sensitivityEstimator(_ s: LabSnapshot) -> Estimator {
        s.methods.contains { $0.epochs.last?.sensitivity(.dr) != nil } ? .dr : .snipw
    }

    /// The sensitivity block: its title (and the hidden trait's Λ), the column header with the
    /// selected method's row, and the other methods' rows.
    static func sensitivityUnits(_ s: LabSnapshot, _ v: ViewState, width: Int) -> [ConfoundingUnit] {
        let lambda = v.sensitivityLambda
        let keys = [Action.lambdaDown, .lambdaUp].compactMap { v.keymap.binding(for: $0)?.keys.first?.name }
        let change = keys.count == 2 ? " (\(keys[0]) \(keys[1]) to change)" : ""
        let shortChange = keys.count == 2 ? " (\(keys[0]) \(keys[1]))" : ""
        let at = "at Λ = " + lambdaText(lambda, v.glyphs)
        let trait = s.hiddenTraitLambda.map { "the hidden trait implies Λ = " + lambdaText($0, v.glyphs) }
        let estimator = sensitivityEstimator(s)
        // The methods the Methods panel's filter keeps (all without one).
        let listed = listedMethods(s, v)
        let analyses = listed.map { s.methods[$0].epochs.last?.sensitivity(estimator) }
        guard s.methods.contains(where: { $0.epochs.last?.sensitivity(estimator) != nil }) else {
            // Before ĝ is fitted the panel says only that it waits for ĝ.
            guard s.ghatQuality != nil else { return [] }
            let text = ["hidden confounding: waiting for an evaluation", "Λ*: waiting for an evaluation"].first { $0.count <= width }
            return [ConfoundingUnit(rank: Rank.title, lines: [ConfoundingLine(text: text ?? "Λ*: waiting", style: v.theme.dim)])]
        }

        // The title, with the hidden trait's Λ when it fits on the same line.
        let titles = ["hidden confounding " + at + change, "hidden confounding " + at + shortChange, at + shortChange, at]
        var units: [ConfoundingUnit] = []
        if let trait, let joint = titles.prefix(2).map({ $0 + "; " + trait }).first(where: { $0.count <= width }) {
            units.append(ConfoundingUnit(rank: Rank.title, lines: [ConfoundingLine(text: joint, style: v.theme.header)]))
        } else {
            let title = titles.first { $0.count <= width } ?? titles[titles.count - 1]
            units.append(ConfoundingUnit(rank: Rank.title, lines: [ConfoundingLine(text: title, style: v.theme.header)]))
            if let trait {
                units.append(ConfoundingUnit(rank: Rank.hiddenTrait, lines: [ConfoundingLine(text: trait, style: v.theme.text)]))
            }
        }

        // The rows and their shared scale: every method's bounds at Λ, and FT's value.
        let bounds = analyses.map { $0?.bound(at: lambda) }
        let reference = analyses.lazy.compactMap { $0?.reference }.first
        let ends = (bounds.flatMap { $0.map { [$0.lower, $0.upper] } ?? [] } + [reference].compactMap { $0 }).filter(\.isFinite)
        let scale = ends.min().flatMap { lo in ends.max().map { lo...$0 } }
        let layout = SensitivityLayout.fit(
            names: listed.map { s.methods[$0].method.rawValue }, estimator: estimator,
            breakdowns: analyses.map { breakdownText($0?.breakdown, v.glyphs) },
            intervals: analyses.map { breakdownText($0?.breakdownInterval, v.glyphs) },
            bounds: bounds.map { $0.map { ($0.lower, $0.upper) } }, bars: scale != nil, width: width, glyphs: v.glyphs)
        let selectedIndex = selectedRow(s, v).flatMap { listed.firstIndex(of: $0) }
        // The column header shows with the selected method's row (the same rank), above every row.
        units.append(ConfoundingUnit(rank: Rank.selectedMethod, lines: [ConfoundingLine(text: layout.header, style: v.theme.header)]))
        for (i, text) in layout.rows.enumerated() {
            var line = ConfoundingLine(text: text, style: v.theme.text, selected: i == selectedIndex)
            if let bar = layout.bar, let scale, let bi = bounds[i] {
                let survives = reference.map { bi.lower > $0 } ?? false
                line.bar = RangeBar(x: bar.x, width: bar.width, lower: bi.lower, upper: bi.upper, marker: reference, scale: scale,
                                    style: survives ? v.theme.good : v.theme.text)
            }
            units.append(ConfoundingUnit(rank: i == selectedIndex ? Rank.selectedMethod : Rank.otherMethods + i, lines: [line]))
        }
        return units
    }

    /// Λ as the panel writes it: `1.50`, `12.5`, `119`; +∞ as `∞` (`inf` in ASCII).
    public static func lambdaText(_ lambda: Double, _ glyphs: Glyphs = .unicode) -> String {
        if lambda.isNaN { return "–" }
        if lambda.isInfinite { return glyphs == .ascii ? "inf" : "∞" }
        return String(format: lambda < 10 ? "%.2f" : lambda < 100 ? "%.1f" : "%.0f", lambda)
    }

    /// Λ* as the panel writes it: `no gain` at 1 (the estimate is not above FT's), else as
    /// `lambdaText`; `–` when not measured.
    public static func breakdownText(_ lambda: Double?, _ glyphs: Glyphs = .unicode) -> String {
        guard let lambda, !lambda.isNaN else { return "–" }
        return lambda <= 1 ? "no gain" : lambdaText(lambda, glyphs)
    }
}

/// The columns of the sensitivity block at one width: the header, each method's row, and where
/// the bars go (nil: no room for them).
struct SensitivityLayout {
    var header: String
    var rows: [String]
    var bar: (x: Int, width: Int)?

    /// Bars narrower than this are left out.
    static let minBarWidth = 8

    /// The fullest layout that fits `width`: with the bars (they take the room left), without
    /// them, with single gaps, with one-decimal bounds, without the "Λ* 95%" column; the last
    /// is cut at the edge if even that does not fit.
    static func fit(names: [String], estimator: Estimator, breakdowns: [String], intervals: [String],
                    bounds: [(Double, Double)?], bars: Bool, width: Int, glyphs: Glyphs) -> SensitivityLayout {
        let marker = String(glyphs.referenceMark)
        let choices: [(bar: Bool, gap: Int, digits: Int, interval: Bool)] =
            [(true, 2, 2, true), (false, 2, 2, true), (false, 1, 2, true), (false, 1, 1, true), (false, 2, 2, false), (false, 1, 2, false),
             (false, 1, 1, false)]
        var last: SensitivityLayout?
        for c in choices where bars || !c.bar {
            let numbers = bounds.map { b in b.map { "[\(String(format: "%.\(c.digits)f", $0.0)), \(String(format: "%.\(c.digits)f", $0.1))]" } ?? "–" }
            var columns: [(header: String, cells: [String], right: Bool)] = [
                ("method", names, false), ("Λ* (\(estimator.name))", breakdowns, true),
            ]
            if c.interval { columns.append(("Λ* 95%", intervals, true)) }
            let gap = String(repeating: " ", count: c.gap)
            func pad(_ t: String, _ w: Int, _ right: Bool) -> String {
                let fill = String(repeating: " ", count: max(0, w - t.count))
                return right ? fill + t : t + fill
            }
            let widths = columns.map { col in max(col.header.count, col.cells.map(\.count).max() ?? 0) }
            let left = widths.reduce(0, +) + c.gap * (columns.count - 1)
            // One-decimal bounds are the narrow layouts: their column is headed "bounds".
            let numbersHeader = c.digits == 2 ? "[lower, upper]" : "bounds"
            let numberWidth = max(numbersHeader.count, numbers.map(\.count).max() ?? 0)
            let barWidth = c.bar ? width - left - 2 * c.gap - numberWidth : 0
            if c.bar && barWidth < minBarWidth { continue }
            var header = zip(columns, widths).map { pad($0.0.header, $0.1, $0.0.right) }.joined(separator: gap)
            var rows = names.indices.map { i in zip(columns, widths).map { pad($0.0.cells[i], $0.1, $0.0.right) }.joined(separator: gap) }
            if c.bar {
                header += gap + pad("bounds (\(marker) FT)", barWidth, false)
                rows = rows.map { $0 + gap + String(repeating: " ", count: barWidth) }
            }
            header += gap + numbersHeader
            rows = rows.indices.map { rows[$0] + gap + numbers[$0] }
            let layout = SensitivityLayout(header: header, rows: rows, bar: c.bar ? (left + c.gap, barWidth) : nil)
            if ([header] + rows).allSatisfy({ $0.count <= width }) { return layout }
            last = layout
        }
        let fallback = last ?? SensitivityLayout(header: "", rows: names, bar: nil)
        return SensitivityLayout(header: Widgets.truncate(fallback.header, width: width, glyphs: glyphs),
                                 rows: fallback.rows.map { Widgets.truncate($0, width: width, glyphs: glyphs) }, bar: nil)
    }
}

extension Widgets {
    /// A range on the first row of `r` over `scale`: `├──┤` from `lower` to `upper` (`│` when
    /// both ends share a cell; `|--|` in ASCII), and `marker` (FT's value) as `┃` (`#` in
    /// ASCII) drawn over it. So [2, 6] with the marker at 4 over 0...10 in 11 cells is
    ///
    ///     ··├─┃─┤····
    ///
    /// (blanks shown as `·`). Values outside `scale` are clamped to it; a non-finite end draws
    /// no range, a non-finite marker none.
    public static func rangeBar(lower: Double, upper: Double, marker: Double?, scale: ClosedRange<Double>, in r: Rect,
                                buffer: inout CellBuffer, style: Style, markerStyle: Style, glyphs: Glyphs) {
        guard !r.isEmpty, scale.lowerBound.isFinite, scale.upperBound.isFinite else { return }
        let span = scale.upperBound - scale.lowerBound
        func cell(_ x: Double) -> Int {
            guard span > 0 else { return (r.width - 1) / 2 }
            let t = min(1, max(0, (x - scale.lowerBound) / span))
            return min(r.width - 1, Int((t * Double(r.width - 1)).rounded()))
        }
        if lower.isFinite && upper.isFinite {
            let lc = cell(min(lower, upper)), uc = cell(max(lower, upper))
            if lc == uc {
                buffer[r.x + lc, r.y] = Cell(char: glyphs.whiskerBoth, style: style)
            } else {
                for c in (lc + 1)..<uc { buffer[r.x + c, r.y] = Cell(char: glyphs.whiskerLine, style: style) }
                buffer[r.x + lc, r.y] = Cell(char: glyphs.whiskerLower, style: style)
                buffer[r.x + uc, r.y] = Cell(char: glyphs.whiskerUpper, style: style)
            }
        }
        if let marker, marker.isFinite { buffer[r.x + cell(marker), r.y] = Cell(char: glyphs.referenceMark, style: markerStyle) }
    }
}
