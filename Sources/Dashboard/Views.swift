import CausalPO
import Foundation
import Lab
import OutcomeData

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
    /// The zone clock times (the last save) are shown in: the machine's own; tests fix it.
    public var timeZone: TimeZone = .current
    public init() {}
}

/// Draws a snapshot: a pure function of (snapshot, view state, size) into a cell buffer.
public enum DashboardView {
    public static let minimumWidth = 80
    public static let minimumHeight = 24

    /// Sizes and limits the views are laid out with, in cells unless said otherwise.
    enum Layout {
        /// The run directory in the header is cut from the left, but not below this.
        static let minDirectoryWidth = 12
        /// The weights panel adds the log-weight percentile bands from this inner height.
        static let weightsHeightForBands = 9
        /// Attribute name columns: the confounding panel's and the data summary's.
        static let confoundingNameWidth = 13
        static let summaryNameWidth = 14
        /// The compare view's bars: the method name (cut to `compareNameWidth`), its value
        /// from `compareValueColumn`, the bar from `compareBarColumn`.
        static let compareNameWidth = 13
        static let compareValueColumn = 14
        static let compareBarColumn = 30
        /// The data view shows the outcome histogram beside the summary from this width, at
        /// this height.
        static let widthForOutcomeHistogram = 100
        static let outcomeHistogramHeight = 12
        /// The outcome histogram's bins: one per column, within these bounds.
        static let outcomeBins = 4...30
        /// What the data view's panels keep when the screen is short: the summary's top
        /// (box included), the rows list's (header and five rows, box included), the
        /// correlations' (one line, box included).
        static let summaryMinHeight = 6
        static let rowsMinHeight = 8
        static let correlationsMinHeight = 3
        /// The correlations panel takes at most this share of the width, and leaves the
        /// messages at least `messagesMinWidth` beside it.
        static let correlationsMaxShare = (numerator: 3, denominator: 5)
        static let messagesMinWidth = 24
        /// Correlation bars: at most this many cells; the attribute names' column within these
        /// bounds; a value `+0.00` and its gaps.
        static let correlationMaxBar = 21
        static let correlationNameWidth = 13...16
        static let correlationValueWidth = 5
        /// The correlations panel's width when there is nothing to show.
        static let correlationsEmptyWidth = 30
        /// The rows list gives each attribute a column when the text keeps this many cells;
        /// otherwise it names the present ones, cut to `attributeNamesWidth`.
        static let rowsMinTextWidth = 20
        static let attributeNamesWidth = 16
        /// The text column never gets fewer cells than this.
        static let rowsTextMinWidth = 4
        /// An outcome wider than this is written in `formatCompact`.
        static let outcomeMaxWidth = 9
        /// Attribute names in the rows list are cut to the shortest length in this range that
        /// keeps them apart.
        static let shortNameLengths = 3...6
    }

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

    /// The selected method's row (clamped to the list), nil when there are no methods.
    static func selectedRow(_ s: LabSnapshot, _ v: ViewState) -> Int? {
        s.methods.isEmpty ? nil : min(max(0, v.selectedMethod), s.methods.count - 1)
    }

    static func selected(_ s: LabSnapshot, _ v: ViewState) -> MethodSnapshot? {
        selectedRow(s, v).map { s.methods[$0] }
    }

    // MARK: - frame

