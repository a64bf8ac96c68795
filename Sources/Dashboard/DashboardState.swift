import CausalPO
import Lab

/// What the shell must do after a key, beyond the state's own change.
public enum DashboardEffect: Hashable, Sendable {
    /// Hand a command to the lab session (train, pause, sample, save, write the report).
    case send(LabCommand)
    /// Leave the dashboard.
    case quit
    /// Write the screen as it is now (plain text and SVG) into the run directory.
    case exportScreen
    /// Turn the terminal's mouse reporting on or off (`ViewState.mouse` says which).
    case setMouse(Bool)
}

/// The dashboard's interactive state, as a value (bottom's app state): what is on screen
/// (`view`, the input of `DashboardView.render`), the theme chosen and the themes `t` cycles
/// through, the terminal's colours, and whether the user asked to quit. Keys change it only
/// through `handle(_:snapshot:)` and `apply(_:snapshot:)`, which return what the shell must
/// do; nothing here touches a terminal or a session, so tests drive it directly.
public struct DashboardState: Sendable {
    /// What `DashboardView.render` draws; its `theme` is `theme` degraded to `colors`.
    public var view: ViewState
    /// The themes `t` cycles through, in order (the built-in ones, or their files).
    public var themes: [Theme]
    /// The theme chosen, as written (before degrading it to the terminal's colours).
    public private(set) var theme: Theme
    /// The colours the terminal shows (see `Theme.degraded(toColors:)`).
    public private(set) var colors: Int
    /// Where `r` writes the report.
    public var reportDirectory: String
    /// Set by the quit key; the loop ends.
    public private(set) var quitRequested = false
    /// The screen's size when the last frame was drawn (the loop keeps it up to date): what a
    /// page of a list is, and where the mouse points.
    public var screen = TerminalSize(width: 120, height: 40)

    /// A state showing the dashboard view in `theme`, degraded to `colors`.
    public init(theme: Theme = .dark, themes: [Theme] = Theme.builtIn, colors: Int = 256, glyphs: Glyphs = .unicode,
                reportDirectory: String = "reports/latest") {
        view = ViewState()
        view.glyphs = glyphs
        self.themes = themes
        self.theme = theme
        self.colors = colors
        self.reportDirectory = reportDirectory
        view.theme = theme.degraded(toColors: colors)
    }

    // MARK: Input

    /// One key press: while a prompt prefix or a filter is being typed the key edits it;
    /// otherwise the keymap turns it into an action (unbound keys do nothing).
    public mutating func handle(_ key: Key, snapshot: LabSnapshot) -> [DashboardEffect] {
        if view.promptDraft != nil { return editPrompt(key, snapshot: snapshot) }
        if view.lists.editing != nil { return editFilter(key, snapshot: snapshot) }
        guard let action = view.keymap.action(for: key) else { return [] }
        return apply(action, snapshot: snapshot)
    }

    /// Performs `action` on the state; returns what the shell must do. `snapshot` is what the
    /// user sees (the methods to select among, whether training runs).
    public mutating func apply(_ action: Action, snapshot: LabSnapshot) -> [DashboardEffect] {
        view.status = ""
        let selected = DashboardView.selected(snapshot, view)?.method
        switch action {
        case .quit:
            quitRequested = true
            return [.quit]
        case .stepAll: return [.send(.stepEpoch(nil))]
        case .stepSelected: return selected.map { [.send(.stepEpoch($0))] } ?? []
        case .runPause: return [.send(snapshot.phase == .running ? .pause : .run)]
        case .selectNext, .selectPrevious:
            let step = action == .selectNext ? 1 : -1
            // The data view and the help overlay show no method list: the arrows scroll instead.
            if let list = view.currentList, list != .methods && list != .generations {
                scroll(list, by: step, snapshot: snapshot)
            } else {
                moveSelection(by: step, snapshot: snapshot)
            }
        case .focusNext, .focusPrevious:
            if view.view == .data {
                switchDataList(snapshot: snapshot)
            } else {
                moveFocus(by: action == .focusNext ? 1 : -1)
            }
        case .zoom: view.zoomed.toggle()
        case .viewDashboard: view.view = .dashboard
        case .viewCompare: view.view = .compare
        case .viewData: view.view = .data
        case .help: view.showHelp.toggle()
        case .cycleTheme: cycleTheme()
        case .toggleASCII: view.glyphs = view.glyphs == .ascii ? .unicode : .ascii
        case .writeReport:
            view.status = "writing the report to \(reportDirectory)/"
            return [.send(.writeReport(reportDirectory))]
        case .saveRun:
            view.status = snapshot.runDirectory.map { "saving the run to \($0)/" } ?? "this run is not saved (--no-save)"
            return [.send(.save)]
        case .resample: return selected.map { [.send(.generate($0, prefix: ""))] } ?? []
        case .editPrompt: view.promptDraft = ""
        case .cursorLeft, .cursorRight, .zoomIn, .zoomOut, .resetZoom, .cycleSmoothing, .toggleLogScale:
            applyChart(action, snapshot: snapshot)
        case .toggleCurves: view.showCurves.toggle()
        case .lambdaDown, .lambdaUp: stepLambda(by: action == .lambdaUp ? 1 : -1)
        case .pageUp, .pageDown, .scrollTop, .scrollBottom, .filter, .nextMatch, .previousMatch:
            applyList(action, snapshot: snapshot)
        case .toggleMouse:
            view.mouse.toggle()
            view.status = view.mouse ? "mouse on" : "mouse off (the terminal's text selection works)"
            return [.setMouse(view.mouse)]
        case .exportScreen: return [.exportScreen]
        }
        return []
    }

