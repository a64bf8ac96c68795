import CausalPO
import Dashboard
import Foundation
import Lab
import Testing

/// The chart keys as `state.apply(action, snapshot:)`: the loss chart's cursor, zoom, smoothing
/// and scale, and the epoch cursor where epochs are on screen.
@Suite struct ChartStateTests {
    /// CPO with `steps` steps (20 an epoch) and `epochs` evaluations (0 is FT's), DR-CPO with
    /// half the steps.
    static func snapshot(steps: Int = 400, epochs: Int = 3) -> LabSnapshot {
        var s = Lab3.snapshot()
        let records = (1...steps).map {
            StepRecord(step: $0, epoch: 1 + ($0 - 1) / 20, loss: -50 - Double($0) / 100, batchESSFraction: nil, clippedShare: 0,
                       gradNorm: 1, skipped: false)
        }
        let cpo = s.methods.firstIndex { $0.method == .cpo }!, dr = s.methods.firstIndex { $0.method == .drCPO }!
        s.methods[cpo].steps = records
        s.methods[dr].steps = Array(records.prefix(steps / 2))
        s.methods[cpo].epochs = (0...epochs).map { Fixture.metrics(.cpo, epoch: $0, shift: 0.1 * Double($0)) }
        return s
    }

    func apply(_ actions: [Action], _ state: inout DashboardState, _ s: LabSnapshot = ChartStateTests.snapshot()) {
        for a in actions { _ = state.apply(a, snapshot: s) }
    }

    @Test func smoothingCyclesAndLogScaleToggles() {
        var st = DashboardState()
        #expect(st.view.chart.smoothing == .smoothedOverRaw && !st.view.chart.logScale)
        apply([.cycleSmoothing], &st)
        #expect(st.view.chart.smoothing == .smoothed && st.view.status.contains("EMA line only"))
        apply([.cycleSmoothing], &st)
        #expect(st.view.chart.smoothing == .raw && st.view.status.contains("raw points only"))
        apply([.cycleSmoothing], &st)
        #expect(st.view.chart.smoothing == .smoothedOverRaw)
        apply([.toggleLogScale], &st)
        #expect(st.view.chart.logScale && st.view.status.hasPrefix("loss chart: symmetric log scale"))
        apply([.toggleLogScale], &st)
        #expect(!st.view.chart.logScale && st.view.status == "loss chart: linear scale")
        // Positive losses (FT's) get a plain log scale.
        var ft = Lab3.snapshot()
        ft.ftSteps = (1...30).map { StepRecord(step: $0, epoch: 1, loss: 5 / Double($0), batchESSFraction: nil, clippedShare: 0,
                                               gradNorm: .nan, skipped: false) }
        _ = st.apply(.toggleLogScale, snapshot: ft)
        #expect(st.view.status == "loss chart: log scale")
        _ = st.apply(.toggleLogScale, snapshot: ft)
        // The keys are the ones the key map binds.
        #expect(st.handle(.char("e"), snapshot: Self.snapshot()).isEmpty && st.view.chart.smoothing == .smoothed)
        _ = st.handle(.char("l"), snapshot: Self.snapshot())
        #expect(st.view.chart.logScale)
    }

    @Test func theStepCursorStartsAtTheLastStepAndStaysInTheSteps() {
        var st = DashboardState()
        apply([.cursorLeft], &st)
        #expect(st.view.chart.stepCursor == 400)
        // 400 steps shown: 10 steps a press (1/40 of them).
        apply([.cursorLeft, .cursorLeft], &st)
        #expect(st.view.chart.stepCursor == 380)
        apply([.cursorRight, .cursorRight, .cursorRight], &st)
        #expect(st.view.chart.stepCursor == 400)
        apply(Array(repeating: .cursorLeft, count: 50), &st)
        #expect(st.view.chart.stepCursor == 1)
        // A short run moves a step a press.
        var short = DashboardState()
        apply([.cursorRight, .cursorLeft, .cursorLeft], &short, Self.snapshot(steps: 30))
        #expect(short.view.chart.stepCursor == 28)
        // No steps yet: nothing to put a cursor on, and the status says so.
        var none = DashboardState()
        _ = none.apply(.cursorLeft, snapshot: Lab3.snapshot())
        #expect(none.view.chart.stepCursor == nil && none.view.status == "loss chart: no steps yet")
    }

