/// CausalPO: objectives as pure functions of per-sequence log-probs, outcome models,
/// estimators and diagnostics. It never sees a network. Filled by issue 4.
import CPOSupport

public enum CausalPOInfo {
    public static let summary = "causal objectives, outcome models, estimators"
}
