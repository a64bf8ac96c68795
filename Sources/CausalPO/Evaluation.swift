import Foundation

/// What one evaluation of a policy reads off its log-probabilities alone: every `Estimator`,
/// the held-out rows' weight summary (ESS, percentiles of log w, overlap) and the f0 samples'
/// ESS. The lab's evaluation (`Experiment.evaluate`) and `cpo-tui estimate` / `watch` on rows
/// and f0 files written elsewhere both compute it here, so the same files give the same numbers.
public struct HeldOutEvaluation: Sendable, Hashable {
    public var estimates: Estimates
    /// The held-out rows' weights P^f/P^R.
    public var weights: WeightSummary
    /// The f0 samples' weights P^f/P^{f0}; nil when there are none to measure (rows only).
    public var f0Weights: EffectiveSampleSize?

    /// Every estimator on `inputs`, the rows' weight summary over batches of `batchSize`, and
    /// the f0 samples' ESS (nil when `inputs` holds no f0 samples and `measureEmptyF0` is false).
    public init(_ inputs: EstimatorInputs, batchSize: Int, measureEmptyF0: Bool = true) {
        estimates = Estimates(inputs)
        weights = Diagnostics.weightSummary(logP: inputs.logP, logPR: inputs.logPR, batchSize: batchSize)
        f0Weights = inputs.sampleLogP.isEmpty && !measureEmptyF0
            ? nil : EffectiveSampleSize(logWeights: Estimators.logRatios(inputs.sampleLogP, inputs.sampleLogP0))
    }

    /// Which estimates rest on too few effective rows (or f0 samples) to mean anything.
    public var reliability: EstimateReliability { EstimateReliability(rows: weights.effectiveSampleSize, samples: f0Weights) }
}
