import Lab

extension ChartViewState {
    /// Zooming in stops at a window of this many steps.
    public static let minStepWindow = 8
    /// `←` and `→` move the step cursor by one step, or by this share of the steps shown when
    /// more are shown (about one plot column of a panel): 1/40.
    public static let cursorStepsPerWindow = 40

    /// The steps the loss chart shows of `count` (1...count): the window clamped to them; nil
    /// for all of them (no window, or one that no longer overlaps the steps).
    public func shownSteps(count: Int) -> ClosedRange<Int>? {
        guard let w = stepWindow, count > 0 else { return nil }
        let lo = max(1, w.lowerBound), hi = min(count, w.upperBound)
        return lo <= hi && (lo > 1 || hi < count) ? lo...hi : nil
    }
}

/// The charts' interactive state: the cursor, the loss chart's zoom, smoothing and scale.
extension DashboardState {
    /// A chart key (cursor, zoom, smoothing, log scale).
    ///
    /// - `←` `→`: the step cursor of the loss chart (the first press puts it on the last step
    ///   shown; then one step, or 1/40 of the steps shown, a press; a zoomed window pans to
    ///   keep it in view), or, where epochs are shown (the Weights panel focused, the learning
    ///   curves shown, the compare view), the epoch cursor over the selected method's epochs
    ///   (reaching the last epoch it follows new ones again: nil).
    /// - `+` `-`: halve or double the window of steps, around the cursor (or the window's
    ///   middle), from `ChartViewState.minStepWindow` steps to all of them; `0`: all steps,
    ///   cursor off.
    /// - `e`: smoothed over raw, smoothed, raw; `l`: log scale on and off.
    mutating func applyChart(_ action: Action, snapshot: LabSnapshot) {
        switch action {
        case .cycleSmoothing:
            let all = ChartViewState.Smoothing.allCases
            view.chart.smoothing = all[((all.firstIndex(of: view.chart.smoothing) ?? 0) + 1) % all.count]
            view.status = switch view.chart.smoothing {
            case .smoothedOverRaw: "loss chart: EMA line over the raw points"
            case .smoothed: "loss chart: EMA line only"
            case .raw: "loss chart: raw points only"
            }
        case .toggleLogScale:
            view.chart.logScale.toggle()
            let losses = LossChartData.of(snapshot).lines.map { $0.records.map(\.loss) }
            view.status = !view.chart.logScale ? "loss chart: linear scale"
                : DashboardView.lossAxis(true, losses) == .log ? "loss chart: log scale"
                : "loss chart: symmetric log scale (sign·log10(1+|loss|): some losses are not positive)"
        case .resetZoom:
            view.chart.stepWindow = nil
            view.chart.stepCursor = nil
            view.status = "loss chart: every step, cursor off"
        case .cursorLeft, .cursorRight:
            let by = action == .cursorLeft ? -1 : 1
            if epochsShown { moveEpochCursor(by: by, snapshot) } else { moveStepCursor(by: by, count: LossChartData.of(snapshot).count) }
        case .zoomIn, .zoomOut:
            zoom(in: action == .zoomIn, count: LossChartData.of(snapshot).count)
        default: break
        }
    }

    /// Whether `←` `→` move the epoch cursor: where epochs, not steps, are on screen.
    var epochsShown: Bool {
        view.showCurves || view.view == .compare || (view.view == .dashboard && view.focus == .weights)
    }

    /// Moves the step cursor `by` presses over `count` steps; a window pans to follow it.
    mutating func moveStepCursor(by presses: Int, count: Int) {
        guard count > 0 else {
            view.status = "loss chart: no steps yet"
            return
        }
        let shown = view.chart.shownSteps(count: count) ?? 1...count
        guard let cursor = view.chart.stepCursor else {
            view.chart.stepCursor = shown.upperBound
            return
        }
        let step = max(1, shown.count / ChartViewState.cursorStepsPerWindow)
        let moved = min(count, max(1, min(count, cursor) + presses * step))
        view.chart.stepCursor = moved
        if view.chart.shownSteps(count: count) != nil, !shown.contains(moved) {
            let shift = moved < shown.lowerBound ? moved - shown.lowerBound : moved - shown.upperBound
            view.chart.stepWindow = (shown.lowerBound + shift)...(shown.upperBound + shift)
        }
    }

    /// Halves (`in`) or doubles the window of steps around the cursor, or the window's middle.
    mutating func zoom(in zoomIn: Bool, count: Int) {
        guard count > 0 else {
            view.status = "loss chart: no steps yet"
            return
        }
        let shown = view.chart.shownSteps(count: count) ?? 1...count
        let length = zoomIn ? max(min(ChartViewState.minStepWindow, count), (shown.count + 1) / 2) : shown.count * 2
        if zoomIn && length >= shown.count {
            view.status = "loss chart: zoomed in as far as it goes (\(shown.count) steps)"
            return
        }
        if length >= count {
            view.chart.stepWindow = nil
            view.status = "loss chart: every step"
            return
        }
        let centre = view.chart.stepCursor.map { min(count, max(1, $0)) } ?? (shown.lowerBound + shown.upperBound) / 2
        let lower = min(max(1, centre - length / 2), count - length + 1)
        view.chart.stepWindow = lower...(lower + length - 1)
        view.status = "loss chart: steps \(lower)-\(lower + length - 1) of \(count)"
    }

    /// Moves the epoch cursor `by` epochs over the selected method's epochs.
    mutating func moveEpochCursor(by presses: Int, _ snapshot: LabSnapshot) {
        let epochs = DashboardView.selected(snapshot, view)?.epochs.map(\.epoch) ?? []
        guard !epochs.isEmpty else {
            view.status = "no epochs yet"
            return
        }
        let now = DashboardView.epochIndex(view.chart.epochCursor, in: epochs)
        let next = min(epochs.count - 1, max(0, now + presses))
        view.chart.epochCursor = next == epochs.count - 1 ? nil : epochs[next]
    }
}

extension DashboardView {
    /// The index in `epochs` (ascending epoch numbers) of the epoch cursor: the last epoch at
    /// or before it (the first when it is before them all); the last for nil.
    static func epochIndex(_ cursor: Int?, in epochs: [Int]) -> Int {
        guard let cursor else { return max(0, epochs.count - 1) }
        return epochs.lastIndex { $0 <= cursor } ?? 0
    }
}
