import Testing
import Dashboard

@Suite struct KeymapTests {
    let map = Keymap.standard

    @Test func noKeyIsBoundTwice() {
        let keys = map.bindings.flatMap(\.keys)
        #expect(Set(keys).count == keys.count)
        #expect(map.duplicateKeys.isEmpty)
    }

    @Test func duplicateKeysAreDetected() {
        var m = map
        m.bindings.append(KeyBinding(keys: [.char("u"), .char("n")], action: .quit, label: "u n", help: "again"))
        #expect(m.duplicateKeys == [.char("n")])
        #expect(m.action(for: .char("n")) == .stepAll)   // the first binding wins
    }

    @Test func everyActionIsBoundAndReachable() {
        #expect(map.unboundActions.isEmpty)
        for a in Action.allCases {
            let b = map.binding(for: a)
            #expect(b != nil, "\(a)")
            for k in b?.keys ?? [] { #expect(map.action(for: k) == a, "\(k)") }
        }
        var m = map
        m.bindings.removeAll { $0.action == .resample }
        #expect(m.unboundActions == [.resample])
    }

    @Test func standardKeys() {
        let expected: [(Key, Action)] = [
            (.char("n"), .stepAll), (.char("s"), .stepSelected), (.char(" "), .runPause),
            (.down, .selectNext), (.char("j"), .selectNext), (.up, .selectPrevious), (.char("k"), .selectPrevious),
            (.tab, .focusNext), (.backTab, .focusPrevious), (.char("z"), .zoom), (.char("1"), .viewDashboard),
            (.char("2"), .viewCompare), (.char("3"), .viewData), (.char("?"), .help), (.char("t"), .cycleTheme),
            (.char("a"), .toggleASCII), (.char("r"), .writeReport), (.char("w"), .saveRun), (.char("g"), .resample),
            (.char("p"), .editPrompt), (.char("q"), .quit), (.escape, .quit),
            (.left, .cursorLeft), (.right, .cursorRight), (.char("+"), .zoomIn), (.char("="), .zoomIn), (.char("-"), .zoomOut),
            (.char("0"), .resetZoom), (.char("e"), .cycleSmoothing), (.char("l"), .toggleLogScale), (.char("c"), .toggleCurves),
            (.pageUp, .pageUp), (.pageDown, .pageDown), (.home, .scrollTop), (.end, .scrollBottom), (.char("/"), .filter),
            (.char("]"), .nextMatch), (.char("["), .previousMatch), (.char("M"), .toggleMouse), (.char("x"), .exportScreen),
        ]
        for (k, a) in expected { #expect(map.action(for: k) == a, "\(k)") }
        #expect(map.action(for: .char("u")) == nil)
        #expect(map.action(for: .char("N")) == nil)
        #expect(map.action(for: .ctrl("c")) == nil)      // Ctrl-C stays a signal
    }

    @Test func labelsNameTheirKeys() {
        for b in map.bindings {
            for k in b.keys { #expect(b.label.contains(k.name), "\(b.label) lacks \(k.name)") }
            if b.inHintBar { #expect(!b.hint.isEmpty) }
            #expect(!b.help.isEmpty)
        }
    }

    @Test func hintBarFitsEveryWidthAndKeepsHelp() {
        for width in 0...160 {
            let bar = map.hintBar(width: width)
            #expect(bar.count <= width, "\(width)")
            if width >= 6 { #expect(bar.contains("? help"), "\(width)") }
            if width >= 14 { #expect(bar.contains("q quit"), "\(width)") }
            #expect(map.hintBar(width: width, glyphs: .ascii).count <= width)
        }
        let full = map.hintBar(width: 1000)
        let shown = map.bindings.filter(\.inHintBar).map(\.hint)
        #expect(full == shown.joined(separator: "  "))
        // At the dashboard's minimum width the core keys all show.
        #expect(map.hintBar(width: 80) == "n step  space run/pause  ↑↓ select  Tab focus  z zoom  1-3 views  ? help  q quit")
    }

    @Test func asciiHintBarAndHelpSpellArrowsOut() {
        let bar = map.hintBar(width: 1000, glyphs: .ascii)
        #expect(bar.contains("Up/Down select"))
        #expect(map.helpLines(glyphs: .ascii).joined().contains("Down j"))
        let symbols = ["↑", "↓", "←", "→"]
        #expect(!symbols.contains { bar.contains($0) })
    }

    @Test func helpListsEveryBindingInAColumn() {
        let lines = map.helpLines()
        #expect(lines.count == map.bindings.count)
        let column = (map.bindings.map(\.label.count).max() ?? 0) + 2
        for (line, b) in zip(lines, map.bindings) {
            #expect(line.hasPrefix(b.label))
            #expect(String(line.dropFirst(column)) == b.help)
        }
        #expect(lines[0] == "n          step one epoch (all methods)")
    }

    @Test func keyNames() {
        #expect(Key.char(" ").name == "space")
        #expect(Key.ctrl("l").name == "Ctrl-L")
        #expect(Key.f(5).name == "F5")
        #expect(Key.backTab.name == "Shift-Tab")
    }
}
