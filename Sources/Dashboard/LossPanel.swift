import CausalPO
import Foundation
import Lab

/// An exponential moving average with TensorBoard's bias correction, for the loss chart's
/// smoothed lines.
public enum EMA {
    /// The EMA averages over about this share of a chart's steps (its window 1/(1 − α)).
    public static let windowShare = 20
    public static let maxWeight = 0.99

    /// The weight α for a chart of `steps` steps: 1 − 20/steps, so the average spans about a
    /// twentieth of the run (1/(1 − α) = steps/20 steps) and follows any trend longer than 5%
    /// of it while evening out step-to-step noise. 0 (no smoothing) up to 20 steps, at most
    /// 0.99; rounded to 2 decimals, and the rounded weight is the one used, so the legend's
    /// "EMA 0.9" is exact. 200 steps: 0.9; 1,000 steps: 0.98.
    public static func weight(steps: Int) -> Double {
        guard steps > windowShare else { return 0 }
        let alpha = 1 - Double(windowShare) / Double(steps)
        return min(maxWeight, (alpha * 100).rounded() / 100)
    }

    /// s_t = (1 − α) Σ_{k≤t} α^(t−k) y_k / (1 − α^t) over the finite values so far: the
    /// recursive EMA m_t = α m_(t−1) + (1 − α) y_t from m_0 = 0, divided by 1 − α^t so that
    /// the start is not pulled towards 0 (s_1 = y_1; a constant series is its own EMA). A
    /// non-finite value is NaN in the output and left out of the average. α = 0 gives the values.
    public static func smooth(_ values: [Double], weight alpha: Double) -> [Double] {
        var out = [Double](repeating: .nan, count: values.count)
        var m = 0.0, decay = 1.0   // decay = α^t after t finite values
        for (i, y) in values.enumerated() where y.isFinite {
            m = alpha * m + (1 - alpha) * y
            decay *= alpha
            out[i] = m / (1 - decay)
        }
        return out
    }
}

/// What the Loss panel plots, shared with the chart keys (`applyChart` needs the x range):
/// each trained method's training loss per step; before any method has a step, FT's training
/// loss per step (live while preparation trains FT); without those (a resumed run keeps FT's
/// epochs, not its steps), FT's validation loss per epoch.
struct LossChartData {
    struct Line {
        var name: String
        /// The index of the colour (`Theme.seriesColor`): the method's row.
        var colorIndex: Int
        /// x = index + 1 (steps counted from 1; FT's epochs from 1).
        var records: [StepRecord]
    }

    var lines: [Line]
    /// The x unit: "step" or "epoch".
    var unit: String
    /// What the title says the chart shows.
    var what: String
    /// Whether the points are training steps (smoothing applies).
    var perStep: Bool

    /// The number of x values: the longest line's.
    var count: Int { lines.map(\.records.count).max() ?? 0 }

    static func of(_ s: LabSnapshot) -> LossChartData {
        let trained = s.methods.enumerated().filter { !$0.element.steps.isEmpty }
        if !trained.isEmpty {
            return LossChartData(lines: trained.map { Line(name: $0.element.method.rawValue, colorIndex: $0.offset, records: $0.element.steps) },
                                 unit: "step", what: "per step", perStep: true)
        }
        let ft = s.methods.firstIndex { $0.method == .reference } ?? 0
        if !s.ftSteps.isEmpty {
            return LossChartData(lines: [Line(name: "FT train loss", colorIndex: ft, records: s.ftSteps)],
                                 unit: "step", what: "FT, per step", perStep: true)
        }
        let epochs = s.ftHistory.map {
            StepRecord(step: $0.epoch, epoch: $0.epoch, loss: $0.evalLoss, batchESSFraction: nil, clippedShare: 0, gradNorm: .nan,
                       skipped: false)
        }
        return LossChartData(lines: epochs.isEmpty ? [] : [Line(name: "FT validation loss", colorIndex: ft, records: epochs)],
                             unit: "epoch", what: "FT, per epoch", perStep: false)
    }
}

/// The Loss panel: per line a smoothed EMA over the faint raw points (or either alone, `e`),
/// a linear or log axis (`l`), a window of the steps (`+ - 0`) and a cursor (`← →`) whose
/// values a readout line under the chart gives.
extension DashboardView {
    /// The panel's chart gets a readout line under it from this inner height (with the cursor on).
    static let lossReadoutMinHeight = 5

