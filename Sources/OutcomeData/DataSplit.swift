import CPOSupport

/// The split of a dataset into the rows that train the models, the rows that decide when
/// training stops (validation), and the rows that evaluate them (the estimation rows). It is
/// recorded with the run (`record`), so a report says how it was made.
///
/// Two ways to make one (`make(for:evalFraction:validationFraction:seed:)`):
/// - **from the data**: when every row carries a split part (the dataset has a split column),
///   the column decides and the seed is unused; if the column names no validation rows and a
///   validation fraction is asked for, that many rows of the column's training part become the
///   validation rows, chosen with the seeded generator below;
/// - **seeded**: otherwise the row indices are shuffled with `SeededRandom` seeded from
///   `SeededRandom.derivedSeed(seed, "data-split")` (so the split does not share a random
///   stream with anything else seeded by the same run seed); the first `round(n * evalFraction)`
///   become the evaluation rows, the next `round(n * validationFraction)` the validation rows —
///   at least one in each part asked for, when there are rows enough. The same dataset size,
///   fractions and seed always give the same split, and (but for the clamping at a handful of
///   rows) the evaluation rows do not depend on the validation fraction.
///
/// With `validationFraction` 0 there is no validation part, and rows a split column marks as
/// validation rows count as evaluation rows (the two-way split of runs saved before the
/// validation part existed).
public struct DataSplit: Sendable, Hashable, Codable {
    public enum Part: String, Sendable, Codable, CaseIterable {
        case train, eval, validation
    }

    public var seed: UInt64
    /// The requested evaluation fraction (seeded), or the fraction the split column gave.
    public var evalFraction: Double
    /// The requested validation fraction (of all rows), or the fraction the split column gave.
    public var validationFraction: Double
    /// Row indices (into `OutcomeDataset.rows`), ascending.
    public var train: [Int]
    /// Row indices, ascending.
    public var eval: [Int]
    /// Row indices, ascending; empty without a validation part.
    public var validation: [Int]
    /// Whether the dataset's split column decided the evaluation rows.
    public var fromColumn: Bool

    public init(seed: UInt64, evalFraction: Double, validationFraction: Double = 0, train: [Int], eval: [Int],
                validation: [Int] = [], fromColumn: Bool) {
        self.seed = seed
        self.evalFraction = evalFraction
        self.validationFraction = validationFraction
        self.train = train
        self.eval = eval
        self.validation = validation
        self.fromColumn = fromColumn
    }

    /// Splits `dataset` (see the type's comment). The fractions must be in [0, 1] with a sum of
    /// at most 1.
    public static func make(for dataset: OutcomeDataset, evalFraction: Double = 0.2, validationFraction: Double = 0,
                            seed: UInt64) -> DataSplit {
        make(count: dataset.rows.count, parts: dataset.rows.map(\.split), evalFraction: evalFraction,
             validationFraction: validationFraction, seed: seed)
    }

