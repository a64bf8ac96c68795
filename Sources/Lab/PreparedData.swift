import CausalPO
import CPOSupport
import Foundation
import OutcomeData

/// The rows of one run, ready for the pipeline: outcomes already oriented so that larger is
/// better (the dataset's `oriented`, the one place lower-is-better is flipped).
public struct PreparedData: Sendable {
    /// "world:NAME" or "csv:FILE" (as recorded in summary.json).
    public var sourceLabel: String
    public var world: World?
    public var outcomeKind: OutcomeKind
    public var higherIsBetter: Bool
    /// Rows the methods train on.
    public var train: [OutcomeRow]
    /// Rows that decide when FT stops, never used for estimation (worlds: sampled like the
    /// training rows; user data: a part of the split). Empty in runs saved before they existed.
    public var validation: [OutcomeRow]
    /// Held-out rows for the estimators and the win-rate prompts (worlds: a sample from
    /// `LabConfig.evalDesign`, randomized by default).
    public var eval: [OutcomeRow]
    /// Rows ĝ is fit on (the training rows, a separate observational log, or negated rows).
    public var ghatRows: [OutcomeRow]
    /// True when `ghatRows` are the training rows themselves (so ĝ must be cross-fitted).
    public var ghatIsCrossFitted: Bool
    public var attributeNames: [String]
    public var split: DataSplit.Record
    /// Rows dropped as unusable when loading (files only).
    public var badRows: Int
    /// What the user must know before trusting the run: what it cannot identify, propensities
    /// that cannot be right, rows left out.
    public var warnings: [String]

    /// Worlds whose held-out propensities hide the reader trait (observational held-out rows
    /// with `--propensity marginal`): the Λ it implies (`World.hiddenTraitLambda`), at which the
    /// sensitivity bounds must cover the truth; nil when the estimators' propensities are exact
    /// or unknown.
    public var hiddenTraitLambda: Double? = nil

    /// ĝ's family: logistic for binary outcomes, ridge otherwise.
    public var outcomeModelKind: OutcomeModelKind { outcomeKind == .binary ? .logistic : .ridge }

    /// ĝ as the preparation of `seed`'s experiment fits it (the FT model plays no part): on
    /// `ghatRows`, cross-fitted in `config.folds` folds, λ chosen by cross-fitted quality along
    /// a path (one number chosen with all rows; each row's prediction still comes from models
    /// that never saw it).
    public func fitOutcomeModel(_ config: LabConfig, seed: UInt64) throws(LabError) -> CrossFittedOutcomeModel {
        do {
            let featurizer = TextFeaturizer()
            return try CrossFittedOutcomeModel.fitSelectingLambda(
                features: featurizer.features(ghatRows.map(\.text)), outcomes: ghatRows.map(\.outcome),
                kind: outcomeModelKind, folds: config.folds, seed: SeededRandom.derivedSeed(seed, "ghat"), featurizer: featurizer).model
        } catch {
            throw .failed("ĝ: \(error)")
        }
    }

    /// ĝ(X_i) of the training rows: out-of-fold when ĝ was cross-fitted on them, else the mean
    /// of the fold models.
    public func trainingRowsGhat(_ ghat: CrossFittedOutcomeModel) -> [Double] {
        ghatIsCrossFitted ? ghat.predictions : ghat.predict(train.map(\.text))
    }

    /// Builds the rows for `config` and one `seed`.
    public static func make(_ config: LabConfig, seed: UInt64) throws(LabError) -> PreparedData {
        switch config.source {
        case .world(let nameOrPath): return try world(nameOrPath, config, seed: seed)
        case .file(let path, let options): return try file(path, options, config, seed: seed)
        }
    }

