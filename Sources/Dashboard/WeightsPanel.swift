import CausalPO
import Foundation
import Lab

/// The Weights panel: the selected method's held-out log importance weights, log w = log P^f −
/// log P^R. Two lines of numbers for the epoch under the epoch cursor (the last unless `← →`
/// moved it; one line when the panel is short), then side by side the histogram of that epoch and the distribution of log w over
/// every epoch (TensorBoard's distributions view: the 5–95% and 25–75% bands and the median)
/// with the cursor's epoch marked.
extension DashboardView {
    /// The histogram takes this share of the chart row (in percent); the distribution the rest.
    static let weightsHistogramShare = 45
    static let weightsChartGap = 2
    /// The second line of numbers (the epoch, the in-batch ESS, the ESS by epoch) shows from
    /// this inner height.
    static let weightsTwoLinesMinHeight = 6
    /// The bands drawn (quantile levels `WeightSummary` stores): wide, narrow, median.
    static let weightBands = (outer: (0.05, 0.95), inner: (0.25, 0.75), median: 0.5)

    static func weightsPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let m = selected(s, v)
        let inner = panelBox(.weights, r, v, &b, extra: m.map { " — \($0.method.rawValue), held-out log-ratios" } ?? "")
        guard let m, !m.epochs.isEmpty else {
            b.put("no evaluation yet", x: inner.x, y: inner.y, style: v.theme.dim)
            return
        }
        let shown = epochIndex(v.chart.epochCursor, in: m.epochs.map(\.epoch))
        let e = m.epochs[shown], w = e.weights
        let arrow = v.glyphs == .ascii ? " -> " : " → "
        var lines = [
            String(format: "ESS %.0f%% of %d  max weight %.1f%%  overlap %@ %.0f%%",
                   100 * w.essFraction, w.count, 100 * w.maxWeightShare, w.overlap.triggered ? "ALARM" : "ok", 100 * w.overlap.share),
            "epoch \(e.epoch)" + (shown < m.epochs.count - 1 ? " of \(m.epochs[m.epochs.count - 1].epoch)" : "") + ":  in-batch ESS "
                + f(w.meanBatchESSFraction, 2) + "   clipped " + f(m.steps.last?.clippedShare, 2)
                + "   epochs: " + m.epochs.map { f($0.weights.essFraction, 2) }.joined(separator: arrow),
        ]
        // Short of rows (80x24) the charts get the second line's row: 3 rows of plot, not 2.
        if inner.height < weightsTwoLinesMinHeight { lines.removeLast() }
        for (i, l) in lines.enumerated() where i < inner.height {
            b.put(l, x: inner.x, y: inner.y + i, style: i == 0 && w.overlap.triggered ? v.theme.warning : v.theme.text, maxWidth: inner.width)
        }
        let charts = inner.cutTop(lines.count).1
        guard charts.height >= Widgets.ChartScale.minHeightForXLabels else { return }
        let bins = w.histogram.counts.count
        let (histogramArea, rest) = charts.cutLeft(histogramWidth(charts.width * weightsHistogramShare / 100, bins: bins))
        let distribution = rest.cutLeft(weightsChartGap).1
        var histogram = histogramArea
        if charts.height >= Widgets.distributionLegendMinHeight {
            b.put("log w at epoch \(e.epoch)", x: histogram.x, y: histogram.y, style: v.theme.dim, maxWidth: histogram.width)
            histogram = histogram.cutTop(1).1
        }
        Widgets.histogram(w.histogram.counts, edges: w.histogram.edges, in: histogram, buffer: &b, style: v.theme.accent,
                          theme: v.theme, glyphs: v.glyphs)
        let bands = weightBands
        let points = m.epochs.map { ep in
            let q = ep.weights
            func at(_ level: Double) -> Double? { q.quantileLevels.firstIndex(of: level).map { q.logRatioQuantiles[$0] } }
            func band(_ l: (Double, Double)) -> ClosedRange<Double>? {
                guard let lo = at(l.0), let hi = at(l.1), lo <= hi else { return nil }
                return lo...hi
            }
            return Widgets.QuantileBands(x: ep.epoch, outer: band(bands.outer), inner: band(bands.inner), median: at(bands.median))
        }
        let dash = v.glyphs == .ascii ? "-" : "–"
        func percent(_ l: (Double, Double)) -> String { "\(Int((l.0 * 100).rounded()))\(dash)\(Int((l.1 * 100).rounded()))%" }
        Widgets.distributionChart(points, in: distribution, buffer: &b, style: v.theme.accent, theme: v.theme, glyphs: v.glyphs,
                                  names: .init(outer: percent(bands.outer), inner: percent(bands.inner), median: "median"),
                                  xLabel: "epoch", cursorX: e.epoch)
    }

    /// The histogram's width near `target` columns: whole when `bins` fit in it, else the
    /// widest that takes the same number of bins per column (so no column sums more bins than
    /// another and looks taller for it).
    static func histogramWidth(_ target: Int, bins: Int) -> Int {
        guard bins > target, target > 0 else { return max(0, target) }
        return (1...target).last { bins % $0 == 0 } ?? target
    }
}
