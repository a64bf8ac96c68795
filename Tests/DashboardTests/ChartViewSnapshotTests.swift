import CausalPO
import Dashboard
import Foundation
import Lab
import Testing

extension Fixture {
    /// The fixture during preparation: FT has trained 150 steps (the loss falls from about 6
    /// towards 1, with noise), ĝ and the methods are still to come.
    static let preparing: LabSnapshot = {
        var s = snapshot
        s.phase = .preparing(stage: .ft, fraction: 0.4, message: "FT step 150, loss 1.114")
        s.ftSteps = (1...150).map { i in
            let x = Double(i)
            return StepRecord(step: i, epoch: 1 + (i - 1) / 40, loss: 0.9 + 5 * exp(-x / 35) + 0.25 * sin(x * 1.7) * exp(-x / 120),
                              batchESSFraction: nil, clippedShare: 0, gradNorm: .nan, skipped: false)
        }
        s.ftHistory = Array(s.ftHistory.prefix(3))
        s.methods = s.config.methods.map { MethodSnapshot(method: $0) }
        s.ghatQuality = nil
        s.attributeEffects = []
        s.traitImbalance = []
        s.lastSave = nil
        return s
    }()
}

/// The loss chart and the Weights panel as text: zoomed, with the cursor and a window, raw
/// only, on a log scale; and FT's losses live during preparation.
extension ViewSnapshotTests {
    static func zoomed(_ panel: Panel) -> ViewState {
        var v = state()
        v.selectedMethod = 1
        v.zoomed = true
        v.focus = panel
        return v
    }

    @Test func zoomedLossChartStates() throws {
        try check("zoomed-loss-120x40", DashboardView.render(Fixture.snapshot, Self.zoomed(.loss), width: 120, height: 40))
        var v = Self.zoomed(.loss)
        v.chart.stepWindow = 11...30
        v.chart.stepCursor = 20
        let cursor = DashboardView.render(Fixture.snapshot, v, width: 120, height: 40)
        try check("zoomed-loss-cursor-120x40", cursor)
        // The readout: CPO's loss at step 20 and its EMA (weight 0.5 over 40 steps), by hand.
        let cpo = try #require(Fixture.snapshot.method(.cpo)).steps.map(\.loss)
        let ema = EMA.smooth(cpo, weight: 0.5)
        let readout = "step 20 (epoch 1): CPO \(Widgets.formatCompact(cpo[19])) (EMA \(Widgets.formatCompact(ema[19])))  DR-CPO"
        #expect(cursor.line(37).hasPrefix("│" + readout), "\(cursor.line(37))")
        #expect(cursor.line(36).contains("11") && cursor.line(36).contains("30"))
        v.chart.smoothing = .raw
        v.chart.stepWindow = nil
        v.chart.stepCursor = nil
        try check("zoomed-loss-raw-80x24", DashboardView.render(Fixture.snapshot, v, width: 80, height: 24))
        v.chart.smoothing = .smoothedOverRaw
        v.chart.logScale = true
        let log = DashboardView.render(Fixture.snapshot, v, width: 80, height: 24)
        try check("zoomed-loss-log-80x24", log)
        #expect(log.line(2).contains("EMA 0.5 over raw, symlog"))
        // The cursor in the dashboard's small panel at 80x24 (a readout row under the chart).
        var small = Self.state()
        small.selectedMethod = 1
        small.chart.stepCursor = 12
        try check("dashboard-loss-cursor-80x24", DashboardView.render(Fixture.snapshot, small, width: 80, height: 24))
    }

    @Test func zoomedWeightsPanel() throws {
        try check("zoomed-weights-120x40", DashboardView.render(Fixture.snapshot, Self.zoomed(.weights), width: 120, height: 40))
        var v = Self.zoomed(.weights)
        v.chart.epochCursor = 1
        let earlier = DashboardView.render(Fixture.snapshot, v, width: 80, height: 24)
        try check("zoomed-weights-80x24", earlier)
        #expect(earlier.line(3).hasPrefix("│epoch 1 of 2:") && earlier.plainText().contains("log w at epoch 1"))
        v.glyphs = .ascii
        let ascii = DashboardView.render(Fixture.snapshot, v, width: 120, height: 40).plainText()
        #expect(Self.drawingCharacters(ascii).isEmpty && ascii.contains(": 5-95%  # 25-75%  = median"), "\(ascii)")
    }

    /// During preparation the Loss panel draws FT's training losses as they come.
    @Test func preparationShowsFTsLiveLosses() throws {
        for (w, h) in Self.sizes {
            let b = DashboardView.render(Fixture.preparing, Self.state(), width: w, height: h)
            try check("dashboard-preparing-\(w)x\(h)", b)
            #expect(b.plainText().contains("FT train loss") && !b.plainText().contains(Widgets.noDataMessage))
        }
    }
}
