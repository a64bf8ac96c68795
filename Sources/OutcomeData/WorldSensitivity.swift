import Foundation

extension World {
    /// How strongly the reader trait confounds the observational log when the trait is hidden:
    /// the Λ of the sensitivity model (CausalPO's `Sensitivity`) that the world's tilts imply.
    ///
    /// A method given only the log's marginal propensities P(x) = Σ_c P(C = c)·P(x | c) weights
    /// each row by P^f(x)/P(x), while the reader who saw x was shown it with probability P(x | C);
    /// the two differ by the factor P(x | C)/P(x). This is the largest such factor (or its
    /// inverse) over every composable text and both traits, so the sensitivity model holds
    /// exactly at this Λ and at no smaller one. 1 when the observational design is not
    /// confounded (no readers, no tilts, or a prevalence of 0 or 1).
    ///
    /// Computed without visiting every text: the passage choices and the count cancel in the
    /// factor, which depends on a text only through `D = log P(x | +1) - log P(x | -1)`. With
    /// `π` the prevalence, `log(P(x | +1)/P(x)) = -log(π + (1-π)·e^-D)` increases with `D` and
    /// `log(P(x | -1)/P(x)) = -log(π·e^D + 1-π)` decreases with it, so the largest factor is
    /// reached at the smallest or the largest `D` over the draw orders
    /// (``tiltLogRatioRange()``).
    public var hiddenTraitLambda: Double {
        guard let r = readers, r.prevalence > 0, r.prevalence < 1, tilt.values.contains(where: { $0 != 0 }),
              let (low, high) = tiltLogRatioRange() else { return 1 }
        let logPlus = log(r.prevalence)
        let logMinus = log(1 - r.prevalence)
        func logSum(_ x: Double, _ y: Double) -> Double {
            let m = Swift.max(x, y)
            return m + log(exp(x - m) + exp(y - m))
        }
        func worst(_ d: Double) -> Double {
            Swift.max(abs(logSum(logPlus, logMinus - d)), abs(logSum(logPlus + d, logMinus)))
        }
        return exp(Swift.max(worst(low), worst(high)))
    }

    /// The smallest and largest `log P(x | C = +1) - log P(x | C = -1)` of the observational
    /// design over the draw orders it can make (nil without a valid passage count).
    ///
    /// A draw of attribute `a` from the attributes `R` not yet drawn adds
    /// `2·tilt(a) - log Σ_R e^tilt + log Σ_R e^-tilt`, which depends on `R` only through how
    /// many attributes of each tilt value it holds: a dynamic program over those counts
    /// (at most the subsets of attributes, and far fewer when tilts repeat, as the 0 of every
    /// unnamed attribute does) gives the range exactly.
    func tiltLogRatioRange() -> (low: Double, high: Double)? {
        let tilts = tiltVector()
        let values = Array(Set(tilts)).sorted()
        let pool = values.map { v in tilts.filter { $0 == v }.count }
        let counts = Set(passageCounts.filter { $0 >= 1 && $0 <= tilts.count })
        guard let longest = counts.max() else { return nil }
        // log Σ_R e^(sign·tilt) for the attributes left when `drawn[j]` of value j are drawn.
        func logZ(_ drawn: [Int], _ sign: Double) -> Double {
            var m = -Double.infinity
            for j in values.indices where pool[j] > drawn[j] { m = Swift.max(m, sign * values[j]) }
            var z = 0.0
            for j in values.indices where pool[j] > drawn[j] { z += Double(pool[j] - drawn[j]) * exp(sign * values[j] - m) }
            return m + log(z)
        }
        var layer: [[Int]: (low: Double, high: Double)] = [[Int](repeating: 0, count: values.count): (0, 0)]
        var range: (low: Double, high: Double)?
        for t in 1...longest {
            var next: [[Int]: (low: Double, high: Double)] = [:]
            for (drawn, d) in layer {
                let shared = logZ(drawn, -1) - logZ(drawn, 1)
                for j in values.indices where pool[j] > drawn[j] {
                    var after = drawn
                    after[j] += 1
                    let step = 2 * values[j] + shared
                    let old = next[after]
                    next[after] = (Swift.min(old?.low ?? .infinity, d.low + step), Swift.max(old?.high ?? -.infinity, d.high + step))
                }
            }
            layer = next
            if counts.contains(t) {
                for d in layer.values {
                    range = (Swift.min(range?.low ?? .infinity, d.low), Swift.max(range?.high ?? -.infinity, d.high))
                }
            }
        }
        return range
    }
}
