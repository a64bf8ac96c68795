import Lab

/// Clicks and wheel turns.
extension DashboardState {
    /// A mouse event on a screen of `size`: a click selects a method or focuses a panel, the
    /// wheel scrolls the list under it.
    public mutating func handleMouse(_ event: MouseEvent, snapshot: LabSnapshot, size: TerminalSize) {
        // Filled in by the mouse work (issue 13, item 6).
    }
}