    private static func world(_ nameOrPath: String, _ config: LabConfig, seed: UInt64) throws(LabError) -> PreparedData {
        let world: World
        do {
            world = try World.load(path: try ShippedWorlds.resolve(nameOrPath))
        } catch {
            throw .input(error)
        }
        // --propensity marginal: every row carries its text's probability averaged over readers.
        func rows(_ n: Int, _ design: WorldDesign, _ label: String) -> [OutcomeRow] {
            guard n > 0 else { return [] }
            let s = world.sample(rows: n, design: design, seed: SeededRandom.derivedSeed(seed, label))
            return WorldDatasets.dataset(world: world, samples: s, source: "world:\(world.name)",
                                         marginal: config.propensity == .marginal).rows
        }
        let train = rows(config.rows, config.design, "train")
        let validation = rows(config.validationRows, config.design, "validation")
        let eval = rows(config.evalRows, config.evalDesign, "eval")
        let ghatRows: [OutcomeRow]
        switch config.ghatFrom {
        case .same: ghatRows = train
        case .observational: ghatRows = rows(config.logRows, .observational, "observational-log")
        case .negated: ghatRows = train.map { var r = $0; r.outcome = world.outcomeKind == .binary ? 1 - r.outcome : -r.outcome; return r }
        }
        let total = Double(config.rows + config.validationRows + config.evalRows)
        // Enumerates every attribute order of the world: computed once for the warning and the value.
        let hiddenLambda = world.hiddenTraitLambda
        return PreparedData(
            sourceLabel: "world:\(world.name)", world: world, outcomeKind: world.outcomeKind, higherIsBetter: true,
            train: train, validation: validation, eval: eval, ghatRows: ghatRows, ghatIsCrossFitted: config.ghatFrom != .observational,
            attributeNames: world.attributes.map(\.name),
            split: DataSplit.Record(seed: seed, evalFraction: Double(config.evalRows) / total, trainCount: train.count,
                                    evalCount: eval.count, fromColumn: false, validationCount: validation.count,
                                    validationFraction: Double(config.validationRows) / total),
            badRows: 0, warnings: config.identificationWarnings + config.hiddenTraitWarnings(lambda: hiddenLambda),
            hiddenTraitLambda: config.hiddenTraitConfoundsEstimates && hiddenLambda > 1 ? hiddenLambda : nil)
    }

    private static func file(_ path: String, _ options: LoadOptions, _ config: LabConfig, seed: UInt64) throws(LabError) -> PreparedData {
        let ds: OutcomeDataset
        do {
            ds = try DatasetLoader.load(path: path, options: options)
        } catch {
            throw .input(error)
        }
        let split = DataSplit.make(for: ds, validationFraction: config.validationFraction, seed: seed)
        guard split.train.count >= 20, split.eval.count >= 10 else {
            throw .invalidConfig("\(path): the split leaves \(split.train.count) training and \(split.eval.count) evaluation rows; need at least 20 and 10")
        }
        if config.propensity == .logged && ds.columns.propensity == nil {
            throw .invalidConfig("--propensity logged needs a propensity column: pass --propensity-column COL, or use --propensity model")
        }
        var warnings = config.identificationWarnings
        if let column = ds.columns.propensity {
            switch PropensityCheck(ds.rows) {
            case .plausible: break
            case .impossible(let problem):
                if config.propensity == .logged {
                    throw .invalidConfig("\(path): the propensity column '\(column)' \(problem) Fix the column, or use --propensity model.")
                }
                warnings.append("the propensity column '\(column)' \(problem) (it is not used: P^R is the FT model)")
            case .doubtful(let problem):
                warnings.append("the propensity column '\(column)' \(problem)")
            }
        }
        if ds.badRowCount > 0 {
            warnings.append("\(ds.badRowCount) records of \(path) are unusable and left out (first: "
                + ds.firstBadRows.prefix(3).map(\.description).joined(separator: "; ") + "); cpo-tui data check lists them")
        }
        let oriented = ds.rows.map { r -> OutcomeRow in var o = r; o.outcome = ds.oriented(r.outcome); return o }
        let train = split.train.map { oriented[$0] }
        let ghatRows = config.ghatFrom == .negated
            ? train.map { var r = $0; r.outcome = ds.outcomeKind == .binary ? 1 - r.outcome : -r.outcome; return r }
            : train
        return PreparedData(
            sourceLabel: "csv:\(path)", world: nil, outcomeKind: ds.outcomeKind, higherIsBetter: ds.higherIsBetter,
            train: train, validation: split.validation.map { oriented[$0] }, eval: split.eval.map { oriented[$0] },
            ghatRows: ghatRows, ghatIsCrossFitted: true, attributeNames: ds.columns.attributes, split: split.record,
            badRows: ds.badRowCount, warnings: warnings)
    }
}

