import CausalPO
import Dashboard
import Foundation
import Lab
import Testing

/// The Confounding panel's sensitivity block (SensitivityPanel.swift) and the keys that step
/// its Λ. The fixture's analyses are `Sensitivity.analyze`'s own (`Fixture.sensitivity`).
@Suite("the Confounding panel's sensitivity block")
struct SensitivityPanelTests {
    let snapshots = ViewSnapshotTests()

    /// The dashboard with the Confounding panel focused, at `lambda` (a grid point).
    static func state(lambda: Double, glyphs: Glyphs = .unicode, zoomed: Bool = false) throws -> ViewState {
        var v = ViewSnapshotTests.state()
        v.selectedMethod = 1
        v.focus = .confounding
        v.zoomed = zoomed
        v.glyphs = glyphs
        v.sensitivityLambdaIndex = try #require(ViewState.sensitivityGrid.firstIndex(of: lambda))
        return v
    }

    /// The panel's inside, as text lines (the box's rows between its borders).
    static func panelLines(_ b: CellBuffer, title: String = "Confounding") -> [String] {
        let lines = b.plainText().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let titles = ["╭─ " + title, "+- " + title]
        guard let top = lines.firstIndex(where: { l in titles.contains { l.contains($0) } }),
              let start = titles.lazy.compactMap({ lines[top].range(of: $0) }).first.map({ lines[top].distance(from: lines[top].startIndex, to: $0.lowerBound) }) else { return [] }
        let left = start
        var out: [String] = []
        for line in lines[(top + 1)...] {
            let chars = Array(line)
            guard left < chars.count, chars[left] == "│" || chars[left] == "|" else { break }
            let rest = chars[(left + 1)...]
            let end = rest.firstIndex { $0 == "│" || $0 == "|" } ?? chars.count
            out.append(String(chars[(left + 1)..<end]))
        }
        return out
    }

    @Test func goldensAtTwoLambdasZoomedASCIIAndWaiting() throws {
        // Λ = 2.5 with the hidden trait's Λ, at both sizes (80x24: the block gives way).
        var trait = Fixture.snapshot
        trait.hiddenTraitLambda = 2.2
        for (w, h) in ViewSnapshotTests.sizes {
            try snapshots.check("confounding-lambda-2.5-\(w)x\(h)", DashboardView.render(trait, try Self.state(lambda: 2.5), width: w, height: h))
        }
        // Zoomed at 80x24: every method and the attribute table.
        try snapshots.check("confounding-zoomed-80x24", DashboardView.render(Fixture.snapshot, try Self.state(lambda: 1.5, zoomed: true),
                                                                            width: 80, height: 24))
        // ASCII, zoomed, at Λ = 10 (every bound wide) and one method that never breaks down.
        var never = Fixture.snapshot
        let dr = try #require(never.methods.firstIndex { $0.method == .drCPO })
        let last = never.methods[dr].epochs.count - 1
        never.methods[dr].epochs[last].sensitivity = never.methods[dr].epochs[last].sensitivity?.map { a in
            var a = a
            a.breakdown = .infinity
            return a
        }
        let ascii = DashboardView.render(never, try Self.state(lambda: 10, glyphs: .ascii, zoomed: true), width: 120, height: 40)
        try snapshots.check("confounding-ascii-zoomed-120x40", ascii)
        let text = ascii.plainText()
        #expect(ViewSnapshotTests.drawingCharacters(text).isEmpty && !text.contains("∞") && text.contains("inf"), "\(text)")
        // Nothing evaluated yet: the block says it is waiting.
        var none = Fixture.snapshot
        for i in none.methods.indices {
            for e in none.methods[i].epochs.indices { none.methods[i].epochs[e].sensitivity = nil }
        }
        let waiting = DashboardView.render(none, try Self.state(lambda: 1.5), width: 120, height: 40)
        try snapshots.check("confounding-waiting-120x40", waiting)
        #expect(Self.panelLines(waiting).contains { $0.contains("hidden confounding: waiting for an evaluation") })
    }

    /// What the block reads: Λ* of V_DR (the header says so), FT's "no gain", the bounds at the
    /// Λ shown, the selected method's row highlighted.
    @Test func rowsReadTheAnalyses() throws {
        let s = Fixture.snapshot
        let v = try Self.state(lambda: 2)
        let b = DashboardView.render(s, v, width: 120, height: 40)
        let lines = Self.panelLines(b)
        #expect(lines.contains { $0.hasPrefix("hidden confounding at Λ = 2.00 (< > to change)") }, "\(lines)")
        #expect(lines.contains { $0.contains("Λ* (V_DR)") && $0.contains("Λ* 95%") && $0.contains("[lower, upper]") })
        let cpo = try #require(s.methods.first { $0.method == .cpo }?.epochs.last?.sensitivity(.dr))
        let bound = try #require(cpo.bound(at: 2))
        let row = try #require(lines.first { $0.hasPrefix("CPO ") })
        #expect(row.contains(String(format: "[%.2f, %.2f]", bound.lower, bound.upper)), "\(row)")
        #expect(row.contains(String(format: "%.2f", try #require(cpo.breakdown))), "\(row)")
        #expect(lines.first { $0.hasPrefix("FT ") }?.contains("no gain") == true)
        // The selected method's row (CPO) is drawn in the selected style.
        let y = try #require(b.plainText().split(separator: "\n").firstIndex { $0.contains("│CPO ") && $0.contains("[") })
        let x = try #require(Array(b.plainText().split(separator: "\n")[y]).firstIndex(of: "C"))
        #expect(b[x, y].style == v.theme.text.merged(with: v.theme.selected))
    }

