import CPOSupport
import Foundation

/// A simulated text experiment with a known truth, as described by a world file
/// (<doc:WorldFileFormat>): how texts are composed from passages, how readers respond, and how the
/// logged (observational) data were collected.
///
/// Load one with ``World/load(path:)`` or ``World/parse(_:file:)``; both validate the file and
/// report problems as ``InputError`` with the line to fix. The memberwise ``init`` does not
/// validate: everything below assumes a world that would pass ``parse`` (at least two
/// attributes, non-empty pools, passage counts between 1 and the number of attributes, no
/// duplicate passages, `attention >= 1`).
///
/// Conventions used throughout:
/// - a reader's trait `C` is `+1` or `-1`; it is `0` when the world has no `[readers]` section
///   (then there is no trait shift and no observational tilt);
/// - `S(x)` (the *score*) is the sum of the effects of the distinct attributes among the first
///   `attention` *matched passages* of the text, plus `invalidEffect` times the number of invalid
///   segments; invalid segments never use up attention, and every invalid segment counts
///   wherever it is; a passage of an attribute already counted uses up an attention slot but
///   adds nothing (see ``World/oracle(_:)``);
/// - `g*(x)` (the *true value*) is the expected response of a random reader:
///   continuous `baseline + S + beta*(2*prevalence-1)`, binary
///   `prevalence*logistic(baseline+S+beta) + (1-prevalence)*logistic(baseline+S-beta)`.
public struct World: Sendable, Hashable {
    /// One argument type: a true causal effect and a pool of interchangeable passages.
    public struct Attribute: Sendable, Hashable {
        public var name: String
        /// The true causal effect of including this attribute (outcome units; log-odds for binary).
        public var effect: Double
        /// The pool of passages (sentences), as written in the file (trimmed).
        public var passages: [String]

        public init(name: String, effect: Double, passages: [String]) {
            self.name = name
            self.effect = effect
            self.passages = passages
        }
    }

    /// The reader trait `C in {-1, +1}` that shifts every response by `effect * C`.
    public struct Readers: Sendable, Hashable {
        public var trait: String
        /// `P(C = +1)`.
        public var prevalence: Double
        /// `beta`: a reader's response shifts by `beta * C`.
        public var effect: Double

        public init(trait: String, prevalence: Double, effect: Double) {
            self.trait = trait
            self.prevalence = prevalence
            self.effect = effect
        }
    }

    public var name: String
    public var description: String
    public var outcomeKind: OutcomeKind
    /// Continuous: mean response; binary: log-odds.
    public var baseline: Double
    /// Continuous only: reader-level Gaussian noise (ignored for binary worlds).
    public var noiseSD: Double
    /// `design.passages`: the number of passages per text is drawn uniformly from this list.
    public var passageCounts: [Int]
    /// Readers ignore matched passages after this many.
    public var attention: Int
    /// Effect of each text segment that matches no passage.
    public var invalidEffect: Double
    /// `nil` when the file has no `[readers]` section: no trait, no shift, no tilt.
    public var readers: Readers?
    public var attributes: [Attribute] {
        didSet { matcher = PassageMatcher(attributes) }
    }
    /// Observational log-odds tilts by attribute name (unnamed attributes: 0). Empty when the
    /// file has no `[observational]` section (or it names no tilt).
    public var tilt: [String: Double]
    /// Whether the file has an `[observational]` section.
    public var hasObservationalDesign: Bool

    /// The passage index the oracle scans with; rebuilt whenever `attributes` changes.
    var matcher: PassageMatcher

    public init(name: String, description: String = "", outcomeKind: OutcomeKind = .continuous,
                baseline: Double, noiseSD: Double, passageCounts: [Int], attention: Int = 3,
                invalidEffect: Double = 0, readers: Readers? = nil, attributes: [Attribute],
                tilt: [String: Double] = [:], hasObservationalDesign: Bool = false) {
        self.name = name
        self.description = description
        self.outcomeKind = outcomeKind
        self.baseline = baseline
        self.noiseSD = noiseSD
        self.passageCounts = passageCounts
        self.attention = attention
        self.invalidEffect = invalidEffect
        self.readers = readers
        self.attributes = attributes
        self.tilt = tilt
        self.hasObservationalDesign = hasObservationalDesign
        self.matcher = PassageMatcher(attributes)
    }

