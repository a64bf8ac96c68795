import CausalPO
import Foundation
import Lab
import OutcomeData

/// The dashboard view: its layout and its five panels.
extension DashboardView {
    // MARK: - dashboard

    static func dashboard(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        if v.zoomed {
            draw(v.focus, s, v, r, &b)
            return
        }
        let rows = r.splitRows([3, 3, 3])
        let top = rows[0].splitColumns([3, 2])
        let mid = rows[1].splitColumns([1, 1])
        draw(.methods, s, v, top[0], &b)
        draw(.loss, s, v, top[1], &b)
        draw(.weights, s, v, mid[0], &b)
        draw(.confounding, s, v, mid[1], &b)
        draw(.generations, s, v, rows[2], &b)
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
        let inner = panelBox(.methods, r, v, &b)
        let world = s.worldName != nil
        var header = ["method", "epoch", "loss", "V_DR ± CI"]
        if world { header += ["true value", "gain"] }
        header += ["state"]
        var rows: [[String]] = s.methods.map { m in
            let last = m.epochs.last
            var row = [m.method.rawValue, String(m.epoch), f(last?.trainLoss, 2), pm(last, .dr)]
            if world { row += [pm(last?.trueValue), f(last?.normalizedGain)] }
            // Steps skipped for a non-finite loss or gradient: rare, and worth seeing.
            row += [stateText(m) + (m.skippedSteps > 0 ? "  skip \(m.skippedSteps)" : "")]
            return row
        }
        // Short of room, the skip count replaces "idle" rather than being cut off.
        let natural = header.indices.map { c in rows.map { $0[c].count }.max().map { max($0, header[c].count) } ?? header[c].count }
        if natural.reduce(0, +) + 2 * (header.count - 1) > inner.width {
            for (i, m) in s.methods.enumerated() where m.skippedSteps > 0 && m.state == .idle {
                rows[i][rows[i].count - 1] = "skip \(m.skippedSteps)"
            }
        }
        let align: [Alignment] = [.left, .right, .right, .right] + (world ? [.right, .right] : []) + [.left]
        let stateColumn = header.count - 1
        Widgets.table(header: header, rows: rows, alignments: align, in: inner, buffer: &b, theme: v.theme,
                      selectedRow: selectedRow(s, v), glyphs: v.glyphs) { row, column in
            guard column == stateColumn, row < s.methods.count else { return nil }
            let m = s.methods[row]
            if case .failed = m.state { return v.theme.bad }
            return m.skippedSteps > 0 ? v.theme.warning : nil
        }
    }

    static func confoundingPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let inner = panelBox(.confounding, r, v, &b)
        var lines: [(String, Style)] = []
        if let q = s.ghatQuality {
            var l = "ĝ held-out \(q.metric.rawValue) \(f(q.value))"
            if let o = s.ghatQualityVersusOutcomes, o != q { l += ", against true outcomes \(f(o.value))" }
            lines.append((l, v.theme.text))
        }
        if let m = selected(s, v), let e = m.epochs.last {
            lines.append(("\(m.method.rawValue): DR residual Σw(Y−ĝ) \(pm(e.estimates[.drResidual]))  KL(f‖FT) \(f(e.klToFT.value)) nats"
                          + (e.invalidRate.map { String(format: "  invalid %.0f%%", 100 * $0) } ?? ""), v.theme.text))
        }
        if !s.attributeEffects.isEmpty {
            lines.append(("attribute      naive   ĝ-learned   truth   imbalance(SMD)", v.theme.header))
            for (i, a) in s.attributeEffects.enumerated() {
                let name = i < s.attributeNames.count ? s.attributeNames[i] : "#\(i)"
                let smd = i < s.traitImbalance.count ? f(s.traitImbalance[i], 2) : "–"
                let wrongSign = (a.truth ?? 0) * a.naive.value < 0
                lines.append((name.padding(toLength: Layout.confoundingNameWidth, withPad: " ", startingAt: 0)
                              + String(format: " %+6.2f   %+6.2f", a.naive.value, a.learned.value)
                              + (a.truth.map { String(format: "   %+6.2f", $0) } ?? "      –") + "   " + smd,
                              wrongSign ? v.theme.bad : v.theme.text))
            }
        }
        if lines.isEmpty { lines.append(("waiting for ĝ", v.theme.dim)) }
        for (i, l) in lines.prefix(inner.height).enumerated() {
            b.put(l.0, x: inner.x, y: inner.y + i, style: l.1, maxWidth: inner.width)
        }
    }

    static func generationsPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let m = selected(s, v)
        let fresh = m.flatMap { s.generations[$0.method] }
        let inner = panelBox(.generations, r, v, &b, extra: m.map { " — \($0.method.rawValue)" + (fresh.map { $0.prefix.isEmpty ? " (resampled)" : " (prefix: \($0.prefix))" } ?? "") } ?? "")
        let texts = fresh?.texts ?? m?.epochs.last?.samples ?? []
        if texts.isEmpty {
            b.put("no samples yet", x: inner.x, y: inner.y, style: v.theme.dim)
            return
        }
        var items: [(String, Style)] = []
        for g in texts {
            // A text from another trainer (`cpo-tui watch`) may come without a score or a ratio to FT.
            var parts: [String] = []
            if g.score.isFinite { parts.append(String(format: "%.2f", g.score)) }
            if g.logRatioToFT.isFinite { parts.append(String(format: "log f/FT %+.2f", g.logRatioToFT)) }
            if !g.attributes.isEmpty { parts.append(g.attributes.joined(separator: ",")) }
            let meta = parts.isEmpty ? "" : "[" + parts.joined(separator: " | ") + "] "
            let invalid = !g.invalidSegments.isEmpty
            items.append((meta + g.text + (invalid ? (v.glyphs == .ascii ? "  ! invalid: " : "  ⚠ invalid: ") + g.invalidSegments.joined(separator: " / ") : ""),
                          invalid ? v.theme.warning : v.theme.text))
        }
        Widgets.textList(items, in: inner, buffer: &b, scroll: 0)
    }
}