    static func header(_ s: LabSnapshot, _ v: ViewState, _ b: inout CellBuffer) {
        let t = v.theme
        var phase: String, short: String
        switch s.phase {
        case let .preparing(stage, fraction, message):
            short = "preparing: \(stage.rawValue) \(Int((fraction * 100).rounded()))%"
            phase = short + " — \(message)"
        case .idle: (phase, short) = ("ready (n: step, space: run)", "ready")
        case .running: (phase, short) = ("running", "running")
        case .finished: (phase, short) = ("finished", "finished")
        case .failed(let m): (phase, short) = ("FAILED: \(m)", "FAILED")
        }
        if !v.status.isEmpty {
            phase += " | " + v.status
            short += " | " + v.status
        }
        let title = " cpo-tui | \(s.sourceLabel.isEmpty ? "…" : s.sourceLabel) | seed \(s.seed) | \(v.view.rawValue) | "
        b.fill(Rect(x: 0, y: 0, width: b.width, height: 1), style: t.title)
        b.put(title, x: 0, y: 0, style: t.title)
        let failed: Bool = { if case .failed = s.phase { return true }; return false }()

        // The run directory and the last save, right-aligned (one space from the edge). The
        // save state always shows; the phase shortens, then the directory is cut from the left
        // (its end names the run), then dropped.
        let save: (text: String, style: Style)? = s.runDirectory == nil ? nil : s.lastSave.map {
            $0.succeeded ? ("saved " + clock($0.time, v.timeZone), t.title) : ("SAVE FAILED", t.bad)
        }
        /// Width of the right part (with its margin); 0 when empty.
        func rightWidth(_ dir: String?) -> Int {
            let parts = [dir?.count, save?.text.count].compactMap { $0 }
            return parts.isEmpty ? 0 : parts.reduce(0, +) + 2 * (parts.count - 1) + 1
        }
        func room(_ p: String, _ dir: String?) -> Int {
            let right = rightWidth(dir)
            return b.width - title.count - p.count - (right > 0 ? 2 + right : 0)
        }
        /// The directory cut from the left to fit beside `p`, if at least 12 cells are left for it.
        func cutDir(_ p: String) -> String? {
            guard let dir = s.runDirectory else { return nil }
            let cells = room(p, nil) - 2 - (save == nil ? 1 : 0)
            guard cells >= Layout.minDirectoryWidth else { return nil }
            return dir.count <= cells ? dir : String(v.glyphs.ellipsis) + String(dir.suffix(cells - 1))
        }
        // Only the idle hint gives way to the directory; progress and failures do not.
        let hintOnly = s.phase == .idle
        var candidates: [(String, String?)] = [(phase, s.runDirectory)]
        if s.runDirectory != nil {
            if let d = cutDir(phase) { candidates.append((phase, d)) }
            if hintOnly {
                candidates.append((short, s.runDirectory))
                if let d = cutDir(short) { candidates.append((short, d)) }
            }
            candidates += [(phase, nil), (short, nil)]
        }
        // Nothing fits: the phase is cut at the edge (before the save state, if any).
        let (shownPhase, shownDir) = candidates.first { room($0.0, $0.1) >= 0 } ?? (hintOnly ? short : phase, nil)
        let right = rightWidth(shownDir)
        let phaseRoom = b.width - title.count - (right > 0 ? 2 + right : 0)
        b.put(Widgets.truncate(shownPhase, width: phaseRoom, glyphs: v.glyphs), x: title.count, y: 0,
              style: failed ? t.bad : t.title)
        var x = b.width - right
        if let d = shownDir {
            b.put(d, x: x, y: 0, style: t.title)
            x += d.count + 2
        }
        if let save { b.put(save.text, x: x, y: 0, style: save.style) }
    }

