import Foundation

/// Keys are data: one table (`Keymap.bindings`) drives key handling, the help overlay (`?`)
/// and the hint bar, so they cannot disagree, and a different table rebinds everything
/// (Dashboard.docc/Dashboard.md, "Keys are data"). Arrows always work; vim keys are aliases.

/// What the user can ask for. The backend maps a key to an action with `Keymap.action(for:)`
/// and performs it; modal input (typing a prompt prefix) swallows keys before the keymap.
public enum Action: String, CaseIterable, Sendable {
    case stepAll, stepSelected, runPause, selectNext, selectPrevious, focusNext, focusPrevious, zoom
    case viewDashboard, viewCompare, viewData, help, cycleTheme, toggleASCII, writeReport, saveRun
    case resample, editPrompt, quit
    /// Charts: the cursor (a step in the loss chart, an epoch in the others), the loss chart's
    /// step-range zoom, its smoothing and its log scale.
    case cursorLeft, cursorRight, zoomIn, zoomOut, resetZoom, cycleSmoothing, toggleLogScale
    /// The top-right panel: the loss chart or the learning curves.
    case toggleCurves
    /// The Confounding panel's Λ (the bounds it shows): the grid point below / above.
    case lambdaDown, lambdaUp
    /// Lists: scroll the focused list, filter it, jump between matches of the filter.
    case pageUp, pageDown, scrollTop, scrollBottom, filter, nextMatch, previousMatch
    /// The mouse on / off; the screen written as text and SVG.
    case toggleMouse, exportScreen
}

/// A key press as the backend decodes it. Ctrl-C is not a key: it stays a signal (cbreak mode).
public enum Key: Hashable, Sendable {
    case char(Character), up, down, left, right, tab, backTab, enter, escape, backspace, ctrl(Character), f(Int)
    case pageUp, pageDown, home, end

    /// How the key is written in labels: `n`, `space`, `↑`, `Tab`, `Shift-Tab`, `Esc`, `Ctrl-L`, `F1`.
    public var name: String {
        switch self {
        case .char(" "): "space"
        case .char(let c): String(c)
        case .up: "↑"
        case .down: "↓"
        case .left: "←"
        case .right: "→"
        case .tab: "Tab"
        case .backTab: "Shift-Tab"
        case .enter: "Enter"
        case .escape: "Esc"
        case .backspace: "Backspace"
        case .ctrl(let c): "Ctrl-" + String(c).uppercased()
        case .f(let n): "F\(n)"
        case .pageUp: "PgUp"
        case .pageDown: "PgDn"
        case .home: "Home"
        case .end: "End"
        }
    }
}

/// One row of the key table.
public struct KeyBinding: Sendable {
    /// Every key that triggers the action (the first is the main one).
    public var keys: [Key]
    public var action: Action
    /// The keys as shown in the help overlay, e.g. `↓ j`.
    public var label: String
    /// What the action does, for the help overlay, e.g. "step one epoch (all methods)".
    public var help: String
    /// Whether the hint bar shows it (as `hint`).
    public var inHintBar: Bool
    /// The hint bar entry, keys included, e.g. `n step` or `↑↓ select`.
    public var hint: String

    public init(keys: [Key], action: Action, label: String, help: String, inHintBar: Bool = false, hint: String? = nil) {
        self.keys = keys
        self.action = action
        self.label = label
        self.help = help
        self.inHintBar = inHintBar
        self.hint = hint ?? label
    }
}

/// The key table, and the three things derived from it.
public struct Keymap: Sendable {
    public var bindings: [KeyBinding]

    public init(bindings: [KeyBinding]) { self.bindings = bindings }

