import CPOSupport
import Foundation
import Testing
@testable import CausalPO

/// Small dense linear algebra written independently of the library, for reference solutions.
enum DenseReference {
    /// Solves A x = b by Gaussian elimination with partial pivoting.
    static func solve(_ a: [[Double]], _ b: [Double]) -> [Double] {
        let n = b.count
        var m = a
        var r = b
        for col in 0..<n {
            let piv = (col..<n).max { abs(m[$0][col]) < abs(m[$1][col]) }!
            m.swapAt(col, piv)
            r.swapAt(col, piv)
            for row in (col + 1)..<n {
                let f = m[row][col] / m[col][col]
                for k in col..<n { m[row][k] -= f * m[col][k] }
                r[row] -= f * r[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for row in stride(from: n - 1, through: 0, by: -1) {
            var s = r[row]
            for k in (row + 1)..<n { s -= m[row][k] * x[k] }
            x[row] = s / m[row][row]
        }
        return x
    }

    /// Rows of a dense n × d design with standard normal entries, as dense and sparse rows.
    static func randomDesign(n: Int, d: Int, seed: UInt64) -> (dense: [[Double]], sparse: [SparseVector]) {
        var r = SeededRandom(seed: seed)
        let dense = (0..<n).map { _ in (0..<d).map { _ in r.gaussian() } }
        return (dense, dense.map { SparseVector(indices: Array(0..<d), values: $0) })
    }

    /// Gradient of Σ[softplus(η) − yη] + ½λ‖β‖², η = b + Xβ, at (b, β): (g_b, g_β...).
    static func logisticGradient(_ x: [[Double]], _ y: [Double], b: Double, beta: [Double], lambda: Double) -> [Double] {
        var g = [Double](repeating: 0, count: beta.count + 1)
        for i in x.indices {
            let eta = b + zip(x[i], beta).reduce(0) { $0 + $1.0 * $1.1 }
            let res = 1 / (1 + Foundation.exp(-eta)) - y[i]
            g[0] += res
            for j in beta.indices { g[j + 1] += res * x[i][j] }
        }
        for j in beta.indices { g[j + 1] += lambda * beta[j] }
        return g
    }

    /// Plain Newton on the dense penalized logistic problem, from zero, for many steps.
    static func logisticNewton(_ x: [[Double]], _ y: [Double], lambda: Double) -> [Double] {
        let d = x[0].count
        var theta = [Double](repeating: 0, count: d + 1)
        for _ in 0..<60 {
            let g = logisticGradient(x, y, b: theta[0], beta: Array(theta[1...]), lambda: lambda)
            var h = [[Double]](repeating: [Double](repeating: 0, count: d + 1), count: d + 1)
            for i in x.indices {
                let z = [1] + x[i]
                let eta = zip(z, theta).reduce(0) { $0 + $1.0 * $1.1 }
                let p = 1 / (1 + Foundation.exp(-eta))
                for a in 0...d { for b in 0...d { h[a][b] += p * (1 - p) * z[a] * z[b] } }
            }
            for j in 1...d { h[j][j] += lambda }
            let step = solve(h, g.map { -$0 })
            for j in 0...d { theta[j] += step[j] }
        }
        return theta
    }
}

@Suite("outcome model")
struct OutcomeModelTests {
    @Test func ridgeMatchesClosedForm() throws {
        let n = 12, d = 4
        let lambda = 0.7
        let (x, rows) = DenseReference.randomDesign(n: n, d: d, seed: 3)
        var r = SeededRandom(seed: 4)
        let y = (0..<n).map { i in 2 + x[i][0] - 0.5 * x[i][2] + r.gaussian() }
        // Normal equations for (b, β) with the intercept unpenalized.
        var a = [[Double]](repeating: [Double](repeating: 0, count: d + 1), count: d + 1)
        var rhs = [Double](repeating: 0, count: d + 1)
        for i in 0..<n {
            let z = [1] + x[i]
            for j in 0...d {
                rhs[j] += z[j] * y[i]
                for k in 0...d { a[j][k] += z[j] * z[k] }
            }
        }
        for j in 1...d { a[j][j] += lambda }
        let exact = DenseReference.solve(a, rhs)

        let featurizer = TextFeaturizer(FeatureConfig(dimension: d))
        let m = try OutcomeModel.fit(features: rows, outcomes: y, kind: .ridge, featurizer: featurizer,
                                     options: OutcomeSolverOptions(lambda: lambda))
        #expect(m.report.converged)
        #expect(m.report.activeFeatures == d)
        #expect(abs(m.intercept - exact[0]) < 1e-9)
        for j in 0..<d { #expect(abs(m.weights[j] - exact[j + 1]) < 1e-9) }
        #expect(abs(m.predict(rows[0]) - (exact[0] + zip(x[0], exact[1...]).reduce(0) { $0 + $1.0 * $1.1 })) < 1e-9)
    }

    @Test(arguments: [false, true])
    func logisticMatchesNewtonReference(softLabels: Bool) throws {
        let n = 60, d = 3
        let lambda = 0.5
        let (x, rows) = DenseReference.randomDesign(n: n, d: d, seed: 5)
        var r = SeededRandom(seed: 6)
        let y: [Double] = (0..<n).map { i in
            let p = 1 / (1 + Foundation.exp(-(0.3 + 1.5 * x[i][0] - x[i][1])))
            return softLabels ? (p + r.uniform()) / 2 : (r.uniform() < p ? 1 : 0)
        }
        let featurizer = TextFeaturizer(FeatureConfig(dimension: d))
        let m = try OutcomeModel.fit(features: rows, outcomes: y, kind: .logistic, featurizer: featurizer,
                                     options: OutcomeSolverOptions(lambda: lambda))
        #expect(m.report.converged)
        let g = DenseReference.logisticGradient(x, y, b: m.intercept, beta: Array(m.weights[0..<d]), lambda: lambda)
        #expect(g.map(abs).max()! < 1e-7)
        let ref = DenseReference.logisticNewton(x, y, lambda: lambda)
        #expect(abs(m.intercept - ref[0]) < 1e-8)
        for j in 0..<d { #expect(abs(m.weights[j] - ref[j + 1]) < 1e-8) }
        for i in 0..<n {
            let eta = ref[0] + zip(x[i], ref[1...]).reduce(0) { $0 + $1.0 * $1.1 }
            #expect(abs(m.predict(rows[i]) - 1 / (1 + Foundation.exp(-eta))) < 1e-9)
        }
    }

    @Test func logisticWithOneClassIsFinite() throws {
        let rows = DenseReference.randomDesign(n: 10, d: 2, seed: 1).sparse
        let featurizer = TextFeaturizer(FeatureConfig(dimension: 2))
        let ones = try OutcomeModel.fit(features: rows, outcomes: Array(repeating: 1, count: 10), kind: .logistic, featurizer: featurizer)
        #expect(ones.intercept.isFinite && ones.predict(rows[0]) > 0.9 && ones.predict(rows[0]) < 1)
        #expect(ones.weights == [0, 0])
    }

    @Test func invalidInputsThrowTypedErrors() {
        let f = TextFeaturizer(FeatureConfig(dimension: 16))
        #expect(throws: OutcomeModelError.outcomeOutsideUnitInterval(row: 1, value: 2)) {
            try OutcomeModel.fit(texts: ["a", "b"], outcomes: [0, 2], kind: .logistic, featurizer: f)
        }
        #expect(throws: OutcomeModelError.nonFiniteOutcome(row: 0)) {
            try OutcomeModel.fit(texts: ["a"], outcomes: [.nan], kind: .ridge, featurizer: f)
        }
        #expect(throws: OutcomeModelError.countMismatch(rows: 2, outcomes: 1)) {
            try OutcomeModel.fit(texts: ["a", "b"], outcomes: [1], kind: .ridge, featurizer: f)
        }
        #expect(throws: OutcomeModelError.noRows) {
            try OutcomeModel.fit(texts: [], outcomes: [], kind: .ridge, featurizer: f)
        }
        #expect(throws: OutcomeModelError.tooFewRowsForFolds(rows: 3, folds: 5)) {
            try CrossFittedOutcomeModel.fit(texts: ["a", "b", "c"], outcomes: [1, 2, 3], kind: .ridge, folds: 5, seed: 1, featurizer: f)
        }
        #expect(OutcomeModelError.tooFewRowsForFolds(rows: 3, folds: 5).description.contains("at most 3"))
    }

