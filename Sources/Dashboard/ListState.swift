import Lab

/// The lists' interactive state: scrolling, filtering, matches.
extension DashboardState {
    /// A list key (page up/down, top, end, filter, next/previous match).
    mutating func applyList(_ action: Action, snapshot: LabSnapshot) {
        // Filled in by the lists work (issue 13, item 5).
    }
}