    /// The default keys (README and `?` list the same).
    public static let standard = Keymap(bindings: [
        KeyBinding(keys: [.char("n")], action: .stepAll, label: "n", help: "step one epoch (all methods)",
                   inHintBar: true, hint: "n step"),
        KeyBinding(keys: [.char("s")], action: .stepSelected, label: "s", help: "step the selected method one epoch"),
        KeyBinding(keys: [.char(" ")], action: .runPause, label: "space", help: "run / pause continuous training",
                   inHintBar: true, hint: "space run/pause"),
        KeyBinding(keys: [.down, .char("j")], action: .selectNext, label: "↓ j", help: "select the next method",
                   inHintBar: true, hint: "↑↓ select"),
        KeyBinding(keys: [.up, .char("k")], action: .selectPrevious, label: "↑ k", help: "select the previous method"),
        KeyBinding(keys: [.tab], action: .focusNext, label: "Tab", help: "focus the next panel",
                   inHintBar: true, hint: "Tab focus"),
        KeyBinding(keys: [.backTab], action: .focusPrevious, label: "Shift-Tab", help: "focus the previous panel"),
        KeyBinding(keys: [.char("z")], action: .zoom, label: "z", help: "zoom the focused panel (again: back)",
                   inHintBar: true, hint: "z zoom"),
        KeyBinding(keys: [.char("1")], action: .viewDashboard, label: "1", help: "dashboard view (panels)",
                   inHintBar: true, hint: "1-3 views"),
        KeyBinding(keys: [.char("2")], action: .viewCompare, label: "2", help: "compare view (all methods x all metrics)"),
        KeyBinding(keys: [.char("3")], action: .viewData, label: "3", help: "data view (dataset, ĝ, confounding)"),
        KeyBinding(keys: [.char("?")], action: .help, label: "?", help: "show / hide this help",
                   inHintBar: true, hint: "? help"),
        KeyBinding(keys: [.char("t")], action: .cycleTheme, label: "t",
                   help: "next theme (\(Theme.builtInNames.joined(separator: ", ")))", inHintBar: true, hint: "t theme"),
        KeyBinding(keys: [.char("a")], action: .toggleASCII, label: "a",
                   help: "ASCII / Unicode drawing (if braille dots or boxes look broken)", inHintBar: true,
                   hint: "a ascii"),
        KeyBinding(keys: [.char("r")], action: .writeReport, label: "r",
                   help: "write a report (metrics.jsonl, summary.json, report.md, report.html)", inHintBar: true,
                   hint: "r report"),
        KeyBinding(keys: [.char("w")], action: .saveRun, label: "w", help: "save the run under runs/",
                   inHintBar: true, hint: "w save"),
        KeyBinding(keys: [.char("g")], action: .resample, label: "g", help: "resample generations (selected method)"),
        KeyBinding(keys: [.char("p")], action: .editPrompt, label: "p",
                   help: "type a prompt prefix for generations (Enter: sample, Esc: cancel)"),
        KeyBinding(keys: [.left], action: .cursorLeft, label: "←",
                   help: "chart cursor back (loss: a step; weights, curves: an epoch)", inHintBar: true, hint: "←→ cursor"),
        KeyBinding(keys: [.right], action: .cursorRight, label: "→", help: "chart cursor forward"),
        KeyBinding(keys: [.char("+"), .char("=")], action: .zoomIn, label: "+ =", help: "loss chart: zoom in on the steps around the cursor"),
        KeyBinding(keys: [.char("-")], action: .zoomOut, label: "-", help: "loss chart: zoom out"),
        KeyBinding(keys: [.char("0")], action: .resetZoom, label: "0", help: "loss chart: every step, cursor off"),
        KeyBinding(keys: [.char("e")], action: .cycleSmoothing, label: "e",
                   help: "loss chart: smoothed over raw / smoothed only / raw only"),
        KeyBinding(keys: [.char("l")], action: .toggleLogScale, label: "l", help: "loss chart: log scale on / off"),
        KeyBinding(keys: [.char("c")], action: .toggleCurves, label: "c",
                   help: "top-right panel: loss chart / learning curves", inHintBar: true, hint: "c curves"),
        KeyBinding(keys: [.char("<")], action: .lambdaDown, label: "<",
                   help: "Confounding panel: bounds at a smaller Λ (less hidden confounding)"),
        KeyBinding(keys: [.char(">")], action: .lambdaUp, label: ">",
                   help: "Confounding panel: bounds at a larger Λ (more hidden confounding)"),
        KeyBinding(keys: [.pageUp], action: .pageUp, label: "PgUp", help: "scroll the focused list up a page"),
        KeyBinding(keys: [.pageDown], action: .pageDown, label: "PgDn", help: "scroll the focused list down a page"),
        KeyBinding(keys: [.home], action: .scrollTop, label: "Home", help: "scroll to the top of the focused list"),
        KeyBinding(keys: [.end], action: .scrollBottom, label: "End", help: "scroll to the end of the focused list"),
        KeyBinding(keys: [.char("/")], action: .filter, label: "/",
                   help: "filter the focused list (Enter: keep, Esc: clear)", inHintBar: true, hint: "/ filter"),
        KeyBinding(keys: [.char("]")], action: .nextMatch, label: "]", help: "next match of the filter"),
        KeyBinding(keys: [.char("[")], action: .previousMatch, label: "[", help: "previous match of the filter"),
        KeyBinding(keys: [.char("M")], action: .toggleMouse, label: "M",
                   help: "mouse on / off (off: the terminal's own text selection works)"),
        KeyBinding(keys: [.char("x")], action: .exportScreen, label: "x",
                   help: "export the screen as text and SVG (into the run directory)", inHintBar: true, hint: "x export"),
        KeyBinding(keys: [.char("q"), .escape], action: .quit, label: "q Esc", help: "quit (the terminal is restored)",
                   inHintBar: true, hint: "q quit"),
    ])

