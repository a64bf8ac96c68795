/// OutcomeData: direct-outcome datasets (CSV, JSON Lines), splits and simulated worlds.
/// Filled by issue 3; it depends only on CPOSupport.
import CPOSupport

public enum OutcomeDataInfo {
    public static let summary = "direct-outcome datasets and simulated worlds"
}