    static func lossPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let data = LossChartData.of(s)
        let inner = r.inset(by: 1)
        let chart = v.chart
        let count = data.count
        let window = chart.shownSteps(count: count)
        let cursor = count > 0 ? chart.stepCursor.map { min(max(1, $0), count) } : nil
        let alpha = data.perStep ? EMA.weight(steps: count) : 0
        // With nothing to smooth (few steps, FT's epochs) the raw values are the line.
        let smoothing = alpha > 0 ? chart.smoothing : .raw
        let lineValues = data.lines.map { $0.records.map(\.loss) }
        let emas = smoothing == .raw ? [] : lineValues.map { EMA.smooth($0, weight: alpha) }
        var series: [Widgets.ChartSeries] = []
        for (i, line) in data.lines.enumerated() {
            let color = v.theme.seriesColor(line.colorIndex)
            switch smoothing {
            case .smoothedOverRaw:
                series.append(.init(name: line.name, values: lineValues[i], color: color, faint: true))
                series.append(.init(name: line.name, values: emas[i], color: color))
            case .smoothed: series.append(.init(name: line.name, values: emas[i], color: color))
            case .raw: series.append(.init(name: line.name, values: lineValues[i], color: color))
            }
        }
        let axis = lossAxis(chart.logScale, lineValues)
        let weight = Widgets.formatCompact(alpha)
        let note: (long: String, short: String) = switch smoothing {
        case .smoothedOverRaw: ("EMA \(weight) over raw", "EMA \(weight)+raw")
        case .smoothed: ("EMA \(weight)", "EMA \(weight)")
        case .raw: ("raw", "raw")
        }
        let scale = axis == .log ? ", log" : axis == .symlog ? ", symlog" : ""

        let readout = cursor != nil && inner.height >= lossReadoutMinHeight
        let chartRect = Rect(x: inner.x, y: inner.y, width: inner.width, height: inner.height - (readout ? 1 : 0))
        let layout = Widgets.lineChart(series, in: chartRect, buffer: &b, theme: v.theme, glyphs: v.glyphs, options: .init(
            xLabel: data.unit, xStart: 1, xWindow: window, cursorX: cursor, yScale: axis, legendNote: note.long + scale))
        let title = layout.noteShown || data.lines.isEmpty ? " (\(data.what))" : ": " + note.short + scale
        _ = panelBox(.loss, r, v, &b, extra: title)
        if readout, let cursor {
            lossReadout(data, emas, at: cursor, in: inner.row(inner.height - 1), v, &b)
        }
    }

    /// Log scale: log10 when every value is positive, else the symmetric log (CPO's losses are
    /// negative); linear when off.
    static func lossAxis(_ on: Bool, _ values: [[Double]]) -> Widgets.AxisScale {
        guard on else { return .linear }
        return values.allSatisfy { $0.allSatisfy { !$0.isFinite || $0 > 0 } } ? .log : .symlog
    }

    /// "step 412 (epoch 3): CPO -58.1 (EMA -57.9)  DR-CPO ...": each line's value at the
    /// cursor (and its EMA when smoothing), in the line's colour; lines shorter than the cursor
    /// are left out.
    static func lossReadout(_ data: LossChartData, _ emas: [[Double]], at x: Int, in row: Rect, _ v: ViewState,
                            _ b: inout CellBuffer) {
        let i = x - 1
        let epoch = data.lines.first { i < $0.records.count }.map { $0.records[i].epoch }
        var parts: [(String, Style)] = [(data.perStep ? "step \(x)" + (epoch.map { " (epoch \($0))" } ?? "") + ":"
                                                      : "epoch \(x):", v.theme.text)]
        for (k, line) in data.lines.enumerated() where i < line.records.count {
            var text = "\(line.name) \(Widgets.formatCompact(line.records[i].loss))"
            if k < emas.count { text += " (EMA \(Widgets.formatCompact(emas[k][i])))" }
            parts.append((text, Style(fg: v.theme.seriesColor(line.colorIndex))))
        }
        // One space after the step, two between lines.
        var xPos = row.x
        for (n, p) in parts.enumerated() {
            xPos += n == 0 ? 0 : n == 1 ? 1 : 2
            guard xPos < row.maxX else { break }
            let shown = Widgets.truncate(p.0, width: row.maxX - xPos, glyphs: v.glyphs)
            b.put(shown, x: xPos, y: row.y, style: p.1)
            xPos += shown.count
        }
    }
}
