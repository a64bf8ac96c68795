import Dashboard
import Lab
import Testing

/// Every view at sizes from 1x1 to 200x60: the frame has exactly the size asked for, one
/// character per cell, no size traps (a negative range, an index past the end), and from 80x24
/// up the view's layout. Every size below 80x24 (the "too small" screen); from 80x24 up every
/// width and every height, each with a spread of the other.
@Suite struct RenderSizeTests {
    /// Every size below 80 columns or 24 rows, up to 200x60.
    static let small: [TerminalSize] = (1...200).flatMap { w in
        (1...60).compactMap { h in w < 80 || h < 24 ? TerminalSize(width: w, height: h) : nil }
    }

    /// From 80x24 to 200x60: every width (at a height that moves with it), every height (at a
    /// width that moves with it), and the corners.
    static let large: [TerminalSize] = {
        var seen = Set<TerminalSize>()
        for w in 80...200 { seen.insert(TerminalSize(width: w, height: 24 + (w * 7) % 37)) }
        for h in 24...60 { seen.insert(TerminalSize(width: 80 + (h * 13) % 121, height: h)) }
        for (w, h) in [(80, 24), (80, 60), (200, 24), (200, 60), (120, 40)] { seen.insert(TerminalSize(width: w, height: h)) }
        return seen.sorted { ($0.width, $0.height) < ($1.width, $1.height) }
    }()

    /// The views drawn, each with a text its layout shows: each view, the help overlay, a
    /// zoomed panel, the learning curves.
    static func states(_ glyphs: Glyphs) -> [(name: String, marker: String, view: ViewState)] {
        var out: [(String, String, ViewState)] = []
        for (kind, marker) in [(ViewKind.dashboard, "Methods"), (.compare, "Compare"), (.data, "Data")] {
            var v = ViewState()
            v.view = kind
            out.append((kind.rawValue, marker, v))
        }
        var help = ViewState()
        help.showHelp = true
        out.append(("help", "keys", help))
        var zoom = ViewState()
        zoom.zoomed = true
        zoom.focus = .confounding
        out.append(("zoomed", "Confounding", zoom))
        var curves = ViewState()
        curves.showCurves = true
        out.append(("curves", "Curves", curves))
        return out.map { name, marker, v in
            var v = v
            v.glyphs = glyphs
            return (name, marker, v)
        }
    }

    /// Whether `b` is `size` with one character per cell; records an issue if not.
    static func hasShape(_ b: CellBuffer, _ size: TerminalSize, _ name: String) -> Bool {
        let lines = b.plainText().split(separator: "\n", omittingEmptySubsequences: false)
        guard b.width == size.width, b.height == size.height, lines.count == size.height,
              lines.allSatisfy({ $0.count == size.width }) else {
            Issue.record("\(name) at \(size) drew a \(b.width)x\(b.height) frame of \(lines.count) lines")
            return false
        }
        return true
    }

    @Test func everySizeBelow80x24() {
        var failures = 0
        for size in Self.small where failures < 3 {
            let b = DashboardView.render(Fixture.snapshot, ViewState(), width: size.width, height: size.height)
            if !Self.hasShape(b, size, "the dashboard") { failures += 1 }
        }
    }

    @Test(arguments: Glyphs.allCases)
    func everyViewFrom80x24Up(_ glyphs: Glyphs) {
        for (name, marker, view) in Self.states(glyphs) {
            var failures = 0
            for size in Self.large + [TerminalSize(width: 1, height: 1), TerminalSize(width: 79, height: 60)] where failures < 3 {
                let b = DashboardView.render(Fixture.snapshot, view, width: size.width, height: size.height)
                if !Self.hasShape(b, size, name) {
                    failures += 1
                } else if size.width >= 80 && size.height >= 24 && !b.plainText().contains(marker) {
                    Issue.record("\(name) at \(size) lost its layout:\n\(b.plainText())")
                    failures += 1
                }
            }
        }
    }

    /// The frame loop through a storm of 200 resizes, down to 1x1 and back, with keys between
    /// them: every frame has the terminal's size, and at 120x40 the full layout is back.
    @MainActor
    @Test func aStormOfResizes() {
        let cycle = [(1, 1), (2, 1), (1, 2), (200, 60), (79, 23), (80, 24), (3, 50), (150, 2), (40, 12), (120, 40)]
        let keys: [Key] = [.tab, .char("z"), .char("?"), .char("2"), .char("3"), .char("1"), .char("z"), .char("?")]
        var script: [FakeTerminal.Step] = []
        for i in 0..<200 {
            let (w, h) = cycle[i % cycle.count]
            script.append(.resize(w, h))
            if i % 3 == 0 { script.append(.key(keys[(i / 3) % keys.count])) }
            if i % 7 == 0 { script.append(.mouse(MouseEvent(.click, x: w / 2, y: h / 2))) }
        }
        script.append(.resize(120, 40))
        let terminal = FakeTerminal(script)
        let lab = FakeLab()
        var state = DashboardState()
        state.view.mouse = true
        _ = DashboardLoop(framesPerSecond: 10, shouldStop: { terminal.finished }).run(&state, backend: terminal, source: lab)
        #expect(terminal.frames.count > 200)
        var size = (120, 40)
        var frameIndex = 1
        // Frame 0 is at the start size; each resize draws one frame at its size.
        for step in script {
            if case let .resize(w, h) = step { size = (w, h) }
            if frameIndex < terminal.frames.count {
                let f = terminal.frames[frameIndex]
                #expect(f.width == size.0 && f.height == size.1, "frame \(frameIndex) is \(f.width)x\(f.height), not \(size)")
                frameIndex += 1
            }
        }
        let last = terminal.lastText
        #expect(terminal.frames.last?.width == 120 && terminal.frames.last?.height == 40)
        #expect(last.contains("cpo-tui") && !last.contains("too small"), "\(last)")
    }
}
