import CausalPO
import Foundation
import Lab

/// The screens of the dashboard.
public enum ViewKind: String, Sendable, CaseIterable {
    case dashboard, compare, data
}

/// The panels of the dashboard view, in focus order.
public enum Panel: Int, Sendable, CaseIterable {
    case methods, loss, weights, confounding, generations

    public var title: String {
        switch self {
        case .methods: "Methods"
        case .loss: "Loss"
        case .weights: "Weights"
        case .confounding: "Confounding"
        case .generations: "Generations"
        }
    }
}

/// Everything about what the user is looking at (not about training): the second input of
/// `DashboardView.render`.
public struct ViewState: Sendable {
    public var view: ViewKind = .dashboard
    public var focus: Panel = .methods
    public var zoomed = false
    public var showHelp = false
    public var selectedMethod = 0
    public var glyphs: Glyphs = .unicode
    public var theme: Theme = .dark
    public var keymap: Keymap = .standard
    /// A one-line message (e.g. "report written to reports/").
    public var status = ""
    /// The prompt prefix being typed (nil when not typing).
    public var promptDraft: String?
    public init() {}
}

/// Draws a snapshot: a pure function of (snapshot, view state, size) into a cell buffer.
public enum DashboardView {
    public static let minimumWidth = 80
    public static let minimumHeight = 24

    public static func render(_ s: LabSnapshot, _ v: ViewState, width: Int, height: Int) -> CellBuffer {
        var b = CellBuffer(width: width, height: height)
        let t = v.theme
        if width < minimumWidth || height < minimumHeight {
            let msg = ["terminal too small (\(width)x\(height))", "need at least \(minimumWidth)x\(minimumHeight)", "resize, or press q to quit"]
            for (i, line) in msg.enumerated() {
                b.put(line, x: max(0, (width - line.count) / 2), y: max(0, height / 2 - 1 + i), style: i == 0 ? t.warning : t.text)
            }
            return b
        }
        header(s, v, &b)
        let body = Rect(x: 0, y: 1, width: width, height: height - 2)
        switch v.view {
        case .dashboard: dashboard(s, v, body, &b)
        case .compare: compare(s, v, body, &b)
        case .data: dataView(s, v, body, &b)
        }
        footer(v, &b)
        if v.showHelp { help(v, &b) }
        return b
    }

    static func methodNames(_ s: LabSnapshot) -> [String] { s.methods.map(\.method.rawValue) }

    static func selected(_ s: LabSnapshot, _ v: ViewState) -> MethodSnapshot? {
        s.methods.isEmpty ? nil : s.methods[min(max(0, v.selectedMethod), s.methods.count - 1)]
    }

    // MARK: - frame

    static func header(_ s: LabSnapshot, _ v: ViewState, _ b: inout CellBuffer) {
        let t = v.theme
        var phase: String
        switch s.phase {
        case let .preparing(stage, fraction, message):
            phase = "preparing: \(stage.rawValue) \(Int((fraction * 100).rounded()))% — \(message)"
        case .idle: phase = "ready (n: step, space: run)"
        case .running: phase = "running"
        case .finished: phase = "finished"
        case .failed(let m): phase = "FAILED: \(m)"
        }
        if !v.status.isEmpty { phase += " | " + v.status }
        let title = " cpo-tui | \(s.sourceLabel.isEmpty ? "…" : s.sourceLabel) | seed \(s.seed) | \(v.view.rawValue) | "
        b.fill(Rect(x: 0, y: 0, width: b.width, height: 1), style: t.title)
        b.put(title, x: 0, y: 0, style: t.title)
        let failed: Bool = { if case .failed = s.phase { return true }; return false }()
        b.put(phase, x: title.count, y: 0, style: failed ? t.bad : t.title, maxWidth: b.width - title.count)
    }

    static func footer(_ v: ViewState, _ b: inout CellBuffer) {
        let t = v.theme
        if let draft = v.promptDraft {
            b.put("prompt prefix (Enter: sample, Esc: cancel): " + draft + "_", x: 0, y: b.height - 1, style: t.accent, maxWidth: b.width)
        } else {
            b.put(v.keymap.hintBar(width: b.width, glyphs: v.glyphs), x: 0, y: b.height - 1, style: t.hint, maxWidth: b.width)
        }
    }