    // MARK: Named changes

    /// The data view's other list: the messages after the rows and back (the rows only, while
    /// the screen is too narrow to show the messages).
    public mutating func switchDataList(snapshot: LabSnapshot) {
        var other = view
        other.lists.dataFocus = view.lists.dataFocus == .rows ? .messages : .rows
        if DashboardView.listArea(other.lists.dataFocus, snapshot, other, size: screen) != nil || other.lists.dataFocus == .rows {
            view.lists.dataFocus = other.lists.dataFocus
        }
    }

    /// The Confounding panel's Λ `steps` grid points further (`Sensitivity.defaultGrid`), held
    /// at the grid's ends; the status names the Λ shown.
    public mutating func stepLambda(by steps: Int) {
        let grid = ViewState.sensitivityGrid
        view.sensitivityLambdaIndex = min(max(0, view.sensitivityLambdaIndex + steps), grid.count - 1)
        let end = view.sensitivityLambdaIndex == 0 ? " (the smallest)" : view.sensitivityLambdaIndex == grid.count - 1 ? " (the largest)" : ""
        view.status = "bounds at Λ = " + DashboardView.lambdaText(view.sensitivityLambda) + end
    }

    /// Focus `steps` panels further in `Panel` order, wrapping around.
    public mutating func moveFocus(by steps: Int) {
        let panels = Panel.allCases
        let i = panels.firstIndex(of: view.focus) ?? 0
        view.focus = panels[((i + steps) % panels.count + panels.count) % panels.count]
    }

    /// The theme after the current one in `themes` (the first after a theme not in the list),
    /// degraded to the terminal's colours.
    public mutating func cycleTheme() {
        guard !themes.isEmpty else { return }
        let i = (themes.firstIndex { $0.name == theme.name } ?? -1) + 1
        choose(themes[i % themes.count])
        view.status = "theme \(view.theme.name)"
    }

    /// Draws in `theme` from now on, degraded to the terminal's colours.
    public mutating func choose(_ theme: Theme) {
        self.theme = theme
        view.theme = theme.degraded(toColors: colors)
    }

    /// The terminal shows `colors` colours: the theme is degraded to them.
    public mutating func setColors(_ colors: Int) {
        self.colors = colors
        view.theme = theme.degraded(toColors: colors)
    }

    /// A key while typing a prompt prefix: Enter samples the selected method's continuations
    /// of it (and focuses the generations), Esc cancels, Backspace deletes, characters type.
    mutating func editPrompt(_ key: Key, snapshot: LabSnapshot) -> [DashboardEffect] {
        guard var draft = view.promptDraft else { return [] }
        switch key {
        case .enter:
            view.promptDraft = nil
            view.focus = .generations
            return DashboardView.selected(snapshot, view).map { [.send(.generate($0.method, prefix: draft))] } ?? []
        case .escape: view.promptDraft = nil
        case .backspace:
            if !draft.isEmpty { draft.removeLast() }
            view.promptDraft = draft
        case .char(let c):
            draft.append(c)
            view.promptDraft = draft
        default: break
        }
        return []
    }
}
