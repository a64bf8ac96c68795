import CPOSupport
import Foundation

/// The outcome model's family.
public enum OutcomeModelKind: String, Codable, Sendable, Hashable, CaseIterable {
    /// Continuous outcomes. Minimizes ½ Σ_i (t_i − b − x_i·β)² + ½ λ ‖β‖²; predicts b + x·β.
    case ridge
    /// Binary outcomes (or proportions in [0, 1]). Minimizes
    /// Σ_i [log(1 + e^{η_i}) − t_i η_i] + ½ λ ‖β‖² with η_i = b + x_i·β; predicts σ(η), a probability.
    case logistic
}

/// Regularization and stopping rules of the solvers. The intercept b is never penalized.
public struct OutcomeSolverOptions: Codable, Sendable, Hashable {
    /// λ, the L2 penalty on the feature weights, in the summed (not averaged) objective, so its
    /// strength relative to the data grows with nothing but itself. The best value depends on
    /// the noise: `CrossFittedOutcomeModel.fitSelectingLambda` picks one from a grid.
    public var lambda: Double
    /// Stop when ‖∇objective‖₂ ≤ tolerance · ‖∇objective at the start (β = 0, best intercept)‖₂.
    public var tolerance: Double
    /// Cap on conjugate-gradient iterations (ridge: in total; logistic: per Newton step).
    public var maxCGIterations: Int
    /// Cap on Newton steps (logistic).
    public var maxNewtonIterations: Int
    /// Fit the K cross-fitting folds on all cores (the result does not depend on it).
    public var parallelFolds: Bool

    public init(lambda: Double = 10, tolerance: Double = 1e-9, maxCGIterations: Int = 2_000, maxNewtonIterations: Int = 100,
                parallelFolds: Bool = true) {
        self.lambda = lambda
        self.tolerance = tolerance
        self.maxCGIterations = maxCGIterations
        self.maxNewtonIterations = maxNewtonIterations
        self.parallelFolds = parallelFolds
    }
}

/// How a fit ended.
public struct OutcomeFitReport: Codable, Sendable, Hashable {
    /// Ridge: conjugate-gradient iterations. Logistic: Newton steps.
    public var iterations: Int
    /// Logistic: conjugate-gradient iterations summed over the Newton steps (ridge: = iterations).
    public var cgIterations: Int
    /// ‖∇objective‖₂ at the returned solution (intercept and weights), recomputed from scratch.
    public var gradientNorm: Double
    /// ‖∇objective‖₂ at the start (β = 0 with the best intercept for β = 0).
    public var initialGradientNorm: Double
    public var converged: Bool
    /// Number of feature slots that occur in the training rows (the others keep weight 0 exactly).
    public var activeFeatures: Int
}

/// Why an outcome model could not be fitted; each case says what to change.
public enum OutcomeModelError: Error, Sendable, Hashable, CustomStringConvertible {
    case noRows
    case countMismatch(rows: Int, outcomes: Int)
    case nonFiniteOutcome(row: Int)
    case outcomeOutsideUnitInterval(row: Int, value: Double)
    case tooFewRowsForFolds(rows: Int, folds: Int)
    case invalidLambda(Double)

    public var description: String {
        switch self {
        case .noRows: return "the outcome model has no rows to learn from; provide a non-empty dataset"
        case let .countMismatch(r, o): return "\(r) texts but \(o) outcomes; every text needs exactly one outcome"
        case let .nonFiniteOutcome(row): return "outcome of row \(row) is not a finite number; fix or drop that row"
        case let .outcomeOutsideUnitInterval(row, v):
            return "row \(row) has outcome \(v), but a logistic ĝ needs outcomes in [0, 1]; use the ridge ĝ for continuous outcomes"
        case let .tooFewRowsForFolds(r, k): return "\(r) rows cannot be split into \(k) cross-fitting folds; use at most \(r) folds (and at least 2)"
        case let .invalidLambda(l): return "the ridge/logistic penalty λ must be positive and finite, got \(l)"
        }
    }
}