    /// "14:02:31" in `zone`.
    static func clock(_ date: Date, _ zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.hour, .minute, .second], from: date)
        return String(format: "%02d:%02d:%02d", c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
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
        let r = b.bounds.centered(width: w, height: h)
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

    static func lossPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let inner = panelBox(.loss, r, v, &b, extra: " (per step, raw)")
        var series: [(name: String, values: [Double], color: Color)] = []
        for (i, m) in s.methods.enumerated() where !m.steps.isEmpty {
            series.append((m.method.rawValue, m.steps.map(\.loss), v.theme.seriesColor(i)))
        }
        if series.isEmpty && !s.ftHistory.isEmpty {
            series.append(("FT eval loss", s.ftHistory.map(\.evalLoss), v.theme.seriesColor(0)))
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
        if inner.height >= Layout.weightsHeightForBands { all.append(bands) }
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

    // MARK: - data

    /// The data view: what the run learns from. From the top: the summary (source, design,
    /// split, ĝ, FT, attribute effects) beside the outcome histogram (when there is room); the
    /// correlations beside the messages; the first training rows in what is left. Panels shrink
    /// with the screen (the rows list keeps at least a header and five rows, the summary its
    /// first four lines) and every line is cut to its panel.
    static func dataView(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
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

        // Summary, and the outcome histogram on the right when there is room.
        var summaryRect = top
        if histogram {
            let cols = top.splitColumns([3, 2])
            summaryRect = cols[0]
            outcomeHistogram(s, v, cols[1], &b)
        }
        b.box(summaryRect, title: "Data", style: v.theme.border, titleStyle: v.theme.title, glyphs: v.glyphs)
        let inner = summaryRect.inset(by: 1)
        for (i, l) in summary.prefix(max(0, inner.height)).enumerated() {
            b.put(Widgets.truncate(l.0, width: inner.width, glyphs: v.glyphs), x: inner.x, y: inner.y + i, style: l.1)
        }

        // Correlations (as wide as they need, up to 3/5), messages beside them.
        let share = Layout.correlationsMaxShare
        let corrW = min(correlationsWidth(s, maxBar: Layout.correlationMaxBar) + 2, middle.width * share.numerator / share.denominator)
        if middle.width - corrW >= Layout.messagesMinWidth {
            let (left, right) = middle.cutLeft(corrW)
            correlationsPanel(s, v, left, &b)
            messagesPanel(s, v, right, &b)
        } else {
            correlationsPanel(s, v, middle, &b)
        }
        rowsPanel(s, v, bottom, &b)
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

    static func messagesPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let t = v.theme
        b.box(r, title: "Messages", style: t.border, titleStyle: t.title, glyphs: v.glyphs)
        var inner = r.inset(by: 1)
        guard !inner.isEmpty else { return }
        // The last save's message first (a failure in full), then the newest log lines that fit.
        if let save = s.lastSave {
            let text = clock(save.time, v.timeZone) + (save.succeeded ? " " : " SAVE FAILED: ") + save.message
            if save.succeeded {
                b.put(Widgets.truncate(text, width: inner.width, glyphs: v.glyphs), x: inner.x, y: inner.y, style: t.text)
                inner = inner.cutTop(1).1
            } else {
                // In full, leaving a line for the log when it can (a cut message ends in an ellipsis).
                let wrapped = Widgets.wrap(text, width: inner.width, hangingIndent: 2)
                let room = max(1, inner.height - 1)
                for (k, l) in wrapped.prefix(room).enumerated() {
                    let cut = k == room - 1 && wrapped.count > room
                    b.put(cut ? Widgets.truncate(l + "  ", width: inner.width, glyphs: v.glyphs) : l,
                          x: inner.x, y: inner.y + k, style: t.bad)
                }
                inner = inner.cutTop(min(wrapped.count, room)).1
            }
        }
        guard !inner.isEmpty else { return }
        // The session also logs a failed save; shown above already.
        let failure = s.lastSave.flatMap { $0.succeeded ? nil : $0.message }
        let log = s.messages.filter { m in failure.map { !m.hasSuffix($0) } ?? true }
        if log.isEmpty {
            b.put("no messages", x: inner.x, y: inner.y, style: t.dim)
            return
        }
        // The newest messages that fit whole, oldest first; else the start of the newest, cut.
        var lines: [String] = []
        for m in log.reversed() {
            let wrapped = Widgets.wrap(m, width: inner.width, hangingIndent: 2)
            if lines.count + wrapped.count > inner.height {
                if lines.isEmpty {
                    lines = Array(wrapped.prefix(inner.height))
                    lines[lines.count - 1] = Widgets.truncate(lines[lines.count - 1] + "  ", width: inner.width, glyphs: v.glyphs)
                }
                break
            }
            lines.insert(contentsOf: wrapped, at: 0)
        }
        for (k, l) in lines.enumerated() { b.put(l, x: inner.x, y: inner.y + k, style: t.dim) }
    }

    /// The first training rows: outcome, trait, the attributes (a 0/1 column each when they fit,
    /// else the names of those present) and the text, cut to the width.
    static func rowsPanel(_ s: LabSnapshot, _ v: ViewState, _ r: Rect, _ b: inout CellBuffer) {
        let t = v.theme
        let inner = r.inset(by: 1)
        let shown = min(s.dataPreview.count, max(0, inner.height - 1))
        b.box(r, title: shown == 0 ? "Training rows" : "Training rows 1-\(shown) of \(max(s.trainRows, s.dataPreview.count))",
              style: t.border, titleStyle: t.title, glyphs: v.glyphs)
        guard !s.dataPreview.isEmpty else {
            Widgets.message(Widgets.noDataMessage, in: inner, buffer: &b, style: t.dim)
            return
        }
        let rows = Array(s.dataPreview.prefix(shown))
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
            let text = row.text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            cells[i].append(Widgets.truncate(text, width: textWidth, glyphs: v.glyphs))
        }
        Widgets.table(header: header, rows: cells, alignments: align, in: inner, buffer: &b, theme: t, selectedRow: nil,
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
