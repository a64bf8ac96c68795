import CausalPO
import Dashboard
import Foundation
import Lab
import OutcomeData
import Testing

/// The fixture with long lists: 80 texts of CPO's last evaluation (even ones two lines long at
/// 120 columns; every 7th mentions rain; every 3rd matched the attribute "urgency"), 300
/// training rows (every 25th about rain) and 200 messages (every 10th about rain).
enum ListFixture {
    static func text(_ i: Int) -> GeneratedText {
        let rain = i % 7 == 0 ? " It may rain, bring a coat." : ""
        let long = i % 2 == 0 ? " Bring gloves and a friend; the council provides bags, grabbers and tea for everyone who helps on the day." : ""
        return GeneratedText(text: "text \(i): join the clean-up." + rain + long, score: Double(40 + i % 20),
                             attributes: i % 3 == 0 ? ["urgency"] : [], invalidSegments: [], logRatioToFT: Double(i) / 100)
    }

    static func texts(_ n: Int) -> [GeneratedText] { (0..<n).map(text) }

    static func row(_ i: Int) -> OutcomeRow {
        let about = i % 25 == 0 ? "rain or shine, the river bank needs us" : "clean the river bank on Saturday"
        let attributes: [Double] = [Double(i % 2), i % 3 == 0 ? 1 : 0, 0]
        let trait: Double = i % 2 == 0 ? 1 : -1
        return OutcomeRow(text: "row \(i): " + about, outcome: 50 + Double(i % 9), logPropensity: -30, trait: trait,
                          attributes: attributes)
    }

    static let rows: [OutcomeRow] = (0..<300).map(row)

    static let snapshot: LabSnapshot = {
        var s = Fixture.snapshot
        if let cpo = s.methods.firstIndex(where: { $0.method == .cpo }) { s.methods[cpo].evaluationTexts = texts(80) }
        s.dataPreview = rows
        s.trainRows = rows.count
        s.messages = (1...200).map { "message \($0)" + ($0 % 10 == 0 ? ": rain expected" : "") }
        return s
    }()
}

/// Lists as state: `state.handle(key, snapshot:)` (and `apply`) scroll and filter them, and
/// the rendered panels show it.
@Suite struct ListStateTests {
    let snap = ListFixture.snapshot

    func state(_ width: Int = 120, _ height: Int = 40, _ view: ViewKind = .dashboard, focus: Panel = .generations) -> DashboardState {
        var s = DashboardState()
        s.screen = TerminalSize(width: width, height: height)
        s.view.view = view
        s.view.focus = focus
        s.view.timeZone = Fixture.utc
        return s
    }

    @discardableResult
    func press(_ keys: [Key], _ s: inout DashboardState, _ snapshot: LabSnapshot? = nil) -> [DashboardEffect] {
        keys.flatMap { s.handle($0, snapshot: snapshot ?? snap) }
    }

    func typed(_ text: String) -> [Key] { text.map { Key.char($0) } }

    func render(_ s: DashboardState, _ snapshot: LabSnapshot? = nil) -> CellBuffer {
        DashboardView.render(snapshot ?? snap, s.view, width: s.screen.width, height: s.screen.height)
    }

    /// The title of the box named `name` ("Generations — CPO 1-6 of 80"), its row, and the
    /// column of its left border.
    func title(_ name: String, _ b: CellBuffer) -> (text: String, y: Int, x: Int)? {
        for y in 1..<b.height {
            let line = b.line(y)
            guard let r = line.range(of: "╭─ " + name) else { continue }
            let rest = line[r.lowerBound...].dropFirst(3)
            let end = rest.range(of: " ─")?.lowerBound ?? rest.endIndex
            return (String(rest[..<end]), y, line.distance(from: line.startIndex, to: r.lowerBound))
        }
        return nil
    }

    /// Line `offset` inside the box named `name` (1: the first), from its left border on,
    /// without the border.
    func firstLine(_ name: String, _ b: CellBuffer, offset: Int = 1) -> String {
        guard let t = title(name, b) else { return "" }
        return String(b.line(t.y + offset).dropFirst(t.x + 1))
    }

