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

    public init(text: String, score: Double, attributes: [String], invalidSegments: [String], logRatioToFT: Double) {
        self.text = text
        self.score = score
        self.attributes = attributes
        self.invalidSegments = invalidSegments
        self.logRatioToFT = logRatioToFT
    }
}

/// One method's evaluation after one epoch (epoch 0 = FT itself).
public struct EpochMetrics: Sendable, Hashable {
    public var method: Method
    public var epoch: Int
    /// Mean training loss over the epoch's steps (nil at epoch 0 and for FT).
    public var trainLoss: Double?
    /// Every `Estimator` on the held-out rows and f0 samples.
    public var estimates: Estimates
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
    /// The ESS of the held-out f0 samples' weights P^f/P^{f0} (nil in evaluations saved before
    /// it was measured).
    public var f0Weights: EffectiveSampleSize?
    /// How much hidden confounding each estimate survives (`Sensitivity.estimators`: V_SNIPW and
    /// V_DR), measured against FT's estimate under the same estimator; nil in evaluations saved
    /// before it was measured.
    public var sensitivity: [SensitivityAnalysis]?

    public init(method: Method, epoch: Int, trainLoss: Double?, estimates: Estimates, trueValue: Estimate?,
                normalizedGain: Double?, invalidRate: Double?, attributeShares: [String: Double]?, winRateVsFT: Estimate,
                klToFT: Estimate, weights: WeightSummary, samples: [GeneratedText], seconds: Double,
                f0Weights: EffectiveSampleSize? = nil, sensitivity: [SensitivityAnalysis]? = nil) {
        self.sensitivity = sensitivity
        self.method = method
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.estimates = estimates
        self.trueValue = trueValue
        self.normalizedGain = normalizedGain
        self.invalidRate = invalidRate
        self.attributeShares = attributeShares
        self.winRateVsFT = winRateVsFT
        self.klToFT = klToFT
        self.weights = weights
        self.samples = samples
        self.seconds = seconds
        self.f0Weights = f0Weights
    }

    /// Which estimates rest on too few effective rows (or f0 samples) to mean anything, and why.
    public var reliability: EstimateReliability {
        EstimateReliability(rows: weights.effectiveSampleSize, samples: f0Weights)
    }

    /// The sensitivity analysis of `estimator` (nil when not measured).
    public func sensitivity(_ estimator: Estimator) -> SensitivityAnalysis? {
        sensitivity?.first { $0.estimator == estimator }
    }
}

/// One JSON object per evaluation (metrics.jsonl lines, checkpoints): the fields by name, and
/// each estimate beside them under its `Estimator.metricsKey` ("vDR", ...), as since the first
/// checkpoint format.
extension EpochMetrics: Codable {
    private enum CodingKeys: String, CodingKey {
        case method, epoch, trainLoss, trueValue, normalizedGain, invalidRate, attributeShares, winRateVsFT, klToFT,
             weights, samples, seconds, f0Weights, sensitivity
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            method: try c.decode(Method.self, forKey: .method), epoch: try c.decode(Int.self, forKey: .epoch),
            trainLoss: try c.decodeIfPresent(Double.self, forKey: .trainLoss), estimates: try Estimates(from: decoder),
            trueValue: try c.decodeIfPresent(Estimate.self, forKey: .trueValue),
            normalizedGain: try c.decodeIfPresent(Double.self, forKey: .normalizedGain),
            invalidRate: try c.decodeIfPresent(Double.self, forKey: .invalidRate),
            attributeShares: try c.decodeIfPresent([String: Double].self, forKey: .attributeShares),
            winRateVsFT: try c.decode(Estimate.self, forKey: .winRateVsFT), klToFT: try c.decode(Estimate.self, forKey: .klToFT),
            weights: try c.decode(WeightSummary.self, forKey: .weights), samples: try c.decode([GeneratedText].self, forKey: .samples),
            seconds: try c.decode(Double.self, forKey: .seconds),
            f0Weights: try c.decodeIfPresent(EffectiveSampleSize.self, forKey: .f0Weights),
            sensitivity: try c.decodeIfPresent([SensitivityAnalysis].self, forKey: .sensitivity))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encode(epoch, forKey: .epoch)
        try c.encodeIfPresent(trainLoss, forKey: .trainLoss)
        try estimates.encode(to: encoder)
        try c.encodeIfPresent(trueValue, forKey: .trueValue)
        try c.encodeIfPresent(normalizedGain, forKey: .normalizedGain)
        try c.encodeIfPresent(invalidRate, forKey: .invalidRate)
        try c.encodeIfPresent(attributeShares, forKey: .attributeShares)
        try c.encode(winRateVsFT, forKey: .winRateVsFT)
        try c.encode(klToFT, forKey: .klToFT)
        try c.encode(weights, forKey: .weights)
        try c.encode(samples, forKey: .samples)
        try c.encode(seconds, forKey: .seconds)
        try c.encodeIfPresent(f0Weights, forKey: .f0Weights)
        try c.encodeIfPresent(sensitivity, forKey: .sensitivity)
    }
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

/// One held-out f0 sample as the estimators saw it: f0-METHOD-seedK.csv in reports. With the
/// rows of rows-METHOD-seedK.csv it is everything V_OUT and V_DR are computed from.
public struct HeldOutF0Sample: Sendable, Hashable, Codable {
    public var text: String
    /// log P^{f0}(X̃), the density the sample was drawn from.
    public var logP0: Double
    /// log P^f(X̃) under the method's model.
    public var logPF: Double
    public var ghat: Double
    /// The self-normalized weight of the sample among all held-out f0 samples.
    public var weight: Double
}

/// How the columns of the training rows move together (the data view): each attribute with the
/// outcome and with the reader trait, and the trait with the outcome. Pearson correlations;
/// NaN where a column is constant.
public struct DataCorrelations: Sendable, Hashable, Codable {
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

/// The JSON of metrics.jsonl and of the checkpoints' metadata: sorted keys, and the non-finite
/// numbers JSON has no word for written as the strings "inf", "-inf" and "nan". Every writer and
/// reader of those files (the report, checkpoints, `cpo-tui watch`) takes its coder from here.
public enum MetricsJSON {
    public static func encoder() -> JSONEncoder {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return enc
    }

    public static func decoder() -> JSONDecoder {
        let dec = JSONDecoder()
        dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return dec
    }
}