    @Test func zoomHalvesAroundTheCursorAndResetShowsEverything() {
        var st = DashboardState()
        apply([.zoomIn], &st)
        // Around the middle without a cursor: 200 of 400 steps.
        #expect(st.view.chart.stepWindow == 100...299 && st.view.status == "loss chart: steps 100-299 of 400")
        apply([.cursorLeft], &st)
        #expect(st.view.chart.stepCursor == 299)
        apply([.zoomIn], &st)
        #expect(st.view.chart.stepWindow == 249...348)
        apply([.zoomIn, .zoomIn, .zoomIn, .zoomIn], &st)
        #expect(st.view.chart.stepWindow?.count == 8 && st.view.chart.stepWindow?.contains(299) == true)
        apply([.zoomIn], &st)
        #expect(st.view.chart.stepWindow?.count == 8 && st.view.status.contains("as far as it goes"))
        apply([.zoomOut], &st)
        #expect(st.view.chart.stepWindow?.count == 16 && st.view.chart.stepWindow?.contains(299) == true)
        // Near the end the window stays inside the steps.
        var end = DashboardState()
        apply([.cursorRight, .zoomIn, .zoomIn], &end)
        #expect(end.view.chart.stepWindow == 301...400)
        apply([.zoomOut, .zoomOut], &end)
        #expect(end.view.chart.stepWindow == nil && end.view.status == "loss chart: every step")
        apply([.resetZoom], &st)
        #expect(st.view.chart.stepWindow == nil && st.view.chart.stepCursor == nil)
    }

    @Test func theWindowPansToFollowTheCursor() {
        var st = DashboardState()
        apply([.cursorRight, .zoomIn, .zoomIn, .zoomIn], &st)
        let w = st.view.chart.stepWindow
        #expect(w == 351...400)
        // 50 steps shown: a step a press; the window moves once the cursor leaves it.
        apply(Array(repeating: .cursorLeft, count: 49), &st)
        #expect(st.view.chart.stepCursor == 351 && st.view.chart.stepWindow == 351...400)
        apply([.cursorLeft, .cursorLeft], &st)
        #expect(st.view.chart.stepCursor == 349 && st.view.chart.stepWindow == 349...398)
        apply(Array(repeating: .cursorLeft, count: 400), &st)
        #expect(st.view.chart.stepCursor == 1 && st.view.chart.stepWindow == 1...50)
    }

    @Test func aWindowBeyondTheStepsIsClampedOrDropped() {
        var chart = ChartViewState()
        chart.stepWindow = 90...130
        #expect(chart.shownSteps(count: 100) == 90...100)
        #expect(chart.shownSteps(count: 50) == nil)
        chart.stepWindow = 1...100
        #expect(chart.shownSteps(count: 100) == nil)
        #expect(chart.shownSteps(count: 0) == nil)
    }

    @Test func whereEpochsAreShownTheArrowsMoveTheEpochCursor() {
        var st = DashboardState()
        st.view.selectedMethod = 1   // CPO: epochs 0...3
        st.view.focus = .weights
        apply([.cursorLeft], &st)
        #expect(st.view.chart.epochCursor == 2 && st.view.chart.stepCursor == nil)
        apply([.cursorLeft, .cursorLeft, .cursorLeft, .cursorLeft], &st)
        #expect(st.view.chart.epochCursor == 0)
        // Back on the last epoch the cursor follows new ones again (nil).
        apply([.cursorRight, .cursorRight, .cursorRight], &st)
        #expect(st.view.chart.epochCursor == nil)
        apply([.cursorRight], &st)
        #expect(st.view.chart.epochCursor == nil)
        // The learning curves shown, whatever the focus.
        var curves = DashboardState()
        curves.view.selectedMethod = 1
        curves.view.showCurves = true
        apply([.cursorLeft], &curves)
        #expect(curves.view.chart.epochCursor == 2 && curves.view.chart.stepCursor == nil)
        // A cursor past the selected method's epochs counts from its last one.
        curves.view.chart.epochCursor = 9
        apply([.cursorLeft], &curves)
        #expect(curves.view.chart.epochCursor == 2)
        // A method without evaluations: nothing moves.
        var ft = DashboardState()
        ft.view.focus = .weights
        _ = ft.apply(.cursorLeft, snapshot: Lab3.snapshot())
        #expect(ft.view.chart.epochCursor == nil && ft.view.status == "no epochs yet")
    }
}
