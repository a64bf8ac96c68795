import CausalPO
import Foundation
import Lab
import OutcomeData

/// The compare view: every method's learning curves over epochs (the value with its 95% band,
/// the normalized gain in worlds, ESS, KL to FT) filling the screen under the table of one
/// epoch's estimates. With saved runs to compare (`LabSnapshot.comparison`, `cpo-tui compare`)
/// it shows those instead: each group of seeds as its mean and band over seeds.
extension DashboardView {
    // MARK: - compare

    /// The compare view's layout in `r`: the table's box, the curves' room below it, and the
    /// method of each table row (a run comparison lists every run's methods). The mouse finds
    /// the row under it with the same rectangles.
    static func compareLayout(_ s: LabSnapshot, _ r: Rect) -> (table: Rect, rest: Rect, methods: [Method]) {
        let methods = s.comparison.map { $0.groups.flatMap(\.config.methods) } ?? s.methods.map(\.method)
        let (top, rest) = r.cutTop(compareTableHeight(rows: methods.count, in: r))
        return (top, rest, methods)
    }

    static func compare(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        if let c = s.comparison {
            compareRuns(c, s, v, r, &b)
        } else {
            compareMethods(s, v, r, &b)
        }
    }

    /// The session's own methods: the table of every estimate, then the curves.
    static func compareMethods(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let t = v.theme
        let cursor = v.chart.epochCursor
        let (top, rest, _) = compareLayout(s, r)
        b.box(top, title: "Compare: all methods, " + (cursor.map { "epoch \($0)" } ?? "last epoch"), style: t.border,
              titleStyle: t.title, glyphs: v.glyphs)
        let world = s.worldName != nil
        let values = Estimator.allCases.filter(\.estimatesValue)
        var header = ["method", "ep"] + values.map(\.name) + ["win vs FT", "KL", "ESS"]
        if world { header += ["true", "gain", "invalid"] }
        // The cursor's epoch, or the last; a method that has not reached the cursor shows none.
        let shown: [EpochMetrics?] = s.methods.map { m in cursor.map { c in m.epochs.first { $0.epoch == c } } ?? m.epochs.last }
        var rows: [[String]] = zip(s.methods, shown).map { m, e in
            let ep = cursor == nil ? String(m.epoch) : e.map { String($0.epoch) } ?? "–"
            var row = [m.method.rawValue, ep] + values.map { pm(e, $0) }
                // A judge that cannot tell texts apart gives no evidence: no win rate.
                + [s.judge?.informative == false ? "–" : pm(e?.winRateVsFT), f(e?.klToFT.value, 2), f(e?.weights.essFraction, 2)]
            if world { row += [pm(e?.trueValue), f(e?.normalizedGain), f(e?.invalidRate, 2)] }
            return row
        }
        // Λ* (the Confounding panel's estimator) when the table has room for it without cutting a cell.
        let estimator = sensitivityEstimator(s)
        if shown.contains(where: { $0?.sensitivity(estimator) != nil }) {
            let header2 = header + ["Λ* \(estimator.name)"]
            let rows2 = zip(rows, shown).map { $0 + [breakdownText($1?.sensitivity(estimator)?.breakdown, v.glyphs)] }
            if Widgets.naturalTableWidth(header: header2, rows: rows2) <= top.inset(by: 1).width { (header, rows) = (header2, rows2) }
        }
        // The method names in their curves' colours: the table is the curves' legend too.
        Widgets.table(header: header, rows: rows, alignments: [.left] + Array(repeating: .right, count: header.count - 1),
                      in: top.inset(by: 1), buffer: &b, theme: t, selectedRow: selectedRow(s, v),
                      glyphs: v.glyphs) { row, column in column == 0 ? Style(fg: t.seriesColor(row)) : nil }

        let charts = CurveQuantity.shown(world: world).map { q in
            let curves = Dictionary(LearningCurve.curves(q, snapshot: s).map { ($0.method, $0) }, uniquingKeysWith: { a, _ in a })
            let series = s.methods.enumerated().map { i, m in
                Widgets.BandSeries(name: m.method.rawValue, points: bandPoints(curves[m.method]), color: t.seriesColor(i))
            }
            return (title: curveTitle(q, world: world, vStar: s.vStar, series: series, overSeeds: false), series: series)
        }
        curveGrid(charts, highlighted: selectedRow(s, v).map { [$0] } ?? [], v, rest, &b)
    }