    /// The lines inside the box named `name` drawn in the selected style (the highlighted match
    /// or the selected row), without the border.
    func highlighted(_ name: String, _ b: CellBuffer, _ v: ViewState) -> [String] {
        guard let t = title(name, b) else { return [] }
        let style = v.theme.text.merged(with: v.theme.selected)
        return ((t.y + 1)..<(b.height - 1)).prefix { b[t.x, $0].char != "╰" }
            .filter { b[t.x + 1, $0].style == style || b[t.x + 2, $0].style == style }
            .map { String(b.line($0).dropFirst(t.x + 1)) }
    }

    // MARK: Scrolling

    /// Generations wrap to one or two lines: a page on starts at the first text not shown
    /// whole, a page back returns, Home and End go to the ends, and scrolling stops there.
    @Test func generationsPageByWhatIsShown() {
        var s = state()
        #expect(title("Generations", render(s))?.text == "Generations — CPO 1-6 of 80")
        press([.pageDown], &s)
        var b = render(s)
        #expect(title("Generations", b)?.text == "Generations — CPO 7-12 of 80")
        #expect(firstLine("Generations", b).hasPrefix("[46.00 | log f/FT +0.06 | urgency] text 6:"), "\(firstLine("Generations", b))")
        press([.pageUp], &s)
        #expect(title("Generations", render(s))?.text == "Generations — CPO 1-6 of 80")
        press([.end], &s)
        b = render(s)
        #expect(title("Generations", b)?.text == "Generations — CPO 74-80 of 80")
        #expect(firstLine("Generations", b).contains("text 73:"))
        // Clamped at both ends.
        press([.pageDown, .pageDown], &s)
        #expect(title("Generations", render(s))?.text == "Generations — CPO 74-80 of 80")
        press([.home, .pageUp], &s)
        #expect(title("Generations", render(s))?.text == "Generations — CPO 1-6 of 80")
        // At 80x24 the panel shows five lines (wrapped at 78 columns).
        var small = state(80, 24)
        #expect(title("Generations", render(small))?.text == "Generations — CPO 1-2 of 80")
        press([.pageDown], &small)
        #expect(firstLine("Generations", render(small)).contains("text 2:"))
    }

    /// Another method's texts start at their top; the fixture's FT has two (no scrolling).
    @Test func selectingAnotherMethodListsItsTextsFromTheTop() {
        var s = state()
        press([.pageDown, .pageDown], &s)
        press([.up], &s)
        let b = render(s)
        #expect(title("Generations", b)?.text == "Generations — FT")
        press([.down], &s)
        #expect(title("Generations", render(s))?.text == "Generations — CPO 1-6 of 80")
    }

    /// The data view's rows scroll a page of rows at a time; Tab switches to the messages,
    /// which start at their newest; ↑/↓ scroll there by one.
    @Test func dataRowsAndMessagesScroll() {
        for (w, h, page) in [(120, 40, 16), (80, 24, 5)] {
            var s = state(w, h, .data)
            var b = render(s)
            #expect(title("Training rows", b)?.text == "Training rows 1-\(page) of 300", "\(w)x\(h)")
            press([.pageDown, .pageDown], &s)
            b = render(s)
            #expect(title("Training rows", b)?.text == "Training rows \(2 * page + 1)-\(3 * page) of 300", "\(w)x\(h)")
            #expect(firstLine("Training rows", b, offset: 2).contains("row \(2 * page):"), "\(firstLine("Training rows", b, offset: 2))")
            press([.down, .down, .up], &s)
            #expect(title("Training rows", render(s))?.text == "Training rows \(2 * page + 2)-\(3 * page + 1) of 300")
            press([.end], &s)
            #expect(title("Training rows", render(s))?.text == "Training rows \(300 - page + 1)-300 of 300")
            press([.tab], &s)
            #expect(s.view.lists.dataFocus == .messages)
            b = render(s)
            let newest = title("Messages", b)?.text ?? ""
            #expect(newest.hasPrefix("Messages ") && newest.hasSuffix("-200 of 200"), "\(newest)")
            press([.home], &s)
            #expect(firstLine("Messages", render(s), offset: 2) .hasPrefix("message 1 "), "\(firstLine("Messages", render(s), offset: 2))")
            press([.down], &s)
            #expect(firstLine("Messages", render(s), offset: 2).hasPrefix("message 2 "))
            press([.tab], &s)
            #expect(s.view.lists.dataFocus == .rows)
        }
    }