    // The matcher is a pure function of `attributes`, so equality and hashing use the public
    // fields only.
    public static func == (lhs: World, rhs: World) -> Bool {
        lhs.name == rhs.name && lhs.description == rhs.description && lhs.outcomeKind == rhs.outcomeKind
            && lhs.baseline == rhs.baseline && lhs.noiseSD == rhs.noiseSD
            && lhs.passageCounts == rhs.passageCounts && lhs.attention == rhs.attention
            && lhs.invalidEffect == rhs.invalidEffect && lhs.readers == rhs.readers
            && lhs.attributes == rhs.attributes && lhs.tilt == rhs.tilt
            && lhs.hasObservationalDesign == rhs.hasObservationalDesign
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(description)
        hasher.combine(outcomeKind)
        hasher.combine(baseline)
        hasher.combine(noiseSD)
        hasher.combine(passageCounts)
        hasher.combine(attention)
        hasher.combine(invalidEffect)
        hasher.combine(readers)
        hasher.combine(attributes)
        hasher.combine(tilt)
        hasher.combine(hasObservationalDesign)
    }
}

/// How texts (and, for observational data, readers) are drawn.
public enum WorldDesign: String, Sendable, Codable, CaseIterable {
    /// `P^R`: attributes uniformly among those not yet drawn, independent of the reader.
    case randomized
    /// The logged design: the reader's trait `C` is drawn first and tilts which attributes
    /// are drawn (`P(a) ∝ exp(C * tilt[a])` among those not yet drawn).
    case observational
}

/// A composed text as its draw sequence: `attributes[i]` was drawn at step `i` and
/// `passages[i]` indexes that attribute's pool.
public struct Composition: Sendable, Hashable {
    public var attributes: [Int]
    public var passages: [Int]

    public init(attributes: [Int], passages: [Int]) {
        precondition(attributes.count == passages.count, "one passage per attribute")
        self.attributes = attributes
        self.passages = passages
    }
}

extension World {
    /// The text of a composition: its passages in draw order joined by one space.
    public func text(of c: Composition) -> String {
        var parts: [String] = []
        parts.reserveCapacity(c.attributes.count)
        for (a, p) in zip(c.attributes, c.passages) { parts.append(attributes[a].passages[p]) }
        return parts.joined(separator: " ")
    }

    // MARK: Propensities

    /// The exact log-probability that `design` composes `c`, for a reader with trait `trait`.
    ///
    /// Randomized (trait ignored): `log P(k) - Σ_t log(A-t+1) - Σ_t log|pool(a_t)|`.
    /// Observational: `P(x | C)`, the same with step `t` choosing `a_t` with probability
    /// `exp(C*tilt[a_t]) / Σ_{a not yet drawn} exp(C*tilt[a])`; with `trait == 0` (a world
    /// without readers) or no `[observational]` section the tilts vanish and this equals the
    /// randomized propensity. `P(k)` is the share of `passageCounts` entries equal to `k`.
    /// Returns `-infinity` for a sequence the design cannot produce (a count not in the design,
    /// a repeated attribute, an index out of range).
    public func logPropensity(_ c: Composition, design: WorldDesign, trait: Int) -> Double {
        let k = c.attributes.count
        let countShare = passageCounts.filter { $0 == k }.count
        guard k == c.passages.count, countShare > 0 else { return -.infinity }
        let attributeCount = attributes.count
        var lp = log(Double(countShare)) - log(Double(passageCounts.count))
        let tilted: [Double]? = design == .observational && trait != 0 && !tilt.isEmpty
            ? tiltVector().map { $0 * Double(trait) } : nil
        var remaining = [Bool](repeating: true, count: attributeCount)
        for t in 0..<k {
            let a = c.attributes[t]
            guard a >= 0, a < attributeCount, remaining[a] else { return -.infinity }
            let pool = attributes[a].passages.count
            guard c.passages[t] >= 0, c.passages[t] < pool else { return -.infinity }
            if let s = tilted {
                var m = -Double.infinity
                for i in 0..<attributeCount where remaining[i] { m = Swift.max(m, s[i]) }
                var z = 0.0
                for i in 0..<attributeCount where remaining[i] { z += exp(s[i] - m) }
                lp += s[a] - m - log(z)
            } else {
                lp -= log(Double(attributeCount - t))
            }
            remaining[a] = false
            lp -= log(Double(pool))
        }
        return lp
    }

