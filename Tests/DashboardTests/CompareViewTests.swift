import CausalPO
import Foundation
import Lab
import Testing
import Dashboard

extension Fixture {
    /// The fixture on user data: no world, so no true value, gain or V*.
    static let userData: LabSnapshot = {
        var s = snapshot
        s.worldName = nil
        s.vStar = nil
        s.sourceLabel = "csv:clean-up-emails.csv"
        for i in s.methods.indices {
            for k in s.methods[i].epochs.indices {
                s.methods[i].epochs[k].trueValue = nil
                s.methods[i].epochs[k].normalizedGain = nil
                s.methods[i].epochs[k].invalidRate = nil
            }
        }
        return s
    }()

    /// One seed's evaluations of FT, CPO and DR-CPO over `epochs` epochs, each epoch moving a
    /// method by `step` (seeds differ in their steps).
    static func seedRun(epochs: Int, step: Double) -> [Method: [EpochMetrics]] {
        [.ft: [metrics(.ft, epoch: 0, shift: 0)],
         .cpo: (0...epochs).map { metrics(.cpo, epoch: $0, shift: Double($0) * step) },
         .drCPO: (0...epochs).map { metrics(.drCPO, epoch: $0, shift: Double($0) * step * 1.2) }]
    }

    /// Saved runs compared: two seeds of one configuration (runA, runB: the mean and band over
    /// seeds), and a run with another learning rate (runC) on its own.
    static let comparison: LabSnapshot = {
        var cfg = LabConfig()
        cfg.methods = [.ft, .cpo, .drCPO]
        cfg.epochs = 3
        var other = cfg
        other.learningRate = 1e-4
        let seeds = RunComparison.Group(label: "runA+runB", directories: ["runs/runA", "runs/runB"], config: cfg, seeds: [0, 1, 2],
                                        runs: [0.5, 0.45, 0.4].map { seedRun(epochs: 3, step: $0) }, world: true, vStar: 63)
        let single = RunComparison.Group(label: "runC", directories: ["runs/runC"], config: other, seeds: [0],
                                         runs: [seedRun(epochs: 2, step: 0.9)], world: true, vStar: 63)
        var s = snapshot
        s.config = cfg
        s.methods = [method(.ft, epochs: 0, shift: 0), method(.cpo, epochs: 3, shift: 0.5), method(.drCPO, epochs: 3, shift: 0.6)]
        s.runDirectory = nil
        s.lastSave = nil
        s.phase = .finished
        s.comparison = RunComparison(groups: [seeds, single])
        return s
    }()
}

/// The compare view (learning curves and the table), the Curves panel and compared runs, as
/// golden text and by what they must show.
@Suite("compare view and curves")
struct CompareViewTests {
    let goldens = ViewSnapshotTests()

    func render(_ s: LabSnapshot, _ v: ViewState, _ w: Int, _ h: Int) -> CellBuffer {
        DashboardView.render(s, v, width: w, height: h)
    }

    func state(_ kind: ViewKind, selected: Int = 1, cursor: Int? = nil, glyphs: Glyphs = .unicode) -> ViewState {
        var v = ViewSnapshotTests.state(kind)
        v.selectedMethod = selected
        v.chart.epochCursor = cursor
        v.glyphs = glyphs
        return v
    }

    @Test func userDataAtBothSizes() throws {
        for (w, h) in ViewSnapshotTests.sizes {
            let b = render(Fixture.userData, state(.compare), w, h)
            try goldens.check("compare-data-\(w)x\(h)", b)
            let text = b.plainText()
            // No world: no true value and no normalized gain (Λ* may read "no gain").
            let withoutBreakdowns = text.replacingOccurrences(of: "no gain", with: "")
            #expect(text.contains("V_DR by epoch, 95% band") && !text.contains("true value") && !withoutBreakdowns.contains("gain"), "\(text)")
        }
    }

    @Test func theCursorEpochIsReadOut() throws {
        let b = render(Fixture.snapshot, state(.compare, cursor: 1), 120, 40)
        try goldens.check("compare-cursor-120x40", b)
        let text = b.plainText()
        #expect(text.contains("Compare: all methods, epoch 1"))
        // CPO's epoch 1 (shift 0.5): true value 54.4; DR-CPO's (shift 0.6): 54.6.
        let lines = text.split(separator: "\n")
        let cpo = try #require(lines.first { $0.contains("│CPO ") })
        #expect(cpo.contains("CPO      1") && cpo.contains("54.40±0.69"), "\(cpo)")
        #expect(text.contains("epoch 1: ━ FT –  ━ CPO 54.4  ━ DR-CPO 54.6"), "\(text)")
        // DPO failed before epoch 1: no evaluation there.
        let dpo = try #require(lines.first { $0.contains("│DPO ") })
        #expect(dpo.contains("DPO      –") && dpo.contains("–"))
    }