    /// The help overlay scrolls while it is open when it is taller than the screen.
    @Test func helpScrollsWhenTallerThanTheScreen() {
        var s = state(80, 24, focus: .methods)
        press([.char("?")], &s)
        let lines = Keymap.standard.helpLines().count
        #expect(title("keys", render(s))?.text == "keys 1-20 of \(lines) (? to close, PgUp/PgDn: scroll)")
        press([.pageDown], &s)
        #expect(title("keys", render(s))?.text == "keys \(lines - 19)-\(lines) of \(lines) (? to close, PgUp/PgDn: scroll)")
        #expect(render(s).plainText().contains("quit (the terminal is restored)"))
        press([.home], &s)
        #expect(!render(s).plainText().contains("quit (the terminal is restored)"))
        // The methods selection did not move meanwhile.
        press([.down], &s)
        #expect(s.view.selectedMethod == nil && title("keys", render(s))?.text.hasPrefix("keys 2-21 of") == true)
        // A screen with room for every key (the header, the footer and the box around them).
        var big = state(120, lines + 4, focus: .methods)
        press([.char("?")], &big)
        #expect(title("keys", render(big))?.text == "keys (? to close)")
    }

    /// Panels without a list say where the lists are.
    @Test func listKeysWithoutAList() {
        var s = state(focus: .weights)
        press([.pageDown], &s)
        #expect(s.view.status == "no list in the Weights panel: Tab to Methods or Generations")
    }

    // MARK: Filtering

    /// `/` types a filter the list follows as it changes (the footer shows it), Enter keeps it,
    /// `]` and `[` move the highlight from match to match (wrapping), Esc clears it.
    @Test func filterTypingEnterEscAndMatches() {
        var s = state()
        press([.char("/")] + typed("ra"), &s)
        var b = render(s)
        #expect(b.line(39).hasPrefix("filter Generations (Enter: keep, Esc: clear): ra_"))
        press(typed("in"), &s)
        b = render(s)
        #expect(title("Generations", b)?.text == "Generations — CPO: 12 of 80 match 'rain', 1-6 of 12 shown")
        #expect(firstLine("Generations", b).contains("text 0:"))
        // Typing goes to the filter: q does not quit.
        press([.char("q"), .backspace, .enter], &s)
        #expect(!s.quitRequested)
        #expect(s.view.lists.editing == nil && s.view.lists[.generations].filter == "rain")
        #expect(!render(s).line(39).hasPrefix("filter"))
        // ] and [ move the highlight and bring it into view; they wrap around.
        press([.char("[")], &s)
        #expect(s.view.lists[.generations].match == 11)
        b = render(s)
        #expect(highlighted("Generations", b, s.view).first?.contains("text 77:") == true, "\(highlighted("Generations", b, s.view))")
        press([.char("]")], &s)
        #expect(s.view.lists[.generations].match == 0 && highlighted("Generations", render(s), s.view).first?.contains("text 0:") == true)
        press([.char("]"), .char("]")], &s)
        #expect(highlighted("Generations", render(s), s.view).first?.contains("text 14:") == true)
        // Attribute names match too.
        press([.char("/")] + Array(repeating: .backspace, count: 4) + typed("urgency") + [.enter], &s)
        #expect(title("Generations", render(s))?.text.hasPrefix("Generations — CPO: 27 of 80 match 'urgency'") == true)
        // Esc while typing clears the filter; the highlighted text stays in view.
        press([.char("]"), .char("]"), .char("]"), .char("]"), .char("]"), .char("]"), .char("]"), .char("]")], &s)
        #expect(highlighted("Generations", render(s), s.view).first?.contains("text 24:") == true)
        press([.char("/"), .escape], &s)
        #expect(s.view.lists[.generations].filter.isEmpty && s.view.lists.editing == nil && !s.quitRequested)
        b = render(s)
        #expect(title("Generations", b)?.text.hasPrefix("Generations — CPO ") == true && b.plainText().contains("text 24:"))
        #expect(highlighted("Generations", b, s.view).isEmpty)
    }