    /// The log-probability of `c` averaged over readers: for the observational design
    /// `log(prevalence*P(x|C=+1) + (1-prevalence)*P(x|C=-1))`; for the randomized design (or a
    /// world without readers) the same as ``logPropensity(_:design:trait:)``.
    public func marginalLogPropensity(_ c: Composition, design: WorldDesign) -> Double {
        guard design == .observational, let r = readers else {
            return logPropensity(c, design: design, trait: 0)
        }
        let plus = log(r.prevalence) + logPropensity(c, design: design, trait: 1)
        let minus = log(1 - r.prevalence) + logPropensity(c, design: design, trait: -1)
        let m = Swift.max(plus, minus)
        if m == -.infinity { return -.infinity }
        return m + log(exp(plus - m) + exp(minus - m))
    }

    /// Every composition the design can draw (the support of `P^R`; the observational design
    /// has the same support), by passage count in `passageCounts` order, then in
    /// lexicographic draw order.
    ///
    /// Its size is `Σ_k Σ_{ordered distinct a_1..a_k} Π|pool(a_t)|`, which grows quickly (7
    /// attributes with 5 passages, k = 3: 26,250; 12 attributes with 10 passages, k = 4:
    /// 119 million). Meant for tests and tiny worlds.
    public func allCompositions() -> [Composition] {
        var out: [Composition] = []
        forEachComposition { out.append($0) }
        return out
    }

    /// Calls `body` with every composition of ``allCompositions()`` without materializing them.
    func forEachComposition(_ body: (Composition) -> Void) {
        var seen = Set<Int>()
        for k in passageCounts where k >= 1 && k <= attributes.count && seen.insert(k).inserted {
            var attrs: [Int] = []
            var passes: [Int] = []
            var used = [Bool](repeating: false, count: attributes.count)
            enumerate(k, &attrs, &passes, &used, body)
        }
    }

    private func enumerate(_ k: Int, _ attrs: inout [Int], _ passes: inout [Int], _ used: inout [Bool],
                           _ body: (Composition) -> Void) {
        if attrs.count == k {
            body(Composition(attributes: attrs, passages: passes))
            return
        }
        for a in attributes.indices where !used[a] {
            used[a] = true
            attrs.append(a)
            for p in attributes[a].passages.indices {
                passes.append(p)
                enumerate(k, &attrs, &passes, &used, body)
                passes.removeLast()
            }
            attrs.removeLast()
            used[a] = false
        }
    }

    // MARK: True values

    /// `S(x)` of the composed text `text(of: c)`; always equal to `oracle(text(of: c)).score`.
    ///
    /// When no passage is a word-prefix of another (checked once per world), a composed text
    /// always parses back into exactly its passages, and this is computed directly: the sum of
    /// the effects of the distinct attributes among the first `attention` drawn. Otherwise the
    /// passages' words are scanned as the oracle scans the text (a longer passage may swallow
    /// a boundary), without building and normalizing the text.
    public func structuralScore(_ c: Composition) -> Double {
        guard matcher.prefixFree else {
            let (matched, segments) = matcher.scan(c)
            var s = attentionScore(matched).score
            s += invalidEffect * Double(segments)
            return s
        }
        return attentionScore(c.attributes).score
    }

    /// What a reader takes from passages of `sequence` (attribute indices, in reading order):
    /// the distinct attributes among the first `attention`, in order of first appearance, and
    /// the sum of their effects. A repeated attribute uses up a slot and adds nothing.
    func attentionScore(_ sequence: some Sequence<Int>) -> (counted: [Int], score: Double) {
        var counted: [Int] = []
        var s = 0.0
        for a in sequence.prefix(Swift.max(0, attention)) where !counted.contains(a) {
            counted.append(a)
            s += attributes[a].effect
        }
        return (counted, s)
    }

