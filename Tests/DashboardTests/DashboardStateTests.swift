import CausalPO
import Dashboard
import Foundation
import Lab
import Testing

/// A snapshot as a session publishes it before training: FT, CPO and DR-CPO, ready.
enum Lab3 {
    static let methods: [CausalPO.Method] = [.ft, .cpo, .drCPO]

    static func snapshot(phase: LabPhase = .idle, runDirectory: String? = "runs/test") -> LabSnapshot {
        var config = LabConfig()
        config.methods = methods
        var s = LabSession(config: config).snapshot()
        s.phase = phase
        s.runDirectory = runDirectory
        return s
    }
}

/// Every colour a theme or a frame uses.
func colours(_ t: Theme) -> [Color] {
    [t.text, t.dim, t.border, t.focusedBorder, t.title, t.header, t.selected, t.good, t.bad, t.warning, t.accent, t.hint]
        .flatMap { [$0.fg, $0.bg] } + t.series
}

/// Keys and actions on the dashboard's state: what changes and what the shell is asked to do.
@Suite struct DashboardStateTests {
    let snap = Lab3.snapshot()

    func press(_ keys: [Key], _ state: inout DashboardState, snapshot: LabSnapshot? = nil) -> [DashboardEffect] {
        keys.flatMap { state.handle($0, snapshot: snapshot ?? snap) }
    }

    @Test func trainingKeysSendCommands() {
        var s = DashboardState()
        #expect(press([.char("n")], &s) == [.send(.stepEpoch(nil))])
        // The selection starts on the first causal method (CPO), not on FT.
        #expect(press([.char("s")], &s) == [.send(.stepEpoch(.cpo))])
        #expect(press([.char(" ")], &s) == [.send(.run)])
        #expect(press([.char(" ")], &s, snapshot: Lab3.snapshot(phase: .running)) == [.send(.pause)])
        #expect(press([.char("g")], &s) == [.send(.generate(.cpo, prefix: ""))])
        // Without methods there is nothing to step or sample alone.
        var empty = snap
        empty.methods = []
        #expect(press([.char("s"), .char("g")], &s, snapshot: empty).isEmpty)
    }

    @Test func selectionStaysInTheList() {
        var s = DashboardState()
        #expect(press([.down, .char("j"), .down, .down], &s).isEmpty)
        #expect(s.view.selectedMethod == 2)
        _ = press([.up, .char("k"), .up], &s)
        #expect(s.view.selectedMethod == 0)
    }

    @Test func focusWrapsAroundThePanels() {
        var s = DashboardState()
        _ = press([.backTab], &s)
        #expect(s.view.focus == .generations)
        _ = press([.tab, .tab], &s)
        #expect(s.view.focus == .loss)
        s.moveFocus(by: Panel.allCases.count * 3 + 1)
        #expect(s.view.focus == .weights)
    }

    @Test func viewsZoomHelpAndASCII() {
        var s = DashboardState()
        _ = press([.char("2")], &s)
        #expect(s.view.view == .compare)
        _ = press([.char("3")], &s)
        #expect(s.view.view == .data)
        _ = press([.char("1"), .char("z"), .char("?"), .char("a")], &s)
        #expect(s.view.view == .dashboard && s.view.zoomed && s.view.showHelp && s.view.glyphs == .ascii)
        _ = press([.char("z"), .char("?"), .char("a")], &s)
        #expect(!s.view.zoomed && !s.view.showHelp && s.view.glyphs == .unicode)
    }

    @Test func quitKeys() {
        for key in [Key.char("q"), .escape] {
            var s = DashboardState()
            #expect(!s.quitRequested)
            #expect(press([key], &s) == [.quit])
            #expect(s.quitRequested)
        }
    }