    /// A kept filter survives new snapshots: the matches are counted again in each one.
    @Test func filterSurvivesNewSnapshots() {
        var s = state()
        press([.char("/")] + typed("rain") + [.enter, .char("]")], &s)
        var more = snap
        if let cpo = more.methods.firstIndex(where: { $0.method == .cpo }) { more.methods[cpo].evaluationTexts = ListFixture.texts(160) }
        more.version += 1
        #expect(title("Generations", render(s, more))?.text.hasPrefix("Generations — CPO: 23 of 160 match 'rain'") == true)
        press([.char("]")], &s, more)
        #expect(s.view.lists[.generations].match == 2)
        // Fewer matches than the highlight: the last one is highlighted, the keys wrap from there.
        var fewer = snap
        if let cpo = fewer.methods.firstIndex(where: { $0.method == .cpo }) { fewer.methods[cpo].evaluationTexts = ListFixture.texts(8) }
        #expect(highlighted("Generations", render(s, fewer), s.view).first?.contains("text 7:") == true)
        press([.char("]")], &s, fewer)
        #expect(s.view.lists[.generations].match == 0)
        // Nothing matches: the panel says so.
        press([.char("/")] + typed("zzz") + [.enter], &s)
        let b = render(s)
        #expect(title("Generations", b)?.text == "Generations — CPO: 0 of 80 match 'rainzzz'" && b.plainText().contains("nothing matches 'rainzzz'"))
        press([.char("]")], &s)
        #expect(s.view.status == "nothing matches 'rainzzz'")
    }

    /// Rows match their text, messages theirs, methods their names (and select the first
    /// match; ↑/↓ go from match to match).
    @Test func rowsMessagesAndMethodsFilter() {
        var s = state(120, 40, .data)
        press([.char("/")] + typed("RAIN") + [.enter], &s)
        var b = render(s)
        #expect(title("Training rows", b)?.text == "Training rows: 12 of 300 match 'RAIN'", "\(title("Training rows", b)?.text ?? "")")
        #expect(firstLine("Training rows", b, offset: 2).contains("row 0: rain or shine"))
        press([.tab, .char("/")] + typed("rain") + [.enter], &s)
        b = render(s)
        #expect(title("Messages", b)?.text.hasPrefix("Messages: 20 of 200 match 'rain'") == true, "\(title("Messages", b)?.text ?? "")")
        #expect(firstLine("Messages", b, offset: 2).hasPrefix("message 10: rain expected"))
        // The rows' filter stayed.
        #expect(s.view.lists[.rows].filter == "RAIN")

        var m = state(focus: .methods)
        press([.char("/")] + typed("cpo"), &m)
        #expect(m.view.selectedMethod == 1)
        press([.enter, .down], &m)
        #expect(m.view.selectedMethod == 2)
        press([.down], &m)
        #expect(m.view.selectedMethod == 2)
        press([.char("]")], &m)
        #expect(m.view.selectedMethod == 1)
        b = render(m)
        #expect(title("Methods", b)?.text == "Methods: 2 of 4 match 'cpo'")
        #expect(!b.plainText().contains("│FT ") && !b.plainText().contains("│DPO "))
        press([.end], &m)
        #expect(m.view.selectedMethod == 2)
        press([.home], &m)
        #expect(m.view.selectedMethod == 1)
    }

    // MARK: The first selection

    @Test func selectionStartsOnTheFirstCausalMethod() {
        func first(_ methods: [CausalPO.Method]) -> CausalPO.Method? {
            var config = LabConfig()
            config.methods = methods
            let s = LabSnapshot(config: config, seed: 0)
            var state = DashboardState()
            guard case .send(.stepEpoch(let m))? = state.handle(.char("s"), snapshot: s).first else { return nil }
            return m
        }
        #expect(first(LabConfig().methods) == .cpo)   // FT, OO-RLHF, CPO, DR-CPO
        #expect(first([.ft, .drCPO, .cpo]) == .drCPO)
        #expect(first([.ft, .dpo, .ooRLHF]) == .ooRLHF)
        #expect(first([.ft, .rwr]) == .rwr)
        #expect(first([.ft]) == .ft)
        // Before the methods appear nothing is selected; then the first causal one is, until
        // the user moves the selection, which new snapshots keep.
        var none = Lab3.snapshot()
        none.methods = []
        var s = DashboardState()
        #expect(s.handle(.char("s"), snapshot: none).isEmpty)
        #expect(s.handle(.char("s"), snapshot: Lab3.snapshot()) == [.send(.stepEpoch(.cpo))])
        _ = s.handle(.up, snapshot: Lab3.snapshot())
        #expect(s.handle(.char("s"), snapshot: Lab3.snapshot()) == [.send(.stepEpoch(.ft))])
        let text = DashboardView.render(Fixture.snapshot, ViewState(), width: 120, height: 40).plainText()
        #expect(text.contains("Weights — CPO") && text.contains("Generations — CPO"))
    }