    /// Saved runs: a table row per run and method (the mean over the group's seeds), then the
    /// curves of every run and method overlaid.
    static func compareRuns(_ c: RunComparison, _ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let t = v.theme
        let world = c.world
        let cursor = v.chart.epochCursor
        let quantities = CurveQuantity.shown(world: world)
        // Every quantity's curves, per group and method.
        let curves: [[CurveQuantity: LearningCurve]] = c.groups.flatMap { g in
            let byQuantity = quantities.map { q in (q, c.curves(q, of: g)) }
            return g.config.methods.map { m in
                Dictionary(byQuantity.compactMap { q, cs in cs.first { $0.method == m }.map { (q, $0) } }, uniquingKeysWith: { a, _ in a })
            }
        }
        let rowsInfo: [(group: RunComparison.Group, method: Method)] = c.groups.flatMap { g in g.config.methods.map { (g, $0) } }
        let oneGroup = c.groups.count == 1
        let selectedMethod = selected(s, v)?.method
        let highlighted = Set(rowsInfo.indices.filter { rowsInfo[$0].method == selectedMethod })

        let (top, rest, _) = compareLayout(s, r)
        let runs = c.groups.map { g in "\(g.label) (seed\(g.seeds.count > 1 ? "s" : "") \(g.seeds.map(String.init).joined(separator: ", ")))" }
        b.box(top, title: "Compare runs, \(cursor.map { "epoch \($0)" } ?? "last epoch"): " + runs.joined(separator: ", "),
              style: t.border, titleStyle: t.title, glyphs: v.glyphs)
        var header = ["method", "run", "seeds", "ep", world ? "true value" : "V_DR"]
        if world { header.append("gain") }
        header += ["ESS", "KL"]
        let rows: [[String]] = rowsInfo.indices.map { i in
            let (g, m) = rowsInfo[i]
            // The cursor's epoch, or the value curve's last one.
            let epoch = cursor ?? curves[i][.value]?.points.last?.epoch
            func at(_ q: CurveQuantity) -> CurvePoint? { curves[i][q]?.points.first { $0.epoch == epoch } }
            let value = at(.value)
            let seeds = value.map { $0.seeds == g.seeds.count ? String($0.seeds) : "\($0.seeds)/\(g.seeds.count)" } ?? "0"
            var row = ["\(Widgets.legendMark(i, glyphs: v.glyphs)) \(m.rawValue)", g.label, seeds, value.map { String($0.epoch) } ?? "–", banded(value, 2)]
            if world { row.append(banded(at(.gain), 3)) }
            return row + [banded(at(.ess), 2), banded(at(.kl), 2)]
        }
        Widgets.table(header: header, rows: rows, alignments: [.left, .left] + Array(repeating: .right, count: header.count - 2),
                      in: top.inset(by: 1), buffer: &b, theme: t, selectedRow: highlighted.min(),
                      glyphs: v.glyphs) { row, column in
            column <= 1 ? Style(fg: t.seriesColor(row), bold: highlighted.contains(row)) : nil
        }

        let overSeeds = c.groups.contains { $0.seeds.count > 1 }
        let charts = quantities.map { q in
            let series = rowsInfo.indices.map { i in
                Widgets.BandSeries(name: rowsInfo[i].method.rawValue + (oneGroup ? "" : " (\(rowsInfo[i].group.label))"),
                                   points: bandPoints(curves[i][q]), color: t.seriesColor(i))
            }
            let vStar = Set(c.groups.compactMap(\.vStar)).count == 1 ? c.groups.first?.vStar : nil
            return (title: curveTitle(q, world: world, vStar: vStar, series: series, overSeeds: overSeeds), series: series)
        }
        // The table is the legend (a mark and a colour per run and method) and reads the epoch out.
        curveGrid(charts, highlighted: highlighted, legend: false, v, rest, &b)
    }

    /// The table's height: its rows, header and box, but at most 2/5 of `r` (then it scrolls to
    /// the selected row), and at least a header and one row.
    static func compareTableHeight(rows: Int, in r: Rect) -> Int {
        min(rows + 3, max(Layout.compareTableMinHeight, r.height * 2 / 5))
    }

    /// A curve as band-chart points (a NaN bound: no band).
    static func bandPoints(_ curve: LearningCurve?) -> [Widgets.BandPoint] {
        (curve?.points ?? []).map { Widgets.BandPoint(x: $0.epoch, mean: $0.mean, lower: $0.lower, upper: $0.upper) }
    }

    /// "true value by epoch (V* = 63.00), 95% band": what a curve chart shows, the band named
    /// only when some series has one (over seeds: "seeds' mean ± 95%").
    static func curveTitle(_ q: CurveQuantity, world: Bool, vStar: Double?, series: [Widgets.BandSeries],
                           overSeeds: Bool) -> String {
        let hasBand = series.contains { $0.points.contains { ($0.lower ?? .nan).isFinite && ($0.upper ?? .nan).isFinite } }
        var title = q.title(world: world) + " by epoch"
        if q == .value, world, let vStar { title += " (V* = \(f(vStar, 2)))" }
        if overSeeds {
            title += hasBand ? ", seeds' mean ± 95%" : ", seeds' mean"
        } else if hasBand {
            title += ", 95% band"
        }
        return title
    }

    /// The curve charts in a grid filling `r`: four as 2x2, three as one wide over two, fewer
    /// side by side; each in its own box, the selected method's series highlighted, the epoch
    /// cursor read out.
    static func curveGrid(_ charts: [(title: String, series: [Widgets.BandSeries])], highlighted: Set<Int>,
                          legend: Bool = true, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let cells: [Rect]
        switch charts.count {
        case 4: cells = r.splitRows([1, 1]).flatMap { $0.splitColumns([1, 1]) }
        case 3:
            let rows = r.splitRows([1, 1])
            cells = [rows[0]] + rows[1].splitColumns([1, 1])
        default: cells = r.splitColumns(charts.map { _ in 1 })
        }
        for (chart, cell) in zip(charts, cells) {
            b.box(cell, title: chart.title, style: v.theme.border, titleStyle: v.theme.title, glyphs: v.glyphs)
            Widgets.bandChart(chart.series, in: cell.inset(by: 1), buffer: &b, theme: v.theme, glyphs: v.glyphs,
                              highlighted: highlighted, cursor: v.chart.epochCursor, legend: legend)
        }
    }

    /// "55.40±0.69" (a band), "55.40" (none), "–" (no point).
    static func banded(_ p: CurvePoint?, _ digits: Int) -> String {
        guard let p, p.mean.isFinite else { return "–" }
        guard p.lower.isFinite, p.upper.isFinite else { return f(p.mean, digits) }
        return f(p.mean, digits) + "±" + f((p.upper - p.lower) / 2, digits)
    }
}

extension DashboardView.Layout {
    /// The compare view's table keeps its box, header and one row.
    static let compareTableMinHeight = 4
}