/// Whether a dataset's propensities can be what they claim: each text's probability under one
/// randomization P^R (or, in a stratified or observational design, under its reader's design).
///
/// - Probabilities of distinct texts under one design sum to at most 1. With a design per
///   reader, each text's smallest propensity is at most its probability under any one of them,
///   so the sum over distinct texts of the smallest propensity given to each must be at most 1
///   too. Above it, the column cannot be probabilities of whole texts (per-passage or
///   per-choice probabilities, weights, a wrong scale): **impossible**.
/// - When every text has one propensity (one randomization) and texts repeat often enough to
///   tell, the mass of the texts seen should match the Good-Turing estimate of it, 1 − n₁/n
///   (n₁: texts seen once, n rows): a sum off by more than a factor of 2 is **doubtful**.
///   (Measured on the shipped randomized samples: 0.492 against 0.504, 0.605 against 0.607.)
///
/// Each row's range, (0, 1] or a log-probability <= 0, is the loader's check (unusable rows).
enum PropensityCheck: Equatable {
    case plausible
    case impossible(String)
    case doubtful(String)

    /// Slack on the sum of probabilities, for propensities written with few digits.
    static let sumTolerance = 0.01
    /// The Good-Turing seen mass below which texts repeat too rarely to judge the sum by it.
    static let minimumSeenMass = 0.05
    /// How far (as a factor) the sum may be from the Good-Turing estimate before it is doubtful.
    static let doubtfulFactor = 2.0

    init(_ rows: [OutcomeRow]) {
        var byText: [String: (min: Double, max: Double, rows: Int)] = [:]
        for r in rows {
            guard let p = r.propensity else { continue }
            let e = byText[r.text] ?? (p, p, 0)
            byText[r.text] = (Swift.min(e.min, p), Swift.max(e.max, p), e.rows + 1)
        }
        let n = byText.values.reduce(0) { $0 + $1.rows }
        guard n > 0 else { self = .plausible; return }
        // Sorted so the sum does not depend on the dictionary's order.
        let smallest = byText.values.map(\.min).sorted().reduce(0, +)
        if smallest > 1 + Self.sumTolerance {
            self = .impossible(String(format: """
                cannot hold probabilities of whole texts under one randomization: over the %d distinct texts they sum to \
                %.3g (probabilities of distinct texts sum to at most 1).
                """, byText.count, smallest))
            return
        }
        let oneEach = byText.values.allSatisfy { $0.max <= $0.min * (1 + 1e-9) }
        let seen = 1 - Double(byText.values.filter { $0.rows == 1 }.count) / Double(n)
        guard oneEach, seen >= Self.minimumSeenMass else { self = .plausible; return }
        let ratio = smallest / seen
        if ratio > Self.doubtfulFactor || ratio < 1 / Self.doubtfulFactor {
            self = .doubtful(String(format: """
                looks mis-scaled: the %d distinct texts' propensities sum to %.3g, but how often texts repeat says they \
                should hold about %.3g of the probability (Good-Turing, 1 - texts seen once / rows). Check that it is \
                the probability of the whole text under the randomization.
                """, byText.count, smallest, seen))
        } else {
            self = .plausible
        }
    }
}
