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
    /// The selected method (an index into the snapshot's methods); nil until the user moves
    /// it, which selects the first causal method (`DashboardView.initialSelection`).
    public var selectedMethod: Int?
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
    /// Where each list is scrolled to, its filter, and the filter being typed (ListState.swift).
    public var lists = ListsState()
    /// The Λ the Confounding panel shows the bounds at: an index into `sensitivityGrid`
    /// (`<` `>` step it). It starts at Λ = 1.5, each propensity off by up to half again either
    /// way: the first grid point beyond what rounding or a mild misfit of estimated propensities
    /// gives (1.1, 1.25), yet small enough that a gain worth reporting usually survives it, so
    /// the bars start where they tell methods apart.
    public var sensitivityLambdaIndex = ViewState.sensitivityGrid.firstIndex(of: 1.5) ?? 0
    public init() {}

    /// The values of Λ the Confounding panel steps through: the grid every evaluation's
    /// analysis carries (`SensitivityAnalysis.bounds`).
    public static let sensitivityGrid = Sensitivity.defaultGrid

    /// The Λ the Confounding panel shows (`sensitivityLambdaIndex`, clamped to the grid).
    public var sensitivityLambda: Double {
        let grid = Self.sensitivityGrid
        return grid[min(max(0, sensitivityLambdaIndex), grid.count - 1)]
    }
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
        /// The run directory in the header is cut from the left, but not below this; the
        /// source likewise.
        static let minDirectoryWidth = 12
        static let minSourceWidth = 10
        /// A phase too long for the header keeps at least this many cells (cut at the edge).
        static let minPhaseWidth = 24
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
        let body = bodyRect(width: width, height: height)
        switch v.view {
        case .dashboard: dashboard(s, v, body, &b)
        case .compare: compare(s, v, body, &b)
        case .data: dataView(s, v, body, &b)
        }
        footer(v, &b)
        if v.showHelp { help(s, v, &b) }
        return b
    }

    /// Where the views go on a `width` x `height` screen: between the header and the footer.
    static func bodyRect(width: Int, height: Int) -> Rect { Rect(x: 0, y: 1, width: width, height: height - 2) }

    /// The selected method's row (clamped to the list), nil when there are no methods.
    static func selectedRow(_ s: LabSnapshot, _ v: ViewState) -> Int? {
        s.methods.isEmpty ? nil : min(max(0, v.selectedMethod ?? initialSelection(s)), s.methods.count - 1)
    }

    /// The method selected until the user moves the selection: the first of the paper's causal
    /// methods (trained, not an association baseline, weighting logged rows: CPO, DR-CPO), else
    /// the first other causal one (OO-RLHF), else the first trained, else the first. FT's
    /// weights are all 1, so starting there shows a single spike.
    public static func initialSelection(_ s: LabSnapshot) -> Int {
        let methods = s.methods.map(\.method)
        let causal: (Method) -> Bool = { $0.trains && !$0.isAssociationBaseline }
        return methods.firstIndex { causal($0) && $0.spec.readsRows } ?? methods.firstIndex(where: causal)
            ?? methods.firstIndex(where: \.trains) ?? 0
    }

    static func selected(_ s: LabSnapshot, _ v: ViewState) -> MethodSnapshot? {
        selectedRow(s, v).map { s.methods[$0] }
    }

    // MARK: - frame

    static func header(_ s: LabSnapshot, _ v: ViewState, _ b: inout CellBuffer) {
        let t = v.theme, width = b.width
        let failed: Bool = { if case .failed = s.phase { return true }; return false }()
        let phase = headerPhase(s, v)
        let place = headerLocation(s, v)
        // Short of room, "world:river-cleanup" is "river-cleanup", "csv:data/x.csv" "data/x.csv".
        let source = s.sourceLabel.isEmpty ? "…" : s.sourceLabel
        let shortSource = source.split(separator: ":", maxSplits: 1).last.map(String.init) ?? source
        // The last save, right-aligned (one space from the edge), always shows.
        let save: (text: String, style: Style)? = s.runDirectory == nil ? nil : s.lastSave.map {
            $0.succeeded ? ("saved " + clock($0.time, v.timeZone), t.title) : ("SAVE FAILED", t.bad)
        }

        /// What one arrangement shows; `fit` says whether it fits, with the directory and the
        /// source cut (from the left, their ends name the run and the data) where asked.
        struct Choice {
            var app = true, seed = true, fullPlace = true
            var source = 2   // 2: whole, 1: without its kind, 0: that, cut from the left
            var dir: Int = 2   // 2: whole, 1: cut, 0: none
            /// The hints shown (indices into the phase's hints, in order).
            var hints: [Int]
        }
        /// The title and the phase of `c`, with the source written as `sourceText` if given.
        func left(_ c: Choice, sourceText: String? = nil) -> (title: String, phase: String) {
            var parts = c.app ? ["cpo-tui"] : []
            parts.append(sourceText ?? (c.source == 2 ? source : shortSource))
            if c.seed { parts.append("seed \(s.seed)") }
            parts.append(c.fullPlace ? place.full : place.short)
            return (" " + parts.joined(separator: " | ") + " | ", phase.text(c.hints))
        }
        /// Width of the right part with its margin (0 when empty): the directory, the save.
        func rightWidth(_ dir: String?) -> Int {
            let parts = [dir?.count, save?.text.count].compactMap { $0 }
            return parts.isEmpty ? 0 : parts.reduce(0, +) + 2 * (parts.count - 1) + 1
        }
        func cut(_ text: String, _ cells: Int) -> String {
            text.count <= cells ? text : String(v.glyphs.ellipsis) + String(text.suffix(cells - 1))
        }
        /// The texts of `c` if they fit: (title, phase, directory shown).
        func fit(_ c: Choice) -> (String, String, String?)? {
            var (title, text) = left(c)
            if c.source == 0 {
                let (bare, _) = left(c, sourceText: "")
                let cells = width - bare.count - text.count - (rightWidth(nil) > 0 ? 2 + rightWidth(nil) : 0)
                guard cells >= min(Layout.minSourceWidth, shortSource.count) else { return nil }
                title = left(c, sourceText: cut(shortSource, cells)).title
            }
            var dir: String? = c.dir == 2 ? s.runDirectory : nil
            if c.dir == 1, let whole = s.runDirectory {
                let cells = width - title.count - text.count - 3 - (save.map { $0.text.count + 2 } ?? 0)
                guard cells >= Layout.minDirectoryWidth else { return nil }
                dir = cut(whole, cells)
            }
            let right = rightWidth(dir)
            return title.count + text.count + (right > 0 ? 2 + right : 0) <= width ? (title, text, dir) : nil
        }

        // What gives way, in order: the run directory (cut, then dropped), the hints beyond two,
        // the seed, the hints beyond one, the view's name, the source's kind, the program's name,
        // the source's start (it is cut from the left), the first hint (for a shorter one), the
        // last hint. When even that does not fit (a long progress message), the fullest title that
        // leaves the phase `minPhaseWidth` cells is kept and the phase is cut at the edge.
        var c = Choice(hints: Array(0..<phase.hints))
        var choices: [Choice] = []
        if s.runDirectory != nil {
            choices.append(c)
            c.dir = 1
            choices.append(c)
            c.dir = 0
        }
        choices.append(c)
        while c.hints.count > 2 { c.hints.removeLast(); choices.append(c) }
        c.seed = false; choices.append(c)
        while c.hints.count > 1 { c.hints.removeLast(); choices.append(c) }
        c.fullPlace = false; choices.append(c)
        c.source = 1; choices.append(c)
        c.app = false; choices.append(c)
        c.source = 0; choices.append(c)
        for other in (0..<phase.hints).dropFirst() { c.hints = [other]; choices.append(c) }
        if !c.hints.isEmpty { c.hints = []; choices.append(c) }

        let shown: (title: String, phase: String, dir: String?)
        if let first = choices.lazy.compactMap(fit).first {
            shown = first
        } else {
            let right = rightWidth(nil) > 0 ? 2 + rightWidth(nil) : 0
            func title(_ c: Choice) -> (String, String) {
                guard c.source == 0 else { return left(c) }
                let bare = left(c, sourceText: "").title
                return left(c, sourceText: cut(shortSource, max(Layout.minSourceWidth, width - bare.count - Layout.minPhaseWidth - right)))
            }
            let (t, p) = choices.lazy.filter { $0.dir == 0 }.map(title)
                .first { $0.0.count + Layout.minPhaseWidth + right <= width } ?? title(c)
            shown = (t, p, nil)
        }
        b.fill(Rect(x: 0, y: 0, width: b.width, height: 1), style: t.title)
        b.put(shown.title, x: 0, y: 0, style: t.title)
        let right = rightWidth(shown.dir)
        let phaseRoom = b.width - shown.title.count - (right > 0 ? 2 + right : 0)
        b.put(Widgets.truncate(shown.phase, width: phaseRoom, glyphs: v.glyphs), x: shown.title.count, y: 0,
              style: failed ? t.bad : t.title)
        var x = b.width - right
        if let d = shown.dir {
            b.put(d, x: x, y: 0, style: t.title)
            x += d.count + 2
        }
        if let save { b.put(save.text, x: x, y: 0, style: save.style) }
    }

    /// What the user is looking at: "dashboard › Weights (CPO)", "data › Training rows"; short,
    /// without the view's name ("Weights (CPO)").
    static func headerLocation(_ s: LabSnapshot, _ v: ViewState) -> (full: String, short: String) {
        let arrow = v.glyphs == .ascii ? ">" : "›"
        let what: String
        switch v.view {
        case .dashboard:
            let method = selected(s, v).map { " (\($0.method.rawValue))" } ?? ""
            switch v.focus {
            case .loss: what = v.showCurves ? "Curves" : "Loss"
            case .methods, .weights, .confounding, .generations: what = v.focus.title + method
            }
            let zoom = v.zoomed ? " zoomed" : ""
            return ("dashboard \(arrow) " + what + zoom, what + zoom)
        case .compare:
            return ("compare", "compare")
        case .data:
            what = v.lists.dataFocus.title
            return ("data \(arrow) " + what, what)
        }
    }

    /// The phase and what to press next, with as many hints as fit: `text(k)` with the hints
    /// `k` ("ready — n: train one epoch"); `text([])` is the phase alone. Keys
    /// are named as the key map binds them; unbound actions (a watched run) give no hint.
    struct HeaderPhase {
        var phase: String
        var hintTexts: [String]
        var status: String
        var hints: Int { hintTexts.count }

        func text(_ k: [Int]) -> String {
            let h = k.map { hintTexts[$0] }
            return phase + (h.isEmpty ? "" : " — " + h.joined(separator: ", ")) + (status.isEmpty ? "" : " | " + status)
        }
    }

    static func headerPhase(_ s: LabSnapshot, _ v: ViewState) -> HeaderPhase {
        func hint(_ a: Action, _ text: String) -> String? {
            v.keymap.binding(for: a)?.keys.first.map { Keymap.text($0.name, v.glyphs) + ": " + text }
        }
        let trained = s.methods.contains { $0.method.trains && $0.epoch > 0 }
        // Where the results are, once there are some (not the view already shown).
        var results: [String?] = []
        if trained {
            if v.view == .dashboard && !v.showCurves { results.append(hint(.toggleCurves, "learning curves")) }
            if v.view != .compare { results.append(hint(.viewCompare, "compare")) }
            if v.view != .dashboard { results.append(hint(.viewDashboard, "dashboard")) }
        }
        let phase: String, hints: [String?]
        switch s.phase {
        case let .preparing(stage, fraction, message):
            // The stage's message gives way to a status (a bad config, a file written).
            phase = "preparing: \(stage.rawValue) \(Int((fraction * 100).rounded()))%" + (v.status.isEmpty ? " — \(message)" : "")
            hints = []
        case .idle:
            phase = "ready"
            hints = trained ? results + [hint(.stepAll, "next epoch")]
                            : [hint(.stepAll, "train one epoch"), hint(.runPause, "run")]
        case .running:
            phase = "running"
            hints = [hint(.runPause, "pause")] + results
        case .finished:
            phase = "finished"
            hints = results + [hint(.writeReport, "report")]
        case .failed(let m):
            phase = "FAILED: \(m)"
            hints = []
        }
        // A status (a file written, a setting changed) answers the last key: it takes the hints' place.
        return HeaderPhase(phase: phase, hintTexts: v.status.isEmpty ? hints.compactMap { $0 } : [], status: v.status)
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
        } else if let kind = v.lists.editing {
            b.put("filter \(kind.title) (Enter: keep, Esc: clear): " + v.lists[kind].filter + "_", x: 0, y: b.height - 1,
                  style: t.accent, maxWidth: b.width)
        } else {
            b.put(v.keymap.hintBar(width: b.width, glyphs: v.glyphs), x: 0, y: b.height - 1, style: t.hint, maxWidth: b.width)
        }
    }

    /// The help overlay on a `width` x `height` screen: its box (as tall as every key needs, at
    /// most the screen less two rows), and the rect of its lines.
    static func helpArea(_ v: ViewState, width: Int, height: Int) -> (box: Rect, lines: Rect) {
        let lines = v.keymap.helpLines(glyphs: v.glyphs)
        let w = min(width - 4, (lines.map(\.count).max() ?? 20) + 4)
        let h = min(height - 2, lines.count + 2)
        let r = Rect(width: width, height: height).centered(width: w, height: h)
        return (r, Rect(x: r.x + 2, y: r.y + 1, width: w - 3, height: h - 2))
    }

    /// The keys, one per line; when they do not all fit, PgUp/PgDn/Home/End scroll them and `/`
    /// filters them (the title says which are shown).
    static func help(_ s: LabSnapshot, _ v: ViewState, _ b: inout CellBuffer) {
        let t = v.theme
        let lines = v.keymap.helpLines(glyphs: v.glyphs)
        let (r, area) = helpArea(v, width: b.width, height: b.height)
        let win = listWindow(.help, s, v, width: area.width, height: area.height)
        let p = v.lists[.help]
        let scrolls = win.maxTop > 0 || !p.filter.isEmpty
        b.fill(r, style: t.text)
        b.box(r, title: "keys" + listTitle(win, p) + (scrolls ? " (? to close, PgUp/PgDn: scroll)" : " (? to close)"),
              style: t.focusedBorder, titleStyle: t.title, glyphs: v.glyphs)
        drawList(win, top: p.top, highlight: highlightedMatch(.help, win, v), in: area, &b, v) { k in ([lines[win.items[k]]], t.text) }
    }

    /// The panel's box (focused or not) titled `title` (default: the panel's) + `extra`; returns its inside.
    static func panelBox(_ p: Panel, _ r: Rect, _ v: ViewState, _ b: inout CellBuffer, title: String? = nil,
                         extra: String = "") -> Rect {
        let focused = v.focus == p && v.view == .dashboard
        b.box(r, title: (title ?? p.title) + extra, style: focused ? v.theme.focusedBorder : v.theme.border, titleStyle: v.theme.title, glyphs: v.glyphs)
        return r.inset(by: 1)
    }
}