    // MARK: The mouse

    @Test func clickSelectsTheMethodUnderItAndFocusesThePanel() throws {
        var s = state(focus: .generations)
        var b = render(s)
        let y = try #require((0..<b.height).first { b.line($0).contains("│DR-CPO ") })
        s.handleMouse(MouseEvent(.click, x: 3, y: y), snapshot: snap, size: s.screen)
        #expect(s.view.selectedMethod == 2 && s.view.focus == .methods)
        // The header row and the empty rows below the methods select nothing.
        let methodsTop = try #require(title("Methods", b)?.y)
        s.handleMouse(MouseEvent(.click, x: 3, y: methodsTop + 1), snapshot: snap, size: s.screen)
        s.handleMouse(MouseEvent(.click, x: 3, y: methodsTop + 8), snapshot: snap, size: s.screen)
        #expect(s.view.selectedMethod == 2)
        // A click on another panel focuses it.
        let weights = try #require(title("Weights", b)?.y)
        s.handleMouse(MouseEvent(.click, x: 10, y: weights + 3), snapshot: snap, size: s.screen)
        #expect(s.view.focus == .weights && s.view.selectedMethod == 2)
        // The header and the footer are not panels.
        s.handleMouse(MouseEvent(.click, x: 10, y: 0), snapshot: snap, size: s.screen)
        s.handleMouse(MouseEvent(.click, x: 10, y: 39), snapshot: snap, size: s.screen)
        #expect(s.view.focus == .weights)
        // Zoomed, the one panel fills the body.
        s.view.zoomed = true
        s.handleMouse(MouseEvent(.click, x: 100, y: 30), snapshot: snap, size: s.screen)
        #expect(s.view.focus == .weights)
        b = render(s)
        #expect(title("Weights", b)?.y == 1)
    }

    /// A Methods table scrolled to its selection (seven methods at 80x24): the click selects
    /// the row drawn under it.
    @Test func clickOnAScrolledMethodsTable() throws {
        var many = snap
        many.methods = CausalPO.Method.allCases.map { Fixture.method($0, epochs: 1, shift: 0.1) }
        var s = state(80, 24, focus: .methods)
        press([.end], &s, many)
        #expect(s.view.selectedMethod == 6)
        let b = render(s, many)
        let y = try #require((0..<b.height).first { b.line($0).hasPrefix("│CPO ") })
        s.handleMouse(MouseEvent(.click, x: 2, y: y), snapshot: many, size: s.screen)
        #expect(s.view.selectedMethod == 2)
        let after = render(s, many)
        #expect(highlighted("Methods", after, s.view) .first?.hasPrefix("CPO ") == true, "\(highlighted("Methods", after, s.view))")
    }

    @Test func wheelScrollsTheListUnderThePointer() throws {
        var s = state(focus: .methods)
        let b = render(s)
        let generations = try #require(title("Generations", b)?.y)
        s.handleMouse(MouseEvent(.wheelDown, x: 20, y: generations + 3), snapshot: snap, size: s.screen)
        s.handleMouse(MouseEvent(.wheelDown, x: 20, y: generations + 3), snapshot: snap, size: s.screen)
        #expect(title("Generations", render(s))?.text == "Generations — CPO 3-8 of 80")
        s.handleMouse(MouseEvent(.wheelUp, x: 20, y: generations + 3), snapshot: snap, size: s.screen)
        #expect(title("Generations", render(s))?.text == "Generations — CPO 2-8 of 80")
        // The wheel does not move the focus; over the Methods panel it moves the selection.
        #expect(s.view.focus == .methods)
        let methods = try #require(title("Methods", b)?.y)
        s.handleMouse(MouseEvent(.wheelDown, x: 5, y: methods + 3), snapshot: snap, size: s.screen)
        #expect(s.view.selectedMethod == 2)
        // The data view: the rows and the messages under the pointer; a click focuses them.
        var d = state(120, 40, .data)
        let db = render(d)
        let rows = try #require(title("Training rows", db)?.y), messages = try #require(title("Messages", db)?.y)
        d.handleMouse(MouseEvent(.wheelDown, x: 10, y: rows + 4), snapshot: snap, size: d.screen)
        #expect(title("Training rows", render(d))?.text == "Training rows 4-19 of 300")
        d.handleMouse(MouseEvent(.click, x: 100, y: messages + 2), snapshot: snap, size: d.screen)
        #expect(d.view.lists.dataFocus == .messages)
        d.handleMouse(MouseEvent(.wheelUp, x: 100, y: messages + 2), snapshot: snap, size: d.screen)
        #expect(title("Messages", render(d))?.text != title("Messages", db)?.text)
        // The help overlay takes the wheel while it is open.
        var h = state(80, 24)
        press([.char("?")], &h)
        h.handleMouse(MouseEvent(.wheelDown, x: 40, y: 12), snapshot: snap, size: h.screen)
        #expect(title("keys", render(h))?.text.hasPrefix("keys 4-23 of") == true)
    }