    /// Each row carries a unique word; only a model trained on that row can give it a weight.
    /// Cross-fitted predictions must therefore ignore it: every row of a fold gets the same
    /// prediction, its fold model has weight exactly 0 on the row's unique slots, and every
    /// other fold model has a non-zero weight there.
    @Test func crossFittingNeverPredictsARowWithAModelThatSawIt() throws {
        let n = 40, k = 5
        let featurizer = TextFeaturizer()
        let texts = (0..<n).map { "common words here uniq\($0)" }
        var r = SeededRandom(seed: 11)
        let y = (0..<n).map { _ in 3 * r.gaussian() }
        let uniqueSlots = (0..<n).map { i in ["uniq\(i)", "here uniq\(i)"].map { featurizer.slot(ofTerm: $0).index } }
        let allSlots = Set(featurizer.terms("common words here").map { featurizer.slot(ofTerm: $0).index } + uniqueSlots.flatMap { $0 })
        #expect(allSlots.count == 3 + 2 + 2 * n, "test needs collision-free slots")

        let cf = try CrossFittedOutcomeModel.fit(texts: texts, outcomes: y, kind: .ridge, folds: k, seed: 99, featurizer: featurizer,
                                                 options: OutcomeSolverOptions(lambda: 0.01))
        let common = featurizer.features("common words here")
        for i in 0..<n {
            let f = cf.folds[i]
            for s in uniqueSlots[i] {
                #expect(cf.models[f].weights[s] == 0)
                for other in 0..<k where other != f { #expect(cf.models[other].weights[s] != 0) }
            }
            #expect(abs(cf.predictions[i] - cf.models[f].predict(common)) < 1e-12)
        }
        // In-sample, the unique words memorize the outcomes; out-of-fold they cannot.
        let full = try OutcomeModel.fit(texts: texts, outcomes: y, kind: .ridge, featurizer: featurizer,
                                        options: OutcomeSolverOptions(lambda: 0.01))
        #expect(OutcomeMetrics.r2(predictions: full.predict(texts), targets: y) > 0.99)
        #expect(cf.quality.metric == .r2 && cf.quality.value < 0.1)
    }

    @Test func foldsAreBalancedSeededAndRefitsReproducePredictions() throws {
        let n = 53, k = 4
        let fold = CrossFittedOutcomeModel.foldAssignment(count: n, folds: k, seed: 7)
        let sizes = (0..<k).map { f in fold.filter { $0 == f }.count }
        #expect(sizes.max()! - sizes.min()! <= 1 && sizes.reduce(0, +) == n)
        #expect(fold == CrossFittedOutcomeModel.foldAssignment(count: n, folds: k, seed: 7))
        #expect(fold != CrossFittedOutcomeModel.foldAssignment(count: n, folds: k, seed: 8))

        let (x, rows) = DenseReference.randomDesign(n: n, d: 3, seed: 2)
        let y: [Double] = x.map { $0[0] > 0 ? 1 : 0 }
        let featurizer = TextFeaturizer(FeatureConfig(dimension: 3))
        let cf = try CrossFittedOutcomeModel.fit(features: rows, outcomes: y, kind: .logistic, folds: k, seed: 7, featurizer: featurizer)
        #expect(cf.folds == fold)
        for f in 0..<k {
            let train = cf.trainingRows(ofModel: f)
            #expect(train.allSatisfy { fold[$0] != f } && train.count == n - sizes[f])
            let refit = try OutcomeModel.fit(features: train.map { rows[$0] }, outcomes: train.map { y[$0] }, kind: .logistic,
                                             featurizer: featurizer)
            #expect(refit == cf.models[f])
            for i in 0..<n where fold[i] == f { #expect(cf.predictions[i] == refit.predict(rows[i])) }
        }
        // New rows: the mean of the K fold models' probabilities.
        let p = cf.predict(rows[0])
        #expect(abs(p - cf.models.map { $0.predict(rows[0]) }.reduce(0, +) / Double(k)) < 1e-15)
        #expect(cf.quality.metric == .auc && cf.quality.value > 0.9)
    }

    @Test func negatedOutcomesPredictTheWrongSign() throws {
        let (x, rows) = DenseReference.randomDesign(n: 30, d: 3, seed: 8)
        let y = x.map { 5 + 2 * $0[0] - $0[1] }
        let featurizer = TextFeaturizer(FeatureConfig(dimension: 3))
        let plain = try CrossFittedOutcomeModel.fit(features: rows, outcomes: y, kind: .ridge, folds: 3, seed: 1, featurizer: featurizer)
        let negated = try CrossFittedOutcomeModel.fit(features: rows, outcomes: y, kind: .ridge, folds: 3, seed: 1,
                                                      featurizer: featurizer, negateOutcomes: true)
        #expect(negated.negatedOutcomes)
        for i in rows.indices { #expect(abs(negated.predictions[i] + plain.predictions[i]) < 1e-8) }
        #expect(abs(negated.quality.value - plain.quality.value) < 1e-8 && plain.quality.value > 0.9)
        #expect(plain.qualityVersusOutcomes == plain.quality)
        #expect(negated.qualityVersusOutcomes.value < -1)   // about Y, the confounded ĝ is worse than a constant

        // Logistic: fitted to 1 − Y, predicting 1 − P(Y = 1).
        let labels: [Double] = x.map { $0[0] + 0.5 * $0[2] > 0 ? 1 : 0 }
        let pl = try OutcomeModel.fit(features: rows, outcomes: labels, kind: .logistic, featurizer: featurizer)
        let ng = try OutcomeModel.fit(features: rows, outcomes: labels, kind: .logistic, featurizer: featurizer, negateOutcomes: true)
        for i in rows.indices { #expect(abs(ng.predict(rows[i]) - (1 - pl.predict(rows[i]))) < 1e-8) }
    }

    @Test func r2AndAUCMatchDirectComputations() {
        #expect(abs(OutcomeMetrics.r2(predictions: [1, 2, 3], targets: [1, 2, 4]) - 33.0 / 42.0) < 1e-15)
        #expect(OutcomeMetrics.r2(predictions: [7, 7], targets: [6, 8]) == 0)
        #expect(OutcomeMetrics.r2(predictions: [1, 2], targets: [3, 3]).isNaN)
        #expect(OutcomeMetrics.auc(scores: [0.1, 0.4, 0.35, 0.8], labels: [false, false, true, true]) == 0.75)
        #expect(OutcomeMetrics.auc(scores: [0.5, 0.5], labels: [true, false]) == 0.5)
        #expect(OutcomeMetrics.auc(scores: [1, 2, 3], labels: [true, true, false]) == 0)
        // Ties across classes count half: pairs (pos 0.2 > neg 0.1), (0.2 = 0.2), (0.9 > both).
        #expect(OutcomeMetrics.auc(scores: [0.2, 0.9, 0.1, 0.2], labels: [true, true, false, false]) == 3.5 / 4)
        #expect(OutcomeMetrics.auc(scores: [1, 2], labels: [true, true]).isNaN)
    }

    /// End to end on texts: words with known effects, filler words without. The cross-fitted
    /// quality must come close to that of the true mean outcome g itself: at least 90% of its
    /// R², or 85% of its AUC's margin over chance.
    @Test(arguments: OutcomeModelKind.allCases)
    func learnsWordEffectsFromTexts(_ kind: OutcomeModelKind) throws {
        let filler = ["we", "should", "think", "about", "this", "today", "people", "say"]
        let effects = [("economy", 2.0), ("freedom", -1.5), ("safety", 1.0)]
        var r = SeededRandom(seed: 21)
        var texts: [String] = [], y: [Double] = [], truth: [Double] = []
        for _ in 0..<400 {
            var words = (0..<6).map { _ in filler[r.int(below: filler.count)] }
            var g = 0.0
            for (word, e) in effects where r.uniform() < 0.5 {
                words.insert(word, at: r.int(below: words.count + 1))
                g += e
            }
            texts.append(words.joined(separator: " "))
            let mean = kind == .ridge ? g : 1 / (1 + Foundation.exp(-(g - 0.7)))
            truth.append(mean)
            y.append(kind == .ridge ? g + 0.5 * r.gaussian() : (r.uniform() < mean ? 1 : 0))
        }
        let cf = try CrossFittedOutcomeModel.fit(texts: texts, outcomes: y, kind: kind, folds: 5, seed: 3)
        #expect(cf.models.allSatisfy { $0.report.converged })
        let oracle = OutcomeModelQuality.of(kind: kind, predictions: truth, targets: y)
        #expect(cf.quality.metric == (kind == .ridge ? .r2 : .auc))
        switch kind {
        case .ridge: #expect(cf.quality.value > 0.9 * oracle.value, "ĝ \(cf.quality.value) vs g itself \(oracle.value)")
        case .logistic: #expect(cf.quality.value - 0.5 > 0.85 * (oracle.value - 0.5), "ĝ \(cf.quality.value) vs g itself \(oracle.value)")
        }
        let p = cf.predict(["economy safety", "freedom"])
        #expect(p[0] > p[1])
    }

    @Test func parallelAndSerialFoldsAgree() throws {
        let (x, rows) = DenseReference.randomDesign(n: 80, d: 6, seed: 13)
        let y = x.map { $0[0] - $0[3] }
        let featurizer = TextFeaturizer(FeatureConfig(dimension: 6))
        for kind in OutcomeModelKind.allCases {
            let t = kind == .ridge ? y : y.map { $0 > 0 ? 1 : 0 }
            let a = try CrossFittedOutcomeModel.fit(features: rows, outcomes: t, kind: kind, folds: 4, seed: 5, featurizer: featurizer,
                                                    options: OutcomeSolverOptions(parallelFolds: true))
            let b = try CrossFittedOutcomeModel.fit(features: rows, outcomes: t, kind: kind, folds: 4, seed: 5, featurizer: featurizer,
                                                    options: OutcomeSolverOptions(parallelFolds: false))
            #expect(a == b)
        }
    }

    /// λ selection walks the grid from the largest λ down with warm starts, stops after two
    /// candidates without improvement, and returns the best; warm-started fits agree with cold ones.
    @Test(arguments: OutcomeModelKind.allCases)
    func lambdaSelectionPicksTheBestOnItsPath(_ kind: OutcomeModelKind) throws {
        let (x, rows) = DenseReference.randomDesign(n: 120, d: 8, seed: 17)
        var r = SeededRandom(seed: 18)
        let y: [Double] = x.map { row in
            let g = row[0] - 0.5 * row[1]
            return kind == .ridge ? g + 2 * r.gaussian() : (r.uniform() < 1 / (1 + Foundation.exp(-g)) ? 1 : 0)
        }
        let featurizer = TextFeaturizer(FeatureConfig(dimension: 8))
        let (model, path) = try CrossFittedOutcomeModel.fitSelectingLambda(features: rows, outcomes: y, kind: kind, folds: 5, seed: 2,
                                                                            candidates: [0.01, 1000, 10, 100, 1, 0.1], featurizer: featurizer)
        #expect(path.lambdas == Array([1000, 100, 10, 1, 0.1, 0.01].prefix(path.lambdas.count)))
        let bestIndex = path.qualities.indices.max { path.qualities[$0] < path.qualities[$1] }!
        #expect(path.selected == path.lambdas[bestIndex] && model.lambda == path.selected)
        #expect(model.quality.value == path.qualities[bestIndex])
        if path.lambdas.count < 6 { #expect(path.lambdas.count - 1 - bestIndex == 2) }
        let cold = try CrossFittedOutcomeModel.fit(features: rows, outcomes: y, kind: kind, folds: 5, seed: 2, featurizer: featurizer,
                                                   options: OutcomeSolverOptions(lambda: path.selected))
        for i in rows.indices { #expect(abs(cold.predictions[i] - model.predictions[i]) < 1e-6) }
        #expect(throws: OutcomeModelError.invalidLambda(-1)) {
            try CrossFittedOutcomeModel.fitSelectingLambda(features: rows, outcomes: y, kind: kind, seed: 1, candidates: [1, -1],
                                                           featurizer: featurizer)
        }
    }
}