    @Test func curvesPanelAtBothSizes() throws {
        for (w, h) in ViewSnapshotTests.sizes {
            var v = state(.dashboard)
            v.showCurves = true
            let b = render(Fixture.snapshot, v, w, h)
            try goldens.check("curves-\(w)x\(h)", b)
            let text = b.plainText()
            let title = w == 120 ? "Curves: true value by epoch, 95% band" : "Curves: true value by epoc…"
            #expect(text.contains(title) && !text.contains("Loss (per step"), "\(text)")
            #expect(text.contains("CPO epoch 2: gain 0.250"), "\(text)")
        }
        var v = state(.dashboard)
        v.showCurves = true
        let wide = render(Fixture.snapshot, v, 120, 40).plainText()
        #expect(wide.contains("CPO epoch 2: gain 0.250  ESS 0.64  KL 0.50"), "\(wide)")
        // The cursor's epoch, in the legend and the readout; DR-CPO selected, drawn bold.
        v.chart.epochCursor = 1
        v.selectedMethod = 2
        let b = render(Fixture.snapshot, v, 120, 40)
        let text = b.plainText()
        #expect(text.contains("epoch 1: ━ FT –  ━ CPO 54.4  ━ DR-CPO 54.6") && text.contains("DR-CPO epoch 1: gain 0.150  ESS"), "\(text)")
        // Off again: the loss chart.
        #expect(render(Fixture.snapshot, state(.dashboard), 120, 40).plainText().contains("Loss (per step"))
    }

    @Test func comparedRunsAtBothSizes() throws {
        for (w, h) in ViewSnapshotTests.sizes {
            let b = render(Fixture.comparison, state(.compare), w, h)
            try goldens.check("compare-runs-\(w)x\(h)", b)
        }
        let text = render(Fixture.comparison, state(.compare), 120, 40).plainText()
        #expect(text.contains("Compare runs, last epoch: runA+runB (seeds 0, 1, 2), runC (seed 0)"), "\(text)")
        #expect(text.contains("true value by epoch (V* = 63.00), seeds' mean ± 95%"))
        let lines = text.split(separator: "\n")
        // Three seeds moving CPO by 0.5, 0.45 and 0.4 per epoch: at epoch 3 true values 56.4,
        // 56.1 and 55.8 (53.4 + 2 x 3 x step), mean 56.1, sd 0.3, t(2) half-width
        // 4.303 x 0.3 / sqrt 3 = 0.745; gains 3 x step / 4, mean 0.3375, half-width 0.093.
        let cpoA = try #require(lines.first { $0.contains("━ CPO     runA+runB") })
        #expect(cpoA.contains("3   3  56.10±0.75  0.338±0.093"), "\(cpoA)")
        let cpoC = try #require(lines.first { $0.contains("━ CPO     runC") })
        // One seed: the estimate's own interval (SE 0.35), and no band for the gain and ESS.
        #expect(cpoC.contains("1   2  57.00±0.69        0.450       0.46  0.90±0.02"), "\(cpoC)")
        // The cursor's epoch in the title and the table; a run that did not reach it shows none.
        let cursor = render(Fixture.comparison, state(.compare, cursor: 3), 120, 40).plainText()
        #expect(cursor.contains("Compare runs, epoch 3:"))
        let cpoC3 = try #require(cursor.split(separator: "\n").first { $0.contains("━ CPO     runC") })
        #expect(cpoC3.contains("runC           0   –           –"), "\(cpoC3)")
        // ASCII: each row's mark is its series' mark in the charts.
        let ascii = render(Fixture.comparison, state(.compare, glyphs: .ascii), 120, 40).plainText()
        #expect(ascii.contains("|* FT      runA+runB") && ascii.contains("|# CPO     runC"), "\(ascii)")
    }

    @Test func asciiAndLargeScreens() throws {
        for snapshot in [Fixture.snapshot, Fixture.userData, Fixture.comparison] {
            for (w, h) in [(80, 24), (120, 40), (300, 100)] {
                let text = render(snapshot, state(.compare, cursor: 2, glyphs: .ascii), w, h).plainText()
                let drawing = ViewSnapshotTests.drawingCharacters(text)
                #expect(drawing.isEmpty, "ASCII mode drew \(drawing) at \(w)x\(h)")
            }
        }
        // 300x100: the charts take the screen below a table of 4 rows: each chart is about 45 rows high.
        let big = render(Fixture.snapshot, state(.compare), 300, 100)
        let titles = (0..<big.height).filter { big.line($0).contains("by epoch") }
        #expect(titles.count == 2 && titles[1] - titles[0] >= 44, "\(titles)")
    }
}