    /// `g*(x)` of the composed text `text(of: c)` (equal to `oracle(text(of: c)).value`).
    public func trueValue(of c: Composition) -> Double {
        expectedValue(score: structuralScore(c))
    }

    /// `V* = max g*(x)` over the texts the design can compose.
    ///
    /// `g*` increases with `S`, and (in a world where no passage is a word-prefix of another)
    /// a composed text of `k` passages scores the effects of its first `min(k, attention)`
    /// attributes, so `V* = max over k in design.passages of g*(sum of the top min(k, attention)
    /// effects)`: exact, O(A log A). In a world where some passage is a word-prefix of another,
    /// the oracle may parse a composed text into other passages (even more of them, or with
    /// invalid words), so `V*` is then found by an exact search over the states of the
    /// oracle's scan (`OptimumSearch`, which first recognizes the worlds where every composed
    /// text still reads as its passages and the closed form holds): milliseconds for worlds
    /// built from real texts and for generated ones of 8 attributes with 40 passages each,
    /// exponential only in the number of attributes the prefix relations entangle. It is
    /// recomputed on each access.
    public var bestValue: Double { optimum().value }

    /// A composition attaining ``bestValue``: the top attributes by effect, first passage of
    /// each (ties go to the earlier attribute and the earlier count in `design.passages`), or,
    /// where a composed text may read as other passages, the first best text the search finds.
    public var bestComposition: Composition { optimum().composition }

    func optimum() -> (composition: Composition, value: Double) {
        precondition(passageCounts.contains { $0 >= 1 && $0 <= attributes.count },
                     "a world needs a passage count between 1 and the number of attributes")
        if !matcher.prefixFree, let found = OptimumSearch(self).optimum() { return found }
        return topEffectsOptimum()
    }

    /// The closed form of ``bestValue``, exact whenever every composed text reads as its
    /// passages.
    func topEffectsOptimum() -> (composition: Composition, value: Double) {
        var best: (composition: Composition, value: Double)?
        let order = byEffect(attributes.indices)
        for k in passageCounts where k >= 1 && k <= attributes.count {
            let m = Swift.min(k, Swift.max(0, attention))
            let s = order.prefix(m).reduce(0.0) { $0 + attributes[$1].effect }
            let v = expectedValue(score: s)
            if best == nil || v > best!.value {
                best = (Composition(attributes: Array(order.prefix(k)),
                                    passages: [Int](repeating: 0, count: k)), v)
            }
        }
        return best!
    }

    /// The attributes `indices` by effect, largest first (ties: the earlier attribute).
    func byEffect(_ indices: some Sequence<Int>) -> [Int] {
        indices.sorted {
            attributes[$0].effect != attributes[$1].effect ? attributes[$0].effect > attributes[$1].effect : $0 < $1
        }
    }

    // MARK: Response model (shared by the oracle and the sampler)

    /// `g*` for a text with score `S`: the expected response of a random reader.
    func expectedValue(score s: Double) -> Double {
        guard let r = readers else { return meanResponse(score: s, trait: 0) }
        switch outcomeKind {
        case .continuous:
            return baseline + s + r.effect * (2 * r.prevalence - 1)
        case .binary:
            return r.prevalence * World.logistic(baseline + s + r.effect)
                + (1 - r.prevalence) * World.logistic(baseline + s - r.effect)
        }
    }

    /// `E[Y | S, C]`: continuous `baseline + S + beta*C`; binary `P(Y=1) = logistic(...)`.
    func meanResponse(score s: Double, trait: Int) -> Double {
        let z = baseline + s + (readers?.effect ?? 0) * Double(trait)
        switch outcomeKind {
        case .continuous: return z
        case .binary: return World.logistic(z)
        }
    }

    /// Per-attribute tilts in attribute order (0 for attributes the file does not name).
    func tiltVector() -> [Double] {
        attributes.map { tilt[$0.name] ?? 0 }
    }

    static func logistic(_ z: Double) -> Double {
        if z >= 0 { return 1 / (1 + exp(-z)) }
        let e = exp(z)
        return e / (1 + e)
    }
}
