import Lab

/// The charts' interactive state: the cursor, the loss chart's zoom, smoothing and scale.
extension DashboardState {
    /// A chart key (cursor, zoom, smoothing, log scale).
    mutating func applyChart(_ action: Action, snapshot: LabSnapshot) {
        // Filled in by the loss-chart work (issue 13, item 2).
    }
}
