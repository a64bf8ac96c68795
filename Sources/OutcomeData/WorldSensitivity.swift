import Foundation

extension World {
    /// How strongly the reader trait confounds the observational log when the trait is hidden:
    /// the Λ of the sensitivity model (CausalPO's `Sensitivity`) that the world's tilts imply.
    ///
    /// A method given only the log's marginal propensities P(x) = Σ_c P(C = c)·P(x | c) weights
    /// each row by P^f(x)/P(x), while the reader who saw x was shown it with probability P(x | C);
    /// the two differ by the factor P(x | C)/P(x). This is the largest such factor (or its
    /// inverse) over every composable text and both traits, so the sensitivity model holds
    /// exactly at this Λ and at no smaller one. It depends only on the attributes' draw order
    /// (the passage choices cancel). 1 when the observational design is not confounded (no
    /// readers, no tilts, or a prevalence of 0 or 1).
    public var hiddenTraitLambda: Double {
        guard let r = readers, r.prevalence > 0, r.prevalence < 1, tilt.values.contains(where: { $0 != 0 }) else { return 1 }
        var worst = 0.0
        forEachAttributeOrder { c in
            let marginal = marginalLogPropensity(c, design: .observational)
            for trait in [1, -1] {
                worst = Swift.max(worst, abs(logPropensity(c, design: .observational, trait: trait) - marginal))
            }
        }
        return exp(worst)
    }

    /// Every ordered draw of distinct attributes the design can make, each with its first passages
    /// (propensity ratios between designs and traits do not depend on the passages).
    func forEachAttributeOrder(_ body: (Composition) -> Void) {
        var seen = Set<Int>()
        var used = [Bool](repeating: false, count: attributes.count)
        var order: [Int] = []
        func extend(_ k: Int) {
            if order.count == k {
                body(Composition(attributes: order, passages: [Int](repeating: 0, count: k)))
                return
            }
            for a in attributes.indices where !used[a] {
                used[a] = true
                order.append(a)
                extend(k)
                order.removeLast()
                used[a] = false
            }
        }
        for k in passageCounts where k >= 1 && k <= attributes.count && seen.insert(k).inserted { extend(k) }
    }
}
