import CausalPO
import Foundation
import OutcomeData

/// A generated text with what the judge and the models say about it.
public struct GeneratedText: Sendable, Hashable, Codable {
    public var text: String
    /// g*(x) in worlds; the judge ĝ's prediction for user data.
    public var score: Double
    /// Attributes the oracle matched (worlds), in text order.
    public var attributes: [String]
    public var invalidSegments: [String]
    /// log P^f(x) − log P^FT(x).
    public var logRatioToFT: Double
}

/// One method's evaluation after one epoch (epoch 0 = FT itself).
public struct EpochMetrics: Sendable, Hashable, Codable {
    public var method: String
    public var epoch: Int
    /// Mean training loss over the epoch's steps (nil at epoch 0 and for FT).
    public var trainLoss: Double?
    public var vIPW: Estimate
    public var vSNIPW: Estimate
    public var vDR: Estimate
    public var vOUT: Estimate
    /// The DR residual term Σ w (Y − ĝ) on the held-out rows.
    public var drResidual: Estimate
    /// Worlds: the true value (mean g* over the model's own samples), its normalized gain
    /// (V(f) − V(FT)) / (V* − V(FT)) and the share of samples with an invalid segment.
    public var trueValue: Estimate?
    public var normalizedGain: Double?
    public var invalidRate: Double?
    /// Worlds: share of the model's samples that contain each attribute (by name).
    public var attributeShares: [String: Double]?
    /// Win rate against FT on continuations of truncated held-out texts (ties count half).
    public var winRateVsFT: Estimate
    /// KL(f ‖ FT) from the model's own samples (nats per text).
    public var klToFT: Estimate
    /// Importance weights of the held-out rows (log-ratio histogram, ESS, overlap).
    public var weights: WeightSummary
    /// A few of the model's samples.
    public var samples: [GeneratedText]
    public var seconds: Double
}

/// One held-out row as the estimators saw it: rows.csv in reports.
public struct HeldOutRow: Sendable, Hashable, Codable {
    public var text: String
    /// Y, oriented so that larger is better.
    public var outcome: Double
    public var logPF: Double
    public var logPR: Double
    public var ghat: Double
    /// The self-normalized (Hajek) importance weight of the row.
    public var weight: Double
}

/// How the columns of the training rows move together (the data view): each attribute with the
/// outcome and with the reader trait, and the trait with the outcome. Pearson correlations;
/// NaN where a column is constant.
public struct DataCorrelations: Sendable, Hashable, Codable {
    /// How many rows the data view lists.
    public static let previewRows = 200

    public var attributeNames: [String]
    public var attributeOutcome: [Double]
    /// nil when some row has no trait.
    public var attributeTrait: [Double]?
    public var traitOutcome: Double?

    public init(attributeNames: [String], attributeOutcome: [Double], attributeTrait: [Double]?, traitOutcome: Double?) {
        self.attributeNames = attributeNames
        self.attributeOutcome = attributeOutcome
        self.attributeTrait = attributeTrait
        self.traitOutcome = traitOutcome
    }

    public static func of(_ rows: [OutcomeRow], attributeNames: [String]) -> DataCorrelations {
        let y = rows.map(\.outcome)
        let column = { (j: Int) in rows.map { j < $0.attributes.count ? $0.attributes[j] : 0 } }
        let traits = rows.compactMap(\.trait)
        let hasTrait = !rows.isEmpty && traits.count == rows.count
        return DataCorrelations(
            attributeNames: attributeNames,
            attributeOutcome: attributeNames.indices.map { Diagnostics.correlation(column($0), y) },
            attributeTrait: hasTrait ? attributeNames.indices.map { Diagnostics.correlation(column($0), traits) } : nil,
            traitOutcome: hasTrait ? Diagnostics.correlation(traits, y) : nil)
    }
}
