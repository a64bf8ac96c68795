// CausalPO: the methods (`Method`, each described by a `MethodDescription`) and their
// objectives as pure functions of per-sequence log-probs, outcome models, the estimators
// (`Estimator`, an ordered list every consumer loops over) and diagnostics. It never sees a
// network.
