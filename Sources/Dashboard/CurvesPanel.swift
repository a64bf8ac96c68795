import CausalPO
import Lab

/// The Curves panel (`c`): in the dashboard's top-right place, instead of the loss chart, every
/// method's value over epochs with its 95% band (the true value in worlds, V_DR otherwise), the
/// selected method highlighted, and a line reading out the selected method's gain, ESS and KL
/// at the cursor's epoch (the last when there is no cursor).
extension DashboardView {
    static func curvesPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let world = s.worldName != nil
        let curves = LearningCurve.curves(.value, snapshot: s)
        let series = s.methods.enumerated().map { i, m in
            Widgets.BandSeries(name: m.method.rawValue, points: bandPoints(curves.first { $0.method == m.method }),
                               color: v.theme.seriesColor(i))
        }
        let title = "Curves: " + curveTitle(.value, world: world, vStar: nil, series: series, overSeeds: false)
        let inner = panelBox(.loss, r, v, &b, title: title)
        let (chart, readout) = inner.cutTop(inner.height >= Layout.curvesHeightForReadout ? inner.height - 1 : inner.height)
        Widgets.bandChart(series, in: chart, buffer: &b, theme: v.theme, glyphs: v.glyphs,
                          highlighted: selectedRow(s, v).map { [$0] } ?? [], cursor: v.chart.epochCursor)
        if !readout.isEmpty, let m = selected(s, v) {
            b.put(curvesReadout(m, world: world, epoch: v.chart.epochCursor), x: readout.x, y: readout.y, style: v.theme.text,
                  maxWidth: readout.width)
        }
    }

    /// "CPO epoch 2: gain 0.250  ESS 0.64  KL 0.50  true value 55.40±0.69" (no gain and V_DR
    /// outside worlds; the value last, as the chart shows it too, so a narrow panel cuts it
    /// first); "CPO: no evaluation at epoch 3" when it has none there.
    static func curvesReadout(_ m: MethodSnapshot, world: Bool, epoch: Int?) -> String {
        let name = m.method.rawValue
        guard let e = epoch.map({ c in m.epochs.first { $0.epoch == c } }) ?? m.epochs.last else {
            return "\(name): no evaluation" + (epoch.map { " at epoch \($0)" } ?? " yet")
        }
        let parts = (world ? ["gain " + f(e.normalizedGain)] : [])
            + ["ESS " + f(e.weights.essFraction, 2), "KL " + f(e.klToFT.value, 2),
               world ? "true value " + pm(e.trueValue) : "V_DR " + pm(e, .dr)]
        return "\(name) epoch \(e.epoch): " + parts.joined(separator: "  ")
    }
}

extension DashboardView.Layout {
    /// The Curves panel adds its readout line from this inner height.
    static let curvesHeightForReadout = 6
}