    @Test func clickInTheCompareTable() throws {
        var s = state(120, 40, .compare)
        let b = render(s)
        let y = try #require((0..<b.height).first { b.line($0).contains("│DPO ") })
        s.handleMouse(MouseEvent(.click, x: 4, y: y), snapshot: snap, size: s.screen)
        #expect(s.view.selectedMethod == 3)
        s.handleMouse(MouseEvent(.wheelUp, x: 4, y: y), snapshot: snap, size: s.screen)
        #expect(s.view.selectedMethod == 2)
    }

    @Test func mouseKeyTogglesReporting() {
        var s = state()
        #expect(!s.view.mouse)
        #expect(press([.char("M")], &s) == [.setMouse(true)] && s.view.status == "mouse on")
        #expect(press([.char("M")], &s) == [.setMouse(false)])
    }
}

/// The header at both widths: where the user is, the phase and what to press next.
@Suite("the header")
struct HeaderTests {
    static let golden = ViewSnapshotTests.golden

    func header(_ s: LabSnapshot, _ v: ViewState, width: Int) -> String {
        DashboardView.render(s, v, width: width, height: 40).line(0)
    }

    static func state(_ kind: ViewKind = .dashboard, focus: Panel = .methods) -> ViewState {
        var v = ViewState()
        v.view = kind
        v.focus = focus
        v.timeZone = Fixture.utc
        return v
    }