    /// The keys of `cpo-tui watch`, which shows a run another program writes: everything that
    /// would train, sample, save or write a report is left out, and the hint bar says read-only.
    public static let readOnly = standard.withoutTrainingKeys()

    /// This keymap as `cpo-tui watch` (and, with `showing` "comparing", `cpo-tui compare`) uses
    /// it (see `readOnly`): the training keys left out, and the hint bar saying what is shown.
    public func withoutTrainingKeys(showing: String = "watching") -> Keymap {
        let training: Set<Action> = [.stepAll, .stepSelected, .runPause, .writeReport, .saveRun, .resample, .editPrompt]
        return Keymap(bindings: bindings.compactMap { b in
            if training.contains(b.action) { return nil }
            guard b.action == .help else { return b }
            var help = b
            help.hint = "read-only (\(showing))  " + b.hint
            help.help = b.help + " (\(showing): training keys are off)"
            return help
        })
    }

    /// The action bound to `key` (the first binding that lists it), or nil.
    public func action(for key: Key) -> Action? {
        bindings.first { $0.keys.contains(key) }?.action
    }

    /// The first binding for `action`, or nil if it is unbound.
    public func binding(for action: Action) -> KeyBinding? {
        bindings.first { $0.action == action }
    }

    /// Keys listed by more than one binding (or twice in one): a valid keymap has none.
    public var duplicateKeys: [Key] {
        var seen: Set<Key> = [], dup: [Key] = []
        for b in bindings {
            for k in b.keys {
                if seen.contains(k) {
                    if !dup.contains(k) { dup.append(k) }
                } else {
                    seen.insert(k)
                }
            }
        }
        return dup
    }

    /// Actions no binding triggers.
    public var unboundActions: [Action] {
        Action.allCases.filter { a in !bindings.contains { $0.action == a && !$0.keys.isEmpty } }
    }

    /// One line of hints, at most `width` characters: the `inHintBar` entries in table order,
    /// two spaces apart. When they do not all fit, `? help` and `q quit` are kept first, then
    /// the others in table order as long as they fit. With `.ascii` glyphs, arrows are spelled
    /// out (`Up/Down select`).
    public func hintBar(width: Int, glyphs: Glyphs = .unicode) -> String {
        guard width > 0 else { return "" }
        let entries = bindings.enumerated().filter { $0.element.inHintBar }.map { (index: $0.offset, text: Keymap.text($0.element.hint, glyphs)) }
        let essential: Set<Action> = [.help, .quit]
        let order = entries.filter { essential.contains(bindings[$0.index].action) } +
            entries.filter { !essential.contains(bindings[$0.index].action) }
        var chosen: Set<Int> = [], used = 0
        for e in order {
            let cost = e.text.count + (chosen.isEmpty ? 0 : 2)
            if used + cost <= width {
                chosen.insert(e.index)
                used += cost
            }
        }
        let line = entries.filter { chosen.contains($0.index) }.map(\.text).joined(separator: "  ")
        return String(line.prefix(width))
    }

    /// The help overlay: one line per binding, the key label in a column, then what it does.
    public func helpLines(glyphs: Glyphs = .unicode) -> [String] {
        let labels = bindings.map { Keymap.text($0.label, glyphs) }
        let w = labels.map(\.count).max() ?? 0
        return zip(labels, bindings).map { label, b in
            label + String(repeating: " ", count: w - label.count + 2) + b.help
        }
    }

    /// `s` with arrows spelled out for ASCII mode.
    static func text(_ s: String, _ glyphs: Glyphs) -> String {
        guard glyphs == .ascii else { return s }
        return s.replacingOccurrences(of: "↑↓", with: "Up/Down").replacingOccurrences(of: "↑", with: "Up").replacingOccurrences(of: "↓", with: "Down")
            .replacingOccurrences(of: "←", with: "Left").replacingOccurrences(of: "→", with: "Right")
    }
}
