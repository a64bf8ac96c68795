import CausalPO

/// How each method's evaluations change over epochs: the data of the learning-curve charts
/// (the dashboard's compare view and Curves panel, `cpo-tui compare`, report.html).
///
/// A curve has one point per epoch (0 = FT, where every method starts). Over one seed a point
/// carries the epoch's own 95% interval when the quantity has one (the value, KL to FT); over
/// several seeds it is the mean of the seeds that reached the epoch with a 95% t-interval over
/// them (`SeedSummary`, as in report.md's by-epoch tables).
public enum CurveQuantity: String, Sendable, CaseIterable, Hashable {
    /// In worlds the true value of the model's own texts; otherwise V_DR on the held-out rows.
    case value
    /// (V(f) − V(FT)) / (V* − V(FT)): worlds only.
    case gain
    /// The held-out rows' ESS as a fraction of their count.
    case ess
    /// KL(f ‖ FT) in nats per text, from the model's own samples.
    case kl

    /// The chart's title.
    public func title(world: Bool) -> String {
        switch self {
        case .value: world ? "true value" : "V_DR"
        case .gain: "normalized gain"
        case .ess: "ESS (held-out fraction)"
        case .kl: "KL to FT (nats)"
        }
    }

    /// The quantities there is data for: the gain only in worlds.
    public static func shown(world: Bool) -> [CurveQuantity] { world ? allCases : [.value, .ess, .kl] }

    /// The epoch's value of the quantity, and its own 95% interval when it has one.
    public func read(_ e: EpochMetrics, world: Bool) -> (value: Double, interval: Estimate?)? {
        switch self {
        case .value:
            guard let est = world ? e.trueValue : e.estimates[.dr] else { return nil }
            return (est.value, est)
        case .gain: return e.normalizedGain.map { ($0, nil) }
        case .ess: return (e.weights.essFraction, nil)
        case .kl: return (e.klToFT.value, e.klToFT)
        }
    }
}

/// One point of a learning curve.
public struct CurvePoint: Sendable, Hashable {
    public var epoch: Int
    public var mean: Double
    /// The 95% band (NaN when there is none: one seed and a quantity without an interval).
    public var lower: Double
    public var upper: Double
    /// How many seeds reached this epoch.
    public var seeds: Int

    public init(epoch: Int, mean: Double, lower: Double, upper: Double, seeds: Int) {
        self.epoch = epoch
        self.mean = mean
        self.lower = lower
        self.upper = upper
        self.seeds = seeds
    }
}

/// One method's curve of one quantity.
public struct LearningCurve: Sendable, Hashable {
    public var method: Method
    public var quantity: CurveQuantity
    /// In epoch order, only the epochs some seed evaluated.
    public var points: [CurvePoint]

    public init(method: Method, quantity: CurveQuantity, points: [CurvePoint]) {
        self.method = method
        self.quantity = quantity
        self.points = points
    }

    /// Every method's curve of `quantity` over `runs` (one dictionary of evaluations per seed),
    /// in `methods` order; methods no seed evaluated are left out.
    public static func curves(_ quantity: CurveQuantity, runs: [[Method: [EpochMetrics]]], methods: [Method],
                              world: Bool) -> [LearningCurve] {
        methods.compactMap { m in
            let perSeed = runs.compactMap { $0[m] }.filter { !$0.isEmpty }
            let epochs = Set(perSeed.flatMap { $0.map(\.epoch) }).sorted()
            let points: [CurvePoint] = epochs.compactMap { epoch in
                let read = perSeed.compactMap { $0.first { $0.epoch == epoch } }.compactMap { quantity.read($0, world: world) }
                    .filter { $0.value.isFinite }
                guard !read.isEmpty else { return nil }
                let summary = SeedSummary(read.map(\.value), single: read.count == 1 ? read[0].interval : nil)
                return CurvePoint(epoch: epoch, mean: summary.mean, lower: summary.lower, upper: summary.upper, seeds: read.count)
            }
            return points.isEmpty ? nil : LearningCurve(method: m, quantity: quantity, points: points)
        }
    }

    /// The curves of one session's snapshot (a single seed).
    public static func curves(_ quantity: CurveQuantity, snapshot: LabSnapshot) -> [LearningCurve] {
        let run = Dictionary(snapshot.methods.map { ($0.method, $0.epochs) }, uniquingKeysWith: { a, _ in a })
        return curves(quantity, runs: [run], methods: snapshot.methods.map(\.method), world: snapshot.worldName != nil)
    }
}