/// A fitted linear outcome model ĝ on hashed text features.
///
/// Negated outcomes (the paper's "Confounded" study, CausalPO.docc/Background.md, "The paper"): with `negatedOutcomes`,
/// the model was fitted to −Y (ridge) or 1 − Y (logistic: the label flip that keeps targets in
/// [0, 1]) and its predictions are NOT negated back: it predicts the wrong sign, i.e. it
/// estimates −g (or 1 − g), and is meant to be used in place of ĝ exactly as it is.
public struct OutcomeModel: Codable, Sendable, Equatable {
    public let kind: OutcomeModelKind
    public let featurizer: TextFeaturizer
    /// λ the model was fitted with.
    public let lambda: Double
    public let intercept: Double
    /// One weight per hash slot (dense, `featurizer.dimension` long); 0 for slots never seen.
    public let weights: [Double]
    public let negatedOutcomes: Bool
    public let report: OutcomeFitReport

    /// The targets a fit actually uses: Y, −Y (ridge, negated) or 1 − Y (logistic, negated).
    public static func targets(outcomes: [Double], kind: OutcomeModelKind, negated: Bool) -> [Double] {
        guard negated else { return outcomes }
        switch kind {
        case .ridge: return outcomes.map { -$0 }
        case .logistic: return outcomes.map { 1 - $0 }
        }
    }

    /// Fits ĝ on `texts` and their outcomes (all rows; for ĝ on the IPW rows themselves use
    /// `CrossFittedOutcomeModel`).
    public static func fit(texts: [String], outcomes: [Double], kind: OutcomeModelKind,
                           featurizer: TextFeaturizer = TextFeaturizer(), options: OutcomeSolverOptions = OutcomeSolverOptions(),
                           negateOutcomes: Bool = false) throws(OutcomeModelError) -> OutcomeModel {
        guard texts.count == outcomes.count else { throw .countMismatch(rows: texts.count, outcomes: outcomes.count) }
        return try fit(features: featurizer.features(texts), outcomes: outcomes, kind: kind, featurizer: featurizer,
                       options: options, negateOutcomes: negateOutcomes)
    }

    /// Fits ĝ on precomputed features (made by `featurizer`).
    public static func fit(features: [SparseVector], outcomes: [Double], kind: OutcomeModelKind,
                           featurizer: TextFeaturizer = TextFeaturizer(), options: OutcomeSolverOptions = OutcomeSolverOptions(),
                           negateOutcomes: Bool = false) throws(OutcomeModelError) -> OutcomeModel {
        try validate(rows: features.count, outcomes: outcomes, kind: kind, lambdas: [options.lambda])
        let design = CenteredDesign(rows: features, dimension: featurizer.dimension)
        let t = targets(outcomes: outcomes, kind: kind, negated: negateOutcomes)
        let solution = solve(design, targets: t, kind: kind, lambda: options.lambda, options: options, start: nil)
        return OutcomeModel(design: design, solution: solution, kind: kind, featurizer: featurizer, lambda: options.lambda,
                            negated: negateOutcomes)
    }

    init(design: CenteredDesign, solution: LinearSolution, kind: OutcomeModelKind, featurizer: TextFeaturizer, lambda: Double,
         negated: Bool) {
        var w = [Double](repeating: 0, count: featurizer.dimension)
        for (j, g) in design.globalColumn.enumerated() { w[g] = solution.beta[j] }
        self.kind = kind
        self.featurizer = featurizer
        self.lambda = lambda
        intercept = solution.intercept
        weights = w
        negatedOutcomes = negated
        report = solution.report
    }

    static func solve(_ design: CenteredDesign, targets t: [Double], kind: OutcomeModelKind, lambda: Double,
                      options: OutcomeSolverOptions, start: LinearSolution?) -> LinearSolution {
        switch kind {
        case .ridge:
            return RidgeSolver.solve(design, targets: t, lambda: lambda, options: options, start: start?.beta)
        case .logistic:
            return LogisticSolver.solve(design, targets: t, lambda: lambda, options: options,
                                        start: start.map { ($0.centeredIntercept, $0.beta) })
        }
    }

    static func validate(rows: Int, outcomes: [Double], kind: OutcomeModelKind, lambdas: [Double]) throws(OutcomeModelError) {
        guard rows > 0 else { throw .noRows }
        guard rows == outcomes.count else { throw .countMismatch(rows: rows, outcomes: outcomes.count) }
        for l in lambdas { guard l > 0, l.isFinite else { throw .invalidLambda(l) } }
        for (i, y) in outcomes.enumerated() {
            guard y.isFinite else { throw .nonFiniteOutcome(row: i) }
            if kind == .logistic, !(0...1).contains(y) { throw .outcomeOutsideUnitInterval(row: i, value: y) }
        }
    }

