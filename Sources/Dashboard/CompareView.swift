import CausalPO
import Foundation
import Lab
import OutcomeData

/// The compare view: every method side by side.
extension DashboardView {
    // MARK: - compare

    static func compare(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let t = v.theme
        let parts = r.splitRows([1, 1])
        b.box(parts[0], title: "Compare: all methods, last epoch", style: t.border, titleStyle: t.title, glyphs: v.glyphs)
        let inner = parts[0].inset(by: 1)
        let world = s.worldName != nil
        let values = Estimator.allCases.filter(\.estimatesValue)
        var header = ["method", "ep"] + values.map(\.name) + ["win vs FT", "KL", "ESS"]
        if world { header += ["true", "gain", "invalid"] }
        let rows: [[String]] = s.methods.map { m in
            let e = m.epochs.last
            var row = [m.method.rawValue, String(m.epoch)] + values.map { pm(e, $0) }
                // A judge that cannot tell texts apart gives no evidence: no win rate.
                + [s.judge?.informative == false ? "–" : pm(e?.winRateVsFT), f(e?.klToFT.value, 2), f(e?.weights.essFraction, 2)]
            if world { row += [pm(e?.trueValue), f(e?.normalizedGain), f(e?.invalidRate, 2)] }
            return row
        }
        Widgets.table(header: header, rows: rows, alignments: [.left] + Array(repeating: .right, count: header.count - 1),
                      in: inner, buffer: &b, theme: t, selectedRow: selectedRow(s, v),
                      glyphs: v.glyphs)
        // Bars: the true value (worlds) or V_DR of each method with its 95% interval.
        b.box(parts[1], title: world ? "True value with 95% CI (V* = \(f(s.vStar, 2)))" : "V_DR with 95% CI",
              style: t.border, titleStyle: t.title, glyphs: v.glyphs)
        let barArea = parts[1].inset(by: 1)
        let est: [(String, Estimate?)] = s.methods.map { ($0.method.rawValue, world ? $0.epochs.last?.trueValue : $0.epochs.last?.estimates[.dr]) }
        let lows = est.compactMap { $0.1?.lower }.filter(\.isFinite), highs = est.compactMap { $0.1?.upper }.filter(\.isFinite)
        guard let lo = lows.min(), let hi = (highs + (world ? [s.vStar ?? -.infinity] : [])).max(), hi > lo else { return }
        for (i, (name, e)) in est.enumerated() where i < barArea.height {
            b.put(name, x: barArea.x, y: barArea.y + i, style: t.text, maxWidth: Layout.compareNameWidth)
            b.put(pm(e), x: barArea.x + Layout.compareValueColumn, y: barArea.y + i, style: t.text)
            guard let e else { continue }
            let barRect = Rect(x: barArea.x + Layout.compareBarColumn, y: barArea.y + i,
                               width: max(1, barArea.width - Layout.compareBarColumn), height: 1)
            Widgets.bar(value: e.value, lower: e.lower, upper: e.upper, range: lo...hi, in: barRect, buffer: &b,
                        style: Style(fg: t.seriesColor(i)), glyphs: v.glyphs)
        }
    }
}