    /// The compare table adds Λ* (V_DR) where it fits without cutting a cell: at 120x40, not at 80x24.
    @Test func compareTableShowsBreakdownWhereItFits() throws {
        let v = ViewSnapshotTests.state(.compare)
        let wide = DashboardView.render(Fixture.snapshot, v, width: 120, height: 40).plainText().split(separator: "\n")
        let cpo = try #require(Fixture.snapshot.methods.first { $0.method == .cpo }?.epochs.last?.sensitivity(.dr)?.breakdown)
        #expect(wide.contains { $0.contains("invalid  Λ* V_DR") })
        #expect(wide.first { $0.hasPrefix("│CPO ") }?.hasSuffix(String(format: "%.2f│", cpo)) == true)
        #expect(wide.first { $0.hasPrefix("│FT ") }?.hasSuffix("no gain│") == true)
        let narrow = DashboardView.render(Fixture.snapshot, v, width: 80, height: 24).plainText()
        #expect(!narrow.contains("Λ*"))
    }

    @Test func lambdaAndBreakdownAreWrittenPlainly() {
        #expect(DashboardView.lambdaText(1.5) == "1.50")
        #expect(DashboardView.lambdaText(12.34) == "12.3")
        #expect(DashboardView.lambdaText(119.4) == "119")
        #expect(DashboardView.lambdaText(.infinity) == "∞")
        #expect(DashboardView.lambdaText(.infinity, .ascii) == "inf")
        #expect(DashboardView.breakdownText(1) == "no gain")
        #expect(DashboardView.breakdownText(nil) == "–")
        #expect(DashboardView.breakdownText(.infinity, .ascii) == "inf")
        #expect(DashboardView.breakdownText(2.345) == "2.35")
    }

    /// Every size from the minimum up: no line of the panel leaves it, the block's title always
    /// shows, and a cut panel keeps the selected method's row before the other methods and the
    /// attribute table.
    @Test func degradesWithoutGarbling() throws {
        var s = Fixture.snapshot
        s.hiddenTraitLambda = .infinity
        for (w, h) in [(80, 24), (90, 26), (100, 30), (120, 40), (160, 50), (200, 60)] {
            for zoomed in [false, true] {
                let b = DashboardView.render(s, try Self.state(lambda: 1.5, zoomed: zoomed), width: w, height: h)
                let lines = Self.panelLines(b)
                #expect(!lines.isEmpty, "\(w)x\(h)")
                #expect(lines.contains { $0.contains("Λ = 1.50") }, "\(w)x\(h): \(lines)")
                #expect(lines.contains { $0.hasPrefix("CPO ") }, "\(w)x\(h): \(lines)")
                let cut = lines.contains { $0.hasPrefix("attribute") } && !lines.contains { $0.hasPrefix("DR-CPO ") }
                #expect(!cut, "the attribute table stayed while a method's row went at \(w)x\(h): \(lines)")
            }
        }
    }

    // MARK: keys

    @Test func keysStepLambdaAndClampAtTheGridEnds() {
        var st = DashboardState()
        let grid = ViewState.sensitivityGrid
        #expect(st.view.sensitivityLambda == 1.5)
        _ = st.handle(.char(">"), snapshot: Fixture.snapshot)
        #expect(st.view.sensitivityLambda == 1.75 && st.view.status == "bounds at Λ = 1.75")
        for _ in 0..<(grid.count + 3) { _ = st.handle(.char(">"), snapshot: Fixture.snapshot) }
        #expect(st.view.sensitivityLambdaIndex == grid.count - 1 && st.view.status == "bounds at Λ = 10.0 (the largest)")
        for _ in 0..<(grid.count + 3) { _ = st.handle(.char("<"), snapshot: Fixture.snapshot) }
        #expect(st.view.sensitivityLambdaIndex == 0 && st.view.sensitivityLambda == 1)
        #expect(st.view.status == "bounds at Λ = 1.00 (the smallest)")
        // An index set out of range reads as the nearest end.
        st.view.sensitivityLambdaIndex = 99
        #expect(st.view.sensitivityLambda == 10)
    }

    @Test func keysAreListedKeptReadOnlyAndRebindable() throws {
        let help = Keymap.standard.helpLines()
        #expect(help.contains { $0.hasPrefix("<") && $0.contains("smaller Λ") })
        #expect(help.contains { $0.hasPrefix(">") && $0.contains("larger Λ") })
        for map in [Keymap.readOnly, Keymap.standard.withoutTrainingKeys(showing: "comparing")] {
            #expect(map.action(for: .char("<")) == .lambdaDown && map.action(for: .char(">")) == .lambdaUp)
        }
        let c = try DashboardConfig.parse("[keys]\nlambdaDown = [\"{\"]\nlambdaUp = [\"}\"]\n", file: "dashboard.toml")
        #expect(c.keymap.action(for: .char("{")) == .lambdaDown && c.keymap.action(for: .char("}")) == .lambdaUp)
        #expect(c.keymap.action(for: .char("<")) == nil)
        // The panel names the keys as bound.
        var v = try Self.state(lambda: 1.5)
        v.keymap = c.keymap
        let lines = Self.panelLines(DashboardView.render(Fixture.snapshot, v, width: 120, height: 40))
        #expect(lines.contains { $0.hasPrefix("hidden confounding at Λ = 1.50 ({ } to change)") }, "\(lines)")
    }
}