    /// b + x·β.
    public func linearPredictor(_ x: SparseVector) -> Double {
        var s = intercept
        for k in x.indices.indices { s += x.values[k] * weights[x.indices[k]] }
        return s
    }

    /// ĝ(x): b + x·β (ridge) or σ(b + x·β) (logistic).
    public func predict(_ x: SparseVector) -> Double {
        let eta = linearPredictor(x)
        return kind == .ridge ? eta : logisticFunction(eta)
    }

    public func predict(features: [SparseVector]) -> [Double] { features.map { predict($0) } }

    public func predict(_ texts: [String]) -> [Double] { texts.map { predict(featurizer.features($0)) } }
}

/// Quality of ĝ's held-out predictions: R² for ridge, AUC for logistic.
public struct OutcomeModelQuality: Codable, Sendable, Hashable {
    public enum Metric: String, Codable, Sendable, Hashable {
        case r2 = "R²"
        case auc = "AUC"
    }

    public var metric: Metric
    public var value: Double

    public init(metric: Metric, value: Double) {
        self.metric = metric
        self.value = value
    }

    /// R² of `predictions` against `targets` (ridge), or the AUC of `predictions` as scores for
    /// the labels `target ≥ 0.5` (logistic).
    public static func of(kind: OutcomeModelKind, predictions: [Double], targets: [Double]) -> OutcomeModelQuality {
        switch kind {
        case .ridge: return OutcomeModelQuality(metric: .r2, value: OutcomeMetrics.r2(predictions: predictions, targets: targets))
        case .logistic:
            return OutcomeModelQuality(metric: .auc, value: OutcomeMetrics.auc(scores: predictions, labels: targets.map { $0 >= 0.5 }))
        }
    }
}

public enum OutcomeMetrics {
    /// 1 − Σ(t − p)² / Σ(t − mean t)²: 1 for perfect predictions, 0 for predicting the mean,
    /// negative when worse than the mean. NaN if the targets are constant or empty.
    public static func r2(predictions: [Double], targets: [Double]) -> Double {
        precondition(predictions.count == targets.count, "predictions and targets must align")
        guard !targets.isEmpty else { return .nan }
        let mean = targets.reduce(0, +) / Double(targets.count)
        var ssRes = 0.0, ssTot = 0.0
        for i in targets.indices {
            ssRes += (targets[i] - predictions[i]) * (targets[i] - predictions[i])
            ssTot += (targets[i] - mean) * (targets[i] - mean)
        }
        return ssTot > 0 ? 1 - ssRes / ssTot : .nan
    }

    /// Area under the ROC curve: the probability that a random positive scores above a random
    /// negative, ties counting half (Mann-Whitney U with mid-ranks). NaN without both classes.
    public static func auc(scores: [Double], labels: [Bool]) -> Double {
        precondition(scores.count == labels.count, "scores and labels must align")
        let nPos = labels.filter { $0 }.count
        let nNeg = labels.count - nPos
        guard nPos > 0, nNeg > 0 else { return .nan }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSumPos = 0.0
        var k = 0
        while k < order.count {
            var e = k
            while e + 1 < order.count, scores[order[e + 1]] == scores[order[k]] { e += 1 }
            let midRank = Double(k + e) / 2 + 1
            for q in k...e where labels[order[q]] { rankSumPos += midRank }
            k = e + 1
        }
        let u = rankSumPos - Double(nPos) * Double(nPos + 1) / 2
        return u / (Double(nPos) * Double(nNeg))
    }
}

/// The λ values a selection tried and the cross-fitted quality of each.
public struct LambdaPath: Codable, Sendable, Hashable {
    /// Tried, from the largest down (the search stops once quality stops improving).
    public var lambdas: [Double]
    /// Cross-fitted R² or AUC at each λ.
    public var qualities: [Double]
    public var selected: Double
}

/// ĝ fitted with K-fold cross-fitting: row i's prediction comes from the model trained on the
/// other K − 1 folds, so no row is predicted by a model that saw it (CausalPO.docc/ValueEstimation.md, "The outcome model").
///
/// New texts (f0 samples, generations, rows of another dataset) are predicted by the average
/// of the K fold models' predictions (on the prediction scale: for logistic, the mean of the K
/// probabilities). Every fold model saw (K−1)/K of the data; none saw the new text.
public struct CrossFittedOutcomeModel: Codable, Sendable, Equatable {
    /// λ candidates for `fitSelectingLambda`, largest first.
    public static let defaultLambdaGrid: [Double] = [3000, 1000, 300, 100, 30, 10, 3, 1, 0.3, 0.1]

