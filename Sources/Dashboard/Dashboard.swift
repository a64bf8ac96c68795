/// Dashboard: draws Lab snapshots into an in-memory cell buffer; never calls ncurses.
/// Filled by issue 6.
import Lab

public enum DashboardInfo {
    public static let summary = "terminal dashboard views"
}
