import Foundation

/// Pairwise win rate of method A over method B from paired judgments: both completed the same
/// prompts, a judge scored each completion, and pair i counts 1 if A's score is higher, ½ on a
/// tie, 0 otherwise (CausalPO.docc/ValueEstimation.md, "Win rates").
public enum WinRate {
    /// The outcome of one pair: 1, ½ or 0. Scores within `tolerance` of each other tie.
    public static func pairOutcome(_ a: Double, _ b: Double, tolerance: Double = 0) -> Double {
        if abs(a - b) <= tolerance { return 0.5 }
        return a > b ? 1 : 0
    }

    /// Mean pair outcome with a 95% interval from the per-pair outcome variance (CLT:
    /// sd/√n with the n − 1 sample variance), clamped to [0, 1]. Pairs with a NaN score are
    /// dropped. With a single pair the SE is NaN and the interval is all of [0, 1].
    public static func estimate(scoresA: [Double], scoresB: [Double], tieTolerance: Double = 0) -> Estimate {
        precondition(scoresA.count == scoresB.count, "win rates need paired scores (the same prompts for A and B)")
        let outcomes = zip(scoresA, scoresB).compactMap { a, b in
            a.isNaN || b.isNaN ? nil : pairOutcome(a, b, tolerance: tieTolerance)
        }
        return estimate(pairOutcomes: outcomes)
    }

    /// Win rate from pair outcomes already judged (each 1, ½ or 0, or any value in [0, 1]).
    public static func estimate(pairOutcomes s: [Double]) -> Estimate {
        let n = s.count
        guard n > 0 else { return .undefined }
        let mean = s.reduce(0, +) / Double(n)
        let se: Double
        if n > 1 {
            let ss = s.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            se = (ss / Double(n - 1) / Double(n)).squareRoot()
        } else {
            se = .nan
        }
        let raw = Estimate(value: mean, standardError: se)
        return Estimate(value: mean, standardError: se, lower: max(0, raw.lower), upper: min(1, raw.upper))
    }
}