    public let kind: OutcomeModelKind
    public let featurizer: TextFeaturizer
    public let lambda: Double
    /// The fold (0..<K) of each training row.
    public let folds: [Int]
    /// `models[k]` was fitted on the rows whose fold is not k.
    public let models: [OutcomeModel]
    /// Out-of-fold ĝ(X_i) of each training row, on the prediction scale.
    public let predictions: [Double]
    /// Held-out R² or AUC of `predictions` against the targets the models were fitted to.
    public let quality: OutcomeModelQuality
    /// The same metric against the original outcomes Y: equal to `quality` unless the outcomes
    /// were negated, in which case it shows how wrong the confounded ĝ is about Y.
    public let qualityVersusOutcomes: OutcomeModelQuality
    public let negatedOutcomes: Bool

    public var foldCount: Int { models.count }

    /// Balanced seeded fold assignment: a seeded shuffle of the rows dealt round-robin into
    /// K folds (sizes differ by at most one).
    public static func foldAssignment(count n: Int, folds k: Int, seed: UInt64) -> [Int] {
        var order = Array(0..<n)
        var r = SeededRandom(seed: seed)
        r.shuffle(&order)
        var fold = [Int](repeating: 0, count: n)
        for (position, row) in order.enumerated() { fold[row] = position % k }
        return fold
    }

    public static func fit(texts: [String], outcomes: [Double], kind: OutcomeModelKind, folds k: Int = 5, seed: UInt64,
                           featurizer: TextFeaturizer = TextFeaturizer(), options: OutcomeSolverOptions = OutcomeSolverOptions(),
                           negateOutcomes: Bool = false) throws(OutcomeModelError) -> CrossFittedOutcomeModel {
        guard texts.count == outcomes.count else { throw .countMismatch(rows: texts.count, outcomes: outcomes.count) }
        return try fit(features: featurizer.features(texts), outcomes: outcomes, kind: kind, folds: k, seed: seed,
                       featurizer: featurizer, options: options, negateOutcomes: negateOutcomes)
    }

    public static func fit(features: [SparseVector], outcomes: [Double], kind: OutcomeModelKind, folds k: Int = 5, seed: UInt64,
                           featurizer: TextFeaturizer = TextFeaturizer(), options: OutcomeSolverOptions = OutcomeSolverOptions(),
                           negateOutcomes: Bool = false) throws(OutcomeModelError) -> CrossFittedOutcomeModel {
        try fitPath(features: features, outcomes: outcomes, kind: kind, folds: k, seed: seed, featurizer: featurizer,
                    lambdas: [options.lambda], options: options, negateOutcomes: negateOutcomes, patience: 1).model
    }

    /// Cross-fits ĝ for each λ in `candidates` from the largest down (each fold warm-started
    /// from its solution at the previous λ), stops once the cross-fitted quality has not
    /// improved for `patience` candidates in a row, and returns the best model (ties: the larger
    /// λ) with the path. The rows' out-of-fold predictions still come from models that never
    /// saw them; only the one number λ is chosen with all rows, as is usual in cross-fitting.
    public static func fitSelectingLambda(features: [SparseVector], outcomes: [Double], kind: OutcomeModelKind, folds k: Int = 5,
                                          seed: UInt64, candidates: [Double] = defaultLambdaGrid,
                                          featurizer: TextFeaturizer = TextFeaturizer(),
                                          options: OutcomeSolverOptions = OutcomeSolverOptions(), negateOutcomes: Bool = false,
                                          patience: Int = 2) throws(OutcomeModelError) -> (model: CrossFittedOutcomeModel, path: LambdaPath) {
        try fitPath(features: features, outcomes: outcomes, kind: kind, folds: k, seed: seed, featurizer: featurizer,
                    lambdas: candidates.sorted(by: >), options: options, negateOutcomes: negateOutcomes, patience: max(1, patience))
    }

