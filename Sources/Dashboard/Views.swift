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
    /// The charts' cursor, zoom, smoothing and scale.
    public var chart = ChartViewState()
    /// The top-right panel shows the learning curves instead of the loss chart.
    public var showCurves = false
    /// Clicks and the wheel are the dashboard's (else the terminal's, for text selection).
    public var mouse = false
    public init() {}
}

/// How the user set the charts up (keys in `Action`: cursor, zoom, smoothing, log scale).
public struct ChartViewState: Sendable, Hashable {
    /// What the loss chart draws: an EMA line over the faint raw points, or one of them.
    public enum Smoothing: String, Sendable, Hashable, CaseIterable {
        case smoothedOverRaw, smoothed, raw
    }

    public var smoothing: Smoothing = .smoothedOverRaw
    public var logScale = false
    /// The loss chart's cursor (a step; nil: off) and the steps it shows (nil: all).
    public var stepCursor: Int?
    public var stepWindow: ClosedRange<Int>?
    /// The epoch the Weights panel and the learning curves read out (nil: the last).
    public var epochCursor: Int?

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
        /// Attribute name columns: the confounding panel's and the data summary's.
        static let confoundingNameWidth = 13
        static let summaryNameWidth = 14
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
            // During preparation the stage's message gives way to the status (a bad config, a file written).
            if case .preparing = s.phase { phase = short }
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

    /// The panel's box (focused or not) titled `title` (default: the panel's) + `extra`; returns its inside.
    static func panelBox(_ p: Panel, _ r: Rect, _ v: ViewState, _ b: inout CellBuffer, title: String? = nil,
                         extra: String = "") -> Rect {
        let focused = v.focus == p && v.view == .dashboard
        b.box(r, title: (title ?? p.title) + extra, style: focused ? v.theme.focusedBorder : v.theme.border, titleStyle: v.theme.title, glyphs: v.glyphs)
        return r.inset(by: 1)
    }
}
