/// OutcomeData: direct-outcome datasets (CSV, JSON Lines), splits and simulated worlds.
/// It depends only on CPOSupport (and TOMLKit for world files).
import CPOSupport

public enum OutcomeDataInfo {
    public static let summary = "direct-outcome datasets and simulated worlds"
}
