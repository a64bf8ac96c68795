import CPOSupport
import Foundation
import Testing
@testable import CausalPO

/// `WeightedMeanBounds.bounds` finds the Hajek bounds by binary search over the sorted values;
/// here it must equal the plain scan over every threshold, on many rows, with ties, with
/// bootstrap counts that leave rows out (zero weights), and at every Λ of a fine grid.
@Suite("sensitivity bounds by binary search")
struct SensitivitySearchTests {
    /// The minimum and maximum over every threshold j of the mean with Λ² on the j lowest values
    /// (lower) or on all but the j lowest (upper): the definition, in O(n).
    static func scan(_ p: WeightedMeanBounds, lambda: Double) -> (Double, Double) {
        let g = lambda * lambda - 1
        let ty = p.prefixWeightedValue[p.count], t = p.prefixWeight[p.count]
        var lo = ty / t, hi = lo
        for j in 0...p.count {
            let pa = p.prefixWeightedValue[j], pb = p.prefixWeight[j]
            lo = min(lo, (ty + g * pa) / (t + g * pb))
            hi = max(hi, (ty + g * (ty - pa)) / (t + g * (t - pb)))
        }
        return (p.offset + lo, p.offset + hi)
    }

    @Test func binarySearchEqualsTheScanOverEveryThreshold() throws {
        var rng = SeededRandom(seed: 11)
        for trial in 0..<30 {
            let n = [1, 2, 3, 10, 257, 2_000][trial % 6]
            // Outcomes on a coarse grid in some trials: many ties.
            let y = (0..<n).map { _ in trial % 2 == 0 ? rng.gaussian() : Double(rng.int(below: 5)) }
            let lr = (0..<n).map { _ in 2 * rng.gaussian() }
            let base = try #require(WeightedMeanBounds(logRatios: lr, values: y, offset: Double(trial), normalization: .hajek))
            var counts = [Double](repeating: 0, count: n)
            for _ in 0..<n { counts[rng.int(below: n)] += 1 }
            for p in [base, base.reweighted(counts: counts, offset: 0.5)] {
                for lambda in Sensitivity.logGrid(maximum: 50, count: 60) + [1.0000001, 1e6] {
                    let b = p.bounds(lambda: lambda)
                    let (lo, hi) = Self.scan(p, lambda: lambda)
                    #expect(abs(b.lower - lo) <= 1e-12 * max(1, abs(lo)), "n \(n) Λ \(lambda): \(b.lower) vs \(lo)")
                    #expect(abs(b.upper - hi) <= 1e-12 * max(1, abs(hi)), "n \(n) Λ \(lambda): \(b.upper) vs \(hi)")
                }
            }
        }
    }
}