    /// Every phase, view and focus, at 120 and 80 columns, one header per line.
    @Test func headersGolden() throws {
        var cases: [(String, LabSnapshot, ViewState)] = []
        var preparing = Fixture.snapshot
        preparing.phase = .preparing(stage: .ft, fraction: 0.4, message: "FT step 50, loss 0.9")
        var before = Fixture.snapshot
        before.methods = before.methods.map { var m = $0; m.epoch = 0; return m }
        var running = Fixture.snapshot
        running.phase = .running
        var finished = Fixture.snapshot
        finished.phase = .finished
        var failed = Fixture.snapshot
        failed.phase = .failed("the data file is gone")
        var watched = Self.state()
        watched.keymap = .readOnly
        var curves = Self.state(focus: .loss)
        curves.showCurves = true
        var zoomed = Self.state(focus: .generations)
        zoomed.zoomed = true
        var messages = Self.state(.data)
        messages.lists.dataFocus = .messages
        var status = Self.state()
        status.status = "theme light"
        cases = [
            ("preparing", preparing, Self.state()), ("idle, no epoch yet", before, Self.state()),
            ("idle, epochs trained", Fixture.snapshot, Self.state()), ("weights", Fixture.snapshot, Self.state(focus: .weights)),
            ("curves", Fixture.snapshot, curves), ("zoomed", Fixture.snapshot, zoomed), ("running", running, Self.state()),
            ("finished", finished, Self.state()), ("failed", failed, Self.state()), ("compare", Fixture.snapshot, Self.state(.compare)),
            ("data messages", Fixture.snapshot, messages), ("watching", Fixture.snapshot, watched), ("status", Fixture.snapshot, status),
        ]
        var text = ""
        for width in [120, 80] {
            for (name, s, v) in cases {
                text += name.padding(toLength: 22, withPad: " ", startingAt: 0) + "|" + header(s, v, width: width) + "|\n"
            }
        }
        let url = Self.golden.appendingPathComponent("headers.txt")
        if ViewSnapshotTests.recording {
            try text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        #expect(text == (try String(contentsOf: url, encoding: .utf8)), "\(text)")
    }

    @Test func hintsFollowThePhaseAndTheKeys() {
        var before = Fixture.snapshot
        before.methods = before.methods.map { var m = $0; m.epoch = 0; return m }
        #expect(header(before, Self.state(), width: 120).contains("| ready — n: train one epoch, space: run"))
        #expect(header(Fixture.snapshot, Self.state(), width: 120).contains("| ready — c: learning curves, 2: compare"))
        // A watched run cannot be trained: no training keys are hinted.
        var watched = Self.state()
        watched.keymap = .readOnly
        let w = header(before, watched, width: 120)
        #expect(w.contains("| ready ") && !w.contains("n: ") && !w.contains("space: "), "\(w)")
        // At 80 columns the place, a hint and the save state all show.
        for focus in Panel.allCases {
            let h = header(Fixture.snapshot, Self.state(focus: focus), width: 80)
            #expect(h.contains(focus.title) && h.contains("ready — ") && h.hasSuffix("saved 14:02:31 "), "\(h)")
        }
        // ASCII mode spells the arrow.
        var ascii = Self.state()
        ascii.glyphs = .ascii
        #expect(header(Fixture.snapshot, ascii, width: 120).contains("dashboard > Methods (CPO)"))
    }
}

/// Goldens of the lists scrolled and filtered, and of the help overlay at 80x24.
@Suite("scrolled and filtered lists as text")
struct ListSnapshotTests {
    func check(_ name: String, _ buffer: CellBuffer) throws { try ViewSnapshotTests().check(name, buffer) }

    /// A state on a `w` x `h` screen showing `kind`, after `keys`.
    func state(_ w: Int, _ h: Int, _ kind: ViewKind, focus: Panel = .methods, keys: [Key]) -> DashboardState {
        var s = DashboardState()
        s.screen = TerminalSize(width: w, height: h)
        s.view.timeZone = Fixture.utc
        s.view.view = kind
        s.view.focus = focus
        for k in keys { _ = s.handle(k, snapshot: ListFixture.snapshot) }
        return s
    }

    @Test func generationsScrolledAndFiltered() throws {
        for (w, h) in ViewSnapshotTests.sizes {
            var s = state(w, h, .dashboard, focus: .generations, keys: [.pageDown, .pageDown])
            try check("generations-scrolled-\(w)x\(h)", DashboardView.render(ListFixture.snapshot, s.view, width: w, height: h))
            for k in [Key.char("/"), .char("r"), .char("a"), .char("i"), .char("n"), .enter, .char("]"), .char("]")] {
                _ = s.handle(k, snapshot: ListFixture.snapshot)
            }
            try check("generations-filtered-\(w)x\(h)", DashboardView.render(ListFixture.snapshot, s.view, width: w, height: h))
        }
    }

    @Test func dataRowsScrolledAndFiltered() throws {
        for (w, h) in ViewSnapshotTests.sizes {
            var s = state(w, h, .data, keys: [.pageDown, .down])
            try check("data-rows-scrolled-\(w)x\(h)", DashboardView.render(ListFixture.snapshot, s.view, width: w, height: h))
            for k in [Key.char("/"), .char("r"), .char("a"), .char("i"), .char("n"), .enter, .char("]"), .char("]"), .char("]"), .char("/")] {
                _ = s.handle(k, snapshot: ListFixture.snapshot)
            }
            // Typing again: the footer shows the filter.
            try check("data-rows-filtered-\(w)x\(h)", DashboardView.render(ListFixture.snapshot, s.view, width: w, height: h))
        }
    }

    @Test func helpAt80x24() throws {
        var s = state(80, 24, .dashboard, keys: [.char("?")])
        try check("help-80x24", DashboardView.render(Fixture.snapshot, s.view, width: 80, height: 24))
        _ = s.handle(.end, snapshot: Fixture.snapshot)
        try check("help-end-80x24", DashboardView.render(Fixture.snapshot, s.view, width: 80, height: 24))
    }
}
