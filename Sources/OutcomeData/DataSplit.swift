import CPOSupport

/// The train / evaluation split of a dataset: which rows train the models and which rows
/// evaluate them. It is recorded with the run (`record`), so a report says how it was made.
///
/// Two ways to make one (`make(for:evalFraction:seed:)`):
/// - **from the data**: when every row carries a split part (the dataset has a split column),
///   the column decides and the seed is unused;
/// - **seeded**: otherwise the row indices are shuffled with `SeededRandom` seeded from
///   `SeededRandom.derivedSeed(seed, "data-split")` (so the split does not share a random
///   stream with anything else seeded by the same run seed) and the first
///   `round(n * evalFraction)` become the evaluation rows — at least one of each part when
///   `0 < evalFraction < 1` and there are two or more rows. The same dataset size, fraction and
///   seed always give the same split.
public struct DataSplit: Sendable, Hashable, Codable {
    public enum Part: String, Sendable, Codable, CaseIterable {
        case train, eval
    }

    public var seed: UInt64
    /// The requested evaluation fraction (seeded), or the fraction the split column gave.
    public var evalFraction: Double
    /// Row indices (into `OutcomeDataset.rows`), ascending.
    public var train: [Int]
    /// Row indices, ascending.
    public var eval: [Int]
    /// Whether the dataset's split column decided.
    public var fromColumn: Bool

    public init(seed: UInt64, evalFraction: Double, train: [Int], eval: [Int], fromColumn: Bool) {
        self.seed = seed
        self.evalFraction = evalFraction
        self.train = train
        self.eval = eval
        self.fromColumn = fromColumn
    }

    /// Splits `dataset` (see the type's comment). `evalFraction` must be in [0, 1].
    public static func make(for dataset: OutcomeDataset, evalFraction: Double = 0.2, seed: UInt64) -> DataSplit {
        make(count: dataset.rows.count, parts: dataset.rows.map(\.split), evalFraction: evalFraction, seed: seed)
    }

    /// Splits `count` rows; `parts` (one per row, or empty) decide when none is nil.
    public static func make(count: Int, parts: [Part?] = [], evalFraction: Double = 0.2, seed: UInt64) -> DataSplit {
        precondition(evalFraction.isFinite && evalFraction >= 0 && evalFraction <= 1,
                     "evalFraction must be in [0, 1]")
        if count > 0 && parts.count == count && parts.allSatisfy({ $0 != nil }) {
            var train: [Int] = []
            var eval: [Int] = []
            for (i, p) in parts.enumerated() {
                if p == .train { train.append(i) } else { eval.append(i) }
            }
            return DataSplit(seed: seed, evalFraction: Double(eval.count) / Double(count),
                             train: train, eval: eval, fromColumn: true)
        }
        var evalCount = Int((Double(count) * evalFraction).rounded())
        if count >= 2 && evalFraction > 0 && evalFraction < 1 {
            evalCount = min(max(evalCount, 1), count - 1)
        }
        evalCount = min(max(evalCount, 0), count)
        var order = Array(0..<count)
        var rng = SeededRandom(seed: SeededRandom.derivedSeed(seed, "data-split"))
        rng.shuffle(&order)
        let eval = order[0..<evalCount].sorted()
        let train = order[evalCount...].sorted()
        return DataSplit(seed: seed, evalFraction: evalFraction, train: train, eval: eval, fromColumn: false)
    }

    /// What a run records about its split (without the index lists).
    public struct Record: Sendable, Hashable, Codable {
        public var seed: UInt64
        public var evalFraction: Double
        public var trainCount: Int
        public var evalCount: Int
        public var fromColumn: Bool

        public init(seed: UInt64, evalFraction: Double, trainCount: Int, evalCount: Int, fromColumn: Bool) {
            self.seed = seed
            self.evalFraction = evalFraction
            self.trainCount = trainCount
            self.evalCount = evalCount
            self.fromColumn = fromColumn
        }
    }

    public var record: Record {
        Record(seed: seed, evalFraction: evalFraction, trainCount: train.count, evalCount: eval.count,
               fromColumn: fromColumn)
    }

    /// e.g. "seeded split (seed 7, eval fraction 0.2): 800 train / 200 eval" or
    /// "split column: 8062 train / 2000 eval".
    public var summary: String {
        fromColumn
            ? "split column: \(train.count) train / \(eval.count) eval"
            : "seeded split (seed \(seed), eval fraction \(evalFraction)): \(train.count) train / \(eval.count) eval"
    }

    /// The part row `index` is in, or nil when it is in neither.
    public func part(of index: Int) -> Part? {
        if train.binarySearchContains(index) { return .train }
        if eval.binarySearchContains(index) { return .eval }
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