    /// Splits `count` rows; `parts` (one per row, or empty) decide when none is nil.
    public static func make(count: Int, parts: [Part?] = [], evalFraction: Double = 0.2, validationFraction: Double = 0,
                            seed: UInt64) -> DataSplit {
        precondition(evalFraction.isFinite && evalFraction >= 0 && evalFraction <= 1, "evalFraction must be in [0, 1]")
        precondition(validationFraction.isFinite && validationFraction >= 0 && evalFraction + validationFraction <= 1,
                     "validationFraction must be in [0, 1 - evalFraction]")
        var rng = SeededRandom(seed: SeededRandom.derivedSeed(seed, "data-split"))
        if count > 0 && parts.count == count && parts.allSatisfy({ $0 != nil }) {
            var train: [Int] = [], eval: [Int] = [], validation: [Int] = []
            for (i, p) in parts.enumerated() {
                switch p {
                case .train: train.append(i)
                case .validation where validationFraction > 0: validation.append(i)
                default: eval.append(i)
                }
            }
            // No validation rows in the column: a seeded share of its training rows.
            if validationFraction > 0 && validation.isEmpty {
                let n = min(max(Int((Double(count) * validationFraction).rounded()), 1), max(0, train.count - 1))
                rng.shuffle(&train)
                validation = train[0..<n].sorted()
                train = train[n...].sorted()
            }
            return DataSplit(seed: seed, evalFraction: Double(eval.count) / Double(count),
                             validationFraction: Double(validation.count) / Double(count),
                             train: train, eval: eval, validation: validation, fromColumn: true)
        }
        // At least one row in each part asked for (and one training row), when there are enough.
        func share(_ fraction: Double, leaving others: Int) -> Int {
            guard fraction > 0 else { return 0 }
            let n = Int((Double(count) * fraction).rounded())
            return fraction < 1 && count > others + 1 ? min(max(n, 1), count - others - 1) : min(n, count - others)
        }
        let evalCount = share(evalFraction, leaving: validationFraction > 0 ? 1 : 0)
        let validationCount = share(validationFraction, leaving: evalCount)
        var order = Array(0..<count)
        rng.shuffle(&order)
        let eval = order[0..<evalCount].sorted()
        let validation = order[evalCount..<(evalCount + validationCount)].sorted()
        let train = order[(evalCount + validationCount)...].sorted()
        return DataSplit(seed: seed, evalFraction: evalFraction, validationFraction: validationFraction,
                         train: train, eval: eval, validation: validation, fromColumn: false)
    }

    /// What a run records about its split (without the index lists).
    public struct Record: Sendable, Hashable, Codable {
        public var seed: UInt64
        public var evalFraction: Double
        public var trainCount: Int
        public var evalCount: Int
        public var fromColumn: Bool
        /// Rows that decide when FT stops (0: no validation part).
        public var validationCount: Int
        public var validationFraction: Double

        public init(seed: UInt64, evalFraction: Double, trainCount: Int, evalCount: Int, fromColumn: Bool,
                    validationCount: Int = 0, validationFraction: Double = 0) {
            self.seed = seed
            self.evalFraction = evalFraction
            self.trainCount = trainCount
            self.evalCount = evalCount
            self.fromColumn = fromColumn
            self.validationCount = validationCount
            self.validationFraction = validationFraction
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            seed = try c.decode(UInt64.self, forKey: .seed)
            evalFraction = try c.decode(Double.self, forKey: .evalFraction)
            trainCount = try c.decode(Int.self, forKey: .trainCount)
            evalCount = try c.decode(Int.self, forKey: .evalCount)
            fromColumn = try c.decode(Bool.self, forKey: .fromColumn)
            // Records written before the validation part existed had none.
            validationCount = try c.decodeIfPresent(Int.self, forKey: .validationCount) ?? 0
            validationFraction = try c.decodeIfPresent(Double.self, forKey: .validationFraction) ?? 0
        }
    }

    public var record: Record {
        Record(seed: seed, evalFraction: evalFraction, trainCount: train.count, evalCount: eval.count,
               fromColumn: fromColumn, validationCount: validation.count, validationFraction: validationFraction)
    }

    /// e.g. "seeded split (seed 7, eval fraction 0.2): 800 train / 200 eval",
    /// "seeded split (seed 7, eval fraction 0.2, validation fraction 0.1): 700 train / 100 validation / 200 eval" or
    /// "split column: 8062 train / 1000 validation / 1000 eval".
    public var summary: String {
        let counts = validation.isEmpty
            ? "\(train.count) train / \(eval.count) eval"
            : "\(train.count) train / \(validation.count) validation / \(eval.count) eval"
        if fromColumn { return "split column: " + counts }
        let fractions = validation.isEmpty ? "eval fraction \(evalFraction)"
            : "eval fraction \(evalFraction), validation fraction \(validationFraction)"
        return "seeded split (seed \(seed), \(fractions)): " + counts
    }

    /// The part row `index` is in, or nil when it is in none.
    public func part(of index: Int) -> Part? {
        if train.binarySearchContains(index) { return .train }
        if eval.binarySearchContains(index) { return .eval }
        if validation.binarySearchContains(index) { return .validation }
        return nil
    }
}

extension Array where Element == Int {
    /// Membership in an ascending array.
    fileprivate func binarySearchContains(_ x: Int) -> Bool {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if self[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return lo < count && self[lo] == x
    }
}