    @Test func saveAndReportSayWhereTheyWrite() {
        var s = DashboardState(reportDirectory: "reports/x")
        #expect(press([.char("w")], &s) == [.send(.save)])
        #expect(s.view.status == "saving the run to runs/test/")
        #expect(press([.char("w")], &s, snapshot: Lab3.snapshot(runDirectory: nil)) == [.send(.save)])
        #expect(s.view.status == "this run is not saved (--no-save)")
        // An unbound key leaves the message; a bound one clears it.
        #expect(press([.char("u")], &s).isEmpty)
        #expect(s.view.status == "this run is not saved (--no-save)")
        #expect(press([.char("r")], &s) == [.send(.writeReport("reports/x"))])
        #expect(s.view.status == "writing the report to reports/x/")
        _ = press([.char("1")], &s)
        #expect(s.view.status.isEmpty)
    }

    @Test func typingAPromptPrefixSwallowsKeys() {
        var s = DashboardState()
        _ = press([.char("p")], &s)
        #expect(s.view.promptDraft == "")
        // q, n and space are text now, not quit, step and run.
        #expect(press([.char("q"), .char("n"), .char(" "), .char("x"), .backspace, .up], &s).isEmpty)
        #expect(s.view.promptDraft == "qn " && !s.quitRequested)
        #expect(press([.enter], &s) == [.send(.generate(.cpo, prefix: "qn "))])
        #expect(s.view.promptDraft == nil && s.view.focus == .generations)
        _ = press([.char("p"), .char("a"), .escape], &s)
        #expect(s.view.promptDraft == nil && !s.quitRequested)
    }

    // MARK: Themes

    @Test func themeKeyCyclesTheBuiltInThemes() {
        var s = DashboardState()
        var names: [String] = []
        for _ in 0..<5 {
            #expect(press([.char("t")], &s).isEmpty)
            names.append(s.view.theme.name)
            #expect(s.view.status == "theme \(s.view.theme.name)")
        }
        #expect(names == ["light", "high-contrast", "monochrome", "dark", "light"])
        #expect(s.view.theme == .light)
        // A theme from a file of another name goes on with the first of the list.
        var mine = Theme.light
        mine.name = "mine"
        var custom = DashboardState(theme: mine)
        _ = press([.char("t")], &custom)
        #expect(custom.view.theme == .dark)
    }

    /// On an 8-colour terminal every theme `t` picks is degraded to 8 colours (it used to load
    /// the 256-colour theme), and without colours to none.
    @Test func themeKeyKeepsToTheTerminalsColours() {
        for colors in [8, 0] {
            var s = DashboardState(colors: colors)
            #expect(s.view.theme == Theme.dark.degraded(toColors: colors))
            for expected in Theme.builtIn.dropFirst() {
                _ = press([.char("t")], &s)
                #expect(s.view.theme == expected.degraded(toColors: colors))
                #expect(s.theme == expected)
                #expect(colours(s.view.theme).allSatisfy { ($0.index ?? -1) < colors }, "\(expected.name) on \(colors) colours")
            }
        }
        var s = DashboardState(theme: .light)
        s.setColors(8)
        #expect(s.view.theme == Theme.light.degraded(toColors: 8))
    }

    @Test func themesAreFoundByNameWithOrWithoutTheirFiles() throws {
        let folder = ThemeTests.themesDirectory
        for t in Theme.builtIn {
            #expect(try Theme.find(t.name, folders: []) == t, "\(t.name) has no built-in fallback")
            #expect(try Theme.find(t.name, folders: ["/nonexistent", folder]) == t)
            #expect(try Theme.find(folder + "/\(t.name).toml", folders: []) == t)
        }
        #expect(try Theme.find("nope", folders: [folder]) == nil)
        #expect(Theme.builtInNames == ["dark", "light", "high-contrast", "monochrome"])
        // The help line of `t` lists the same names.
        let help = Keymap.standard.binding(for: .cycleTheme)?.help ?? ""
        #expect(help == "next theme (dark, light, high-contrast, monochrome)")
    }
}
