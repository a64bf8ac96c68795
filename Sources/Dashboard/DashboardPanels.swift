import CausalPO
import Foundation
import Lab
import OutcomeData

/// The dashboard view: its layout and its five panels.
extension DashboardView {
    // MARK: - dashboard

    static func dashboard(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        for (panel, rect) in dashboardLayout(r, v) { draw(panel, s, v, rect, &b) }
    }

    /// Where the panels go in `r`, in drawing order: the focused panel alone when zoomed, else
    /// all five. The mouse finds what is under it with the same rectangles.
    static func dashboardLayout(_ r: Rect, _ v: ViewState) -> [(panel: Panel, rect: Rect)] {
        if v.zoomed { return [(v.focus, r)] }
        let rows = r.splitRows([3, 3, 3])
        let top = rows[0].splitColumns([3, 2])
        let mid = rows[1].splitColumns([1, 1])
        return [(.methods, top[0]), (.loss, top[1]), (.weights, mid[0]), (.confounding, mid[1]), (.generations, rows[2])]
    }

    static func draw(_ p: Panel, _ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        switch p {
        case .methods: methodsPanel(s, v, r, &b)
        case .loss: v.showCurves ? curvesPanel(s, v, r, &b) : lossPanel(s, v, r, &b)
        case .weights: weightsPanel(s, v, r, &b)
        case .confounding: confoundingPanel(s, v, r, &b)
        case .generations: generationsPanel(s, v, r, &b)
        }
    }

    static func pm(_ e: Estimate?) -> String {
        guard let e, e.value.isFinite else { return "–" }
        return String(format: "%.2f±%.2f", e.value, (e.upper - e.lower) / 2)
    }

    /// An evaluation's estimate, marked `!` when it rests on too few effective rows to mean
    /// anything (`EpochMetrics.reliability`; the headless lines and the report say why).
    static func pm(_ e: EpochMetrics?, _ estimator: Estimator) -> String {
        pm(e?.estimates[estimator]) + (e.map { $0.reliability.isReliable(estimator) } == false ? "!" : "")
    }

    static func f(_ x: Double?, _ digits: Int = 3) -> String {
        guard let x, x.isFinite else { return "–" }
        return String(format: "%.\(digits)f", x)
    }

    static func stateText(_ m: MethodSnapshot) -> String {
        switch m.state {
        case .waiting: "waiting"
        case .training: "training"
        case .idle: m.method.role == .reference ? "reference" : "idle"
        case .failed: "FAILED"
        }
    }

    static func methodsPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        // The methods the filter keeps (all without one).
        let listed = listedMethods(s, v), filter = v.lists[.methods].filter
        let inner = panelBox(.methods, r, v, &b, extra: filter.isEmpty ? "" : ": \(listed.count) of \(s.methods.count) match '\(filter)'")
        let world = s.worldName != nil
        var header = ["method", "epoch", "loss", "V_DR ± CI"]
        if world { header += ["true value", "gain"] }
        header += ["state"]
        var rows: [[String]] = listed.map { s.methods[$0] }.map { m in
            let last = m.epochs.last
            var row = [m.method.rawValue, String(m.epoch), f(last?.trainLoss, 2), pm(last, .dr)]
            if world { row += [pm(last?.trueValue), f(last?.normalizedGain)] }
            // Steps skipped for a non-finite loss or gradient: rare, and worth seeing.
            row += [stateText(m) + (m.skippedSteps > 0 ? "  skip \(m.skippedSteps)" : "")]
            return row
        }
        // Short of room, the skip count replaces "idle" rather than being cut off.
        if Widgets.naturalTableWidth(header: header, rows: rows) > inner.width {
            for (i, m) in listed.map({ s.methods[$0] }).enumerated() where m.skippedSteps > 0 && m.state == .idle {
                rows[i][rows[i].count - 1] = "skip \(m.skippedSteps)"
            }
        }
        let align: [Alignment] = [.left, .right, .right, .right] + (world ? [.right, .right] : []) + [.left]
        let stateColumn = header.count - 1
        Widgets.table(header: header, rows: rows, alignments: align, in: inner, buffer: &b, theme: v.theme,
                      selectedRow: selectedRow(s, v).flatMap { listed.firstIndex(of: $0) }, glyphs: v.glyphs) { row, column in
            guard column == stateColumn, row < listed.count else { return nil }
            let m = s.methods[listed[row]]
            if case .failed = m.state { return v.theme.bad }
            return m.skippedSteps > 0 ? v.theme.warning : nil
        }
    }

    /// Every text of the selected method's last evaluation (or of the latest request), each
    /// wrapped to the width; scrolled and filtered as `ViewState.lists[.generations]` says.
    static func generationsPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let m = selected(s, v)
        let fresh = m.flatMap { s.generations[$0.method] }
        let inner = r.inset(by: 1)
        let win = listWindow(.generations, s, v, width: inner.width, height: inner.height)
        let p = v.lists[.generations]
        let source = m.map { " — \($0.method.rawValue)" + (fresh.map { $0.prefix.isEmpty ? " (resampled)" : " (prefix: \($0.prefix))" } ?? "") } ?? ""
        _ = panelBox(.generations, r, v, &b, extra: source + (win.total == 0 ? "" : listTitle(win, p)))
        let texts = generationTexts(s, v)
        if texts.isEmpty {
            b.put("no samples yet", x: inner.x, y: inner.y, style: v.theme.dim)
            return
        }
        if win.count == 0 {
            b.put("nothing matches '\(p.filter)' (/ to change it, Esc there to clear it)", x: inner.x, y: inner.y, style: v.theme.dim,
                  maxWidth: inner.width)
            return
        }
        drawList(win, top: p.top, highlight: highlightedMatch(.generations, win, v), in: inner, &b, v) { k in
            let g = texts[win.items[k]]
            return (Widgets.wrap(generationLine(g, v.glyphs), width: inner.width),
                    g.invalidSegments.isEmpty ? v.theme.text : v.theme.warning)
        }
    }
}