    static func fitPath(features: [SparseVector], outcomes: [Double], kind: OutcomeModelKind, folds k: Int, seed: UInt64,
                        featurizer: TextFeaturizer, lambdas: [Double], options: OutcomeSolverOptions, negateOutcomes: Bool,
                        patience: Int) throws(OutcomeModelError) -> (model: CrossFittedOutcomeModel, path: LambdaPath) {
        let n = features.count
        try OutcomeModel.validate(rows: n, outcomes: outcomes, kind: kind, lambdas: lambdas)
        guard k >= 2, k <= n else { throw .tooFewRowsForFolds(rows: n, folds: k) }
        let fold = foldAssignment(count: n, folds: k, seed: seed)
        let t = OutcomeModel.targets(outcomes: outcomes, kind: kind, negated: negateOutcomes)
        let training = (0..<k).map { f in (0..<n).filter { fold[$0] != f } }
        let designs = FoldResults<CenteredDesign>(count: k)
        forEachFold(k, parallel: options.parallelFolds) { f in
            designs[f] = CenteredDesign(rows: training[f].map { features[$0] }, dimension: featurizer.dimension)
        }
        let foldTargets = training.map { rows in rows.map { t[$0] } }
        var previous: [LinearSolution]? = nil
        var best: CrossFittedOutcomeModel? = nil
        var bestQuality = -Double.infinity
        var sinceImprovement = 0
        var path = LambdaPath(lambdas: [], qualities: [], selected: lambdas[0])
        for lambda in lambdas {
            let solutions = FoldResults<LinearSolution>(count: k)
            let warm = previous
            forEachFold(k, parallel: options.parallelFolds) { f in
                solutions[f] = OutcomeModel.solve(designs[f], targets: foldTargets[f], kind: kind, lambda: lambda, options: options,
                                                  start: warm?[f])
            }
            let solved = solutions.values
            let models = (0..<k).map { f in
                OutcomeModel(design: designs[f], solution: solved[f], kind: kind, featurizer: featurizer, lambda: lambda,
                             negated: negateOutcomes)
            }
            var oof = [Double](repeating: .nan, count: n)
            for i in 0..<n { oof[i] = models[fold[i]].predict(features[i]) }
            let q = OutcomeModelQuality.of(kind: kind, predictions: oof, targets: t)
            let qy = negateOutcomes ? OutcomeModelQuality.of(kind: kind, predictions: oof, targets: outcomes) : q
            let model = CrossFittedOutcomeModel(kind: kind, featurizer: featurizer, lambda: lambda, folds: fold, models: models,
                                                predictions: oof, quality: q, qualityVersusOutcomes: qy, negatedOutcomes: negateOutcomes)
            path.lambdas.append(lambda)
            path.qualities.append(q.value)
            previous = solved
            let value = q.value.isNaN ? -Double.infinity : q.value
            if best == nil || value > bestQuality {
                best = model
                bestQuality = value
                path.selected = lambda
                sinceImprovement = 0
            } else {
                sinceImprovement += 1
                if sinceImprovement >= patience { break }
            }
        }
        return (best!, path)
    }

    /// The rows fold model k was trained on.
    public func trainingRows(ofModel k: Int) -> [Int] { folds.indices.filter { folds[$0] != k } }

    /// ĝ of a new text: the mean of the K fold models' predictions.
    public func predict(_ x: SparseVector) -> Double {
        models.reduce(0) { $0 + $1.predict(x) } / Double(models.count)
    }

    public func predict(features: [SparseVector]) -> [Double] { features.map { predict($0) } }

    public func predict(_ texts: [String]) -> [Double] { texts.map { predict(featurizer.features($0)) } }
}

/// One result slot per fold, written from `forEachFold`'s workers (each slot by one worker).
final class FoldResults<T: Sendable>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()

    init(count: Int) { slots = [T?](repeating: nil, count: count) }

    subscript(i: Int) -> T {
        get { lock.withLock { slots[i]! } }
        set { lock.withLock { slots[i] = newValue } }
    }

    var values: [T] { lock.withLock { slots.map { $0! } } }
}

/// Runs `body` for each fold, on all cores when `parallel`.
func forEachFold(_ k: Int, parallel: Bool, _ body: @Sendable (Int) -> Void) {
    if parallel, k > 1, ProcessInfo.processInfo.activeProcessorCount > 1 {
        DispatchQueue.concurrentPerform(iterations: k, execute: body)
    } else {
        for f in 0..<k { body(f) }
    }
}