    static func help(_ v: ViewState, _ b: inout CellBuffer) {
        let t = v.theme
        let lines = v.keymap.helpLines(glyphs: v.glyphs)
        let w = min(b.width - 4, (lines.map(\.count).max() ?? 20) + 4)
        let h = min(b.height - 2, lines.count + 2)
        let r = Rect(x: (b.width - w) / 2, y: (b.height - h) / 2, width: w, height: h)
        b.fill(r, style: t.text)
        b.box(r, title: "keys (? to close)", style: t.focusedBorder, titleStyle: t.title, glyphs: v.glyphs)
        for (i, l) in lines.prefix(h - 2).enumerated() { b.put(l, x: r.x + 2, y: r.y + 1 + i, style: t.text, maxWidth: w - 3) }
    }

    static func panelBox(_ p: Panel, _ r: Rect, _ v: ViewState, _ b: inout CellBuffer, extra: String = "") -> Rect {
        let focused = v.focus == p && v.view == .dashboard
        b.box(r, title: p.title + extra, style: focused ? v.theme.focusedBorder : v.theme.border, titleStyle: v.theme.title, glyphs: v.glyphs)
        return r.inset(by: 1)
    }

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
        case .loss: lossPanel(s, v, r, &b)
        case .weights: weightsPanel(s, v, r, &b)
        case .confounding: confoundingPanel(s, v, r, &b)
        case .generations: generationsPanel(s, v, r, &b)
        }
    }

    static func pm(_ e: Estimate?) -> String {
        guard let e, e.value.isFinite else { return "–" }
        return String(format: "%.2f±%.2f", e.value, (e.upper - e.lower) / 2)
    }

    static func f(_ x: Double?, _ digits: Int = 3) -> String {
        guard let x, x.isFinite else { return "–" }
        return String(format: "%.\(digits)f", x)
    }

    static func stateText(_ m: MethodSnapshot) -> String {
        switch m.state {
        case .waiting: "waiting"
        case .training: "training"
        case .evaluating: "evaluating"
        case .idle: m.method == .ft ? "reference" : "idle"
        case .failed: "FAILED"
        }
    }

    static func methodsPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let inner = panelBox(.methods, r, v, &b)
        let world = s.worldName != nil
        var header = ["method", "epoch", "loss", "V_DR ± CI"]
        if world { header += ["true value", "gain"] }
        header += ["state"]
        let rows: [[String]] = s.methods.map { m in
            let last = m.epochs.last
            var row = [m.method.rawValue, String(m.epoch), f(last?.trainLoss, 2), pm(last?.vDR)]
            if world { row += [pm(last?.trueValue), f(last?.normalizedGain)] }
            row += [stateText(m)]
            return row
        }
        let align: [Alignment] = [.left, .right, .right, .right] + (world ? [.right, .right] : []) + [.left]
        Widgets.table(header: header, rows: rows, alignments: align, in: inner, buffer: &b, theme: v.theme,
                      selectedRow: s.methods.isEmpty ? nil : min(v.selectedMethod, s.methods.count - 1), glyphs: v.glyphs)
    }

    static func lossPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let inner = panelBox(.loss, r, v, &b, extra: " (per step, raw)")
        var series: [(name: String, values: [Double], color: Color)] = []
        for (i, m) in s.methods.enumerated() where !m.steps.isEmpty {
            series.append((m.method.rawValue, m.steps.map(\.loss), v.theme.series[i % max(1, v.theme.series.count)]))
        }
        if series.isEmpty && !s.ftHistory.isEmpty {
            series.append(("FT eval loss", s.ftHistory.map(\.evalLoss), v.theme.series.first ?? .default))
        }
        Widgets.lineChart(series, in: inner, buffer: &b, theme: v.theme, glyphs: v.glyphs, xLabel: "step")
    }

    static func weightsPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let m = selected(s, v)
        let inner = panelBox(.weights, r, v, &b, extra: m.map { " — \($0.method.rawValue), held-out log-ratios" } ?? "")
        guard let m, let w = m.epochs.last?.weights else {
            b.put("no evaluation yet", x: inner.x, y: inner.y, style: v.theme.dim)
            return
        }
        let lines = [
            String(format: "ESS %.0f%% of %d  max weight %.1f%%  overlap %@ %.0f%%",
                   100 * w.essFraction, w.count, 100 * w.maxWeightShare, w.overlap.triggered ? "ALARM" : "ok", 100 * w.overlap.share),
            "in-batch ESS " + f(w.meanBatchESSFraction, 2) + "   clipped " + f(m.steps.last?.clippedShare, 2)
                + "   epochs: " + m.epochs.map { f($0.weights.essFraction, 2) }.joined(separator: " → "),
        ]
        // Percentile bands of log w over the epochs (5% / 50% / 95%), TensorBoard-distribution style.
        func band(_ e: EpochMetrics) -> String {
            let q = e.weights.logRatioQuantiles, levels = e.weights.quantileLevels
            func at(_ l: Double) -> String { levels.firstIndex(of: l).map { f(q[$0], 1) } ?? "–" }
            return "[\(at(0.05)) \(at(0.5)) \(at(0.95))]"
        }
        let bands = "log w 5/50/95%: " + m.epochs.map { "e\($0.epoch) " + band($0) }.joined(separator: " ")
        var all = lines
        if inner.height > 8 { all.append(bands) }
        for (i, l) in all.enumerated() where i < inner.height {
            b.put(l, x: inner.x, y: inner.y + i, style: i == 0 && w.overlap.triggered ? v.theme.warning : v.theme.text, maxWidth: inner.width)
        }
        if inner.height > all.count + 1 {
            let h = Rect(x: inner.x, y: inner.y + all.count, width: inner.width, height: inner.height - all.count)
            Widgets.histogram(w.histogram.counts, edges: w.histogram.edges, in: h, buffer: &b, style: v.theme.accent,
                              theme: v.theme, glyphs: v.glyphs)
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
            lines.append(("\(m.method.rawValue): DR residual Σw(Y−ĝ) \(pm(e.drResidual))  KL(f‖FT) \(f(e.klToFT.value)) nats"
                          + (e.invalidRate.map { String(format: "  invalid %.0f%%", 100 * $0) } ?? ""), v.theme.text))
        }
        if !s.attributeEffects.isEmpty {
            lines.append(("attribute      naive   ĝ-learned   truth   imbalance(SMD)", v.theme.header))
            for (i, a) in s.attributeEffects.enumerated() {
                let name = i < s.attributeNames.count ? s.attributeNames[i] : "#\(i)"
                let smd = i < s.traitImbalance.count ? f(s.traitImbalance[i], 2) : "–"
                let wrongSign = (a.truth ?? 0) * a.naive.value < 0
                lines.append((name.padding(toLength: 13, withPad: " ", startingAt: 0)
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
            var meta = String(format: "[%.2f | log f/FT %+.2f", g.score, g.logRatioToFT)
            if !g.attributes.isEmpty { meta += " | " + g.attributes.joined(separator: ",") }
            meta += "] "
            let invalid = !g.invalidSegments.isEmpty
            items.append((meta + g.text + (invalid ? (v.glyphs == .ascii ? "  ! invalid: " : "  ⚠ invalid: ") + g.invalidSegments.joined(separator: " / ") : ""),
                          invalid ? v.theme.warning : v.theme.text))
        }
        Widgets.textList(items, in: inner, buffer: &b, scroll: 0)
    }

    // MARK: - compare

    static func compare(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let t = v.theme
        let parts = r.splitRows([1, 1])
        b.box(parts[0], title: "Compare: all methods, last epoch", style: t.border, titleStyle: t.title, glyphs: v.glyphs)
        let inner = parts[0].inset(by: 1)
        let world = s.worldName != nil
        var header = ["method", "ep", "V_DR", "V_IPW", "V_SNIPW", "V_OUT", "win vs FT", "KL", "ESS"]
        if world { header += ["true", "gain", "invalid"] }
        let rows: [[String]] = s.methods.map { m in
            let e = m.epochs.last
            var row = [m.method.rawValue, String(m.epoch), pm(e?.vDR), pm(e?.vIPW), pm(e?.vSNIPW), pm(e?.vOUT),
                       pm(e?.winRateVsFT), f(e?.klToFT.value, 2), f(e?.weights.essFraction, 2)]
            if world { row += [pm(e?.trueValue), f(e?.normalizedGain), f(e?.invalidRate, 2)] }
            return row
        }
        Widgets.table(header: header, rows: rows, alignments: [.left] + Array(repeating: .right, count: header.count - 1),
                      in: inner, buffer: &b, theme: t, selectedRow: s.methods.isEmpty ? nil : min(v.selectedMethod, s.methods.count - 1),
                      glyphs: v.glyphs)
        // Bars: the true value (worlds) or V_DR of each method with its 95% interval.
        b.box(parts[1], title: world ? "True value with 95% CI (V* = \(f(s.vStar, 2)))" : "V_DR with 95% CI",
              style: t.border, titleStyle: t.title, glyphs: v.glyphs)
        let barArea = parts[1].inset(by: 1)
        let est: [(String, Estimate?)] = s.methods.map { ($0.method.rawValue, world ? $0.epochs.last?.trueValue : $0.epochs.last?.vDR) }
        let lows = est.compactMap { $0.1?.lower }.filter(\.isFinite), highs = est.compactMap { $0.1?.upper }.filter(\.isFinite)
        guard let lo = lows.min(), let hi = (highs + (world ? [s.vStar ?? -.infinity] : [])).max(), hi > lo else { return }
        for (i, (name, e)) in est.enumerated() where i < barArea.height {
            b.put(name, x: barArea.x, y: barArea.y + i, style: t.text, maxWidth: 13)
            let text = pm(e)
            b.put(text, x: barArea.x + 14, y: barArea.y + i, style: t.text)
            guard let e else { continue }
            let barRect = Rect(x: barArea.x + 30, y: barArea.y + i, width: max(1, barArea.width - 30), height: 1)
            Widgets.bar(value: e.value, lower: e.lower, upper: e.upper, range: lo...hi, in: barRect, buffer: &b,
                        style: Style(fg: t.series[i % max(1, t.series.count)]), glyphs: v.glyphs)
        }
    }

    // MARK: - data

    static func dataView(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let t = v.theme
        b.box(r, title: "Data", style: t.border, titleStyle: t.title, glyphs: v.glyphs)
        let inner = r.inset(by: 1)
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
            lines.append(("FT: " + s.ftHistory.map { "epoch \($0.epoch) eval loss \(f($0.evalLoss))" }.joined(separator: ", "), t.text))
        }
        if !s.attributeEffects.isEmpty {
            lines.append(("", t.text))
            lines.append(("attribute       naive OLS (±SE)   ĝ learned   truth   trait imbalance (SMD)", t.header))
            for (i, a) in s.attributeEffects.enumerated() {
                let name = i < s.attributeNames.count ? s.attributeNames[i] : "#\(i)"
                lines.append((name.padding(toLength: 14, withPad: " ", startingAt: 0)
                              + String(format: "  %+6.2f (±%.2f)   %+6.2f", a.naive.value, a.naive.standardError, a.learned.value)
                              + (a.truth.map { String(format: "   %+6.2f", $0) } ?? "      –")
                              + (i < s.traitImbalance.count ? String(format: "   %+.2f", s.traitImbalance[i]) : ""),
                              (a.truth ?? 0) * a.naive.value < 0 ? t.bad : t.text))
            }
        }
        // Outcome histogram of the training rows on the right, when there is room.
        var textArea = inner
        if inner.width >= 100, s.trainOutcomes.count > 1, let lo = s.trainOutcomes.min(), let hi = s.trainOutcomes.max(), hi > lo {
            let cols = inner.splitColumns([3, 2])
            textArea = cols[0]
            let bins = max(4, min(30, cols[1].width - 2))
            var counts = [Int](repeating: 0, count: bins)
            for y in s.trainOutcomes { counts[min(bins - 1, Int(Double(bins) * (y - lo) / (hi - lo)))] += 1 }
            let edges = (0...bins).map { lo + (hi - lo) * Double($0) / Double(bins) }
            let box = Rect(x: cols[1].x, y: cols[1].y, width: cols[1].width, height: min(cols[1].height, 14))
            b.box(box, title: "outcome (\(s.outcomeKind), \(s.trainOutcomes.count) training rows)", style: t.border,
                  titleStyle: t.title, glyphs: v.glyphs)
            Widgets.histogram(counts, edges: edges, in: box.inset(by: 1), buffer: &b, style: t.accent, theme: t, glyphs: v.glyphs)
        }
        lines.append(("", t.text))
        lines.append(("messages:", t.header))
        for m in s.messages.suffix(max(0, textArea.height - lines.count)) { lines.append((m, t.dim)) }
        for (i, l) in lines.prefix(textArea.height).enumerated() {
            b.put(l.0, x: textArea.x, y: textArea.y + i, style: l.1, maxWidth: textArea.width)
        }
    }
}
