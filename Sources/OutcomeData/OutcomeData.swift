/// OutcomeData: direct-outcome datasets (CSV, TSV, JSON Lines), splits and simulated worlds.
/// It depends on CPOSupport, and on TOMLSupport and TOMLKit for world files.
