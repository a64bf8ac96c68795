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
    /// Held-out rows for the estimators and the win-rate prompts (worlds: a randomized sample).
    public var eval: [OutcomeRow]
    /// Rows ĝ is fit on (the training rows, a separate observational log, or negated rows).
    public var ghatRows: [OutcomeRow]
    /// True when `ghatRows` are the training rows themselves (so ĝ must be cross-fitted).
    public var ghatIsCrossFitted: Bool
    public var attributeNames: [String]
    public var split: DataSplit.Record
    /// Rows dropped as unusable when loading (files only).
    public var badRows: Int

    /// Builds the rows for `config` and one `seed`.
    public static func make(_ config: LabConfig, seed: UInt64) throws(LabError) -> PreparedData {
        switch config.source {
        case .world(let nameOrPath):
            let world: World
            do {
                world = try World.load(path: try ShippedWorlds.resolve(nameOrPath))
            } catch {
                throw .input(error)
            }
            func rows(_ n: Int, _ design: WorldDesign, _ label: String) -> [OutcomeRow] {
                let s = world.sample(rows: n, design: design, seed: SeededRandom.derivedSeed(seed, label))
                return WorldDatasets.dataset(world: world, samples: s, source: "world:\(world.name)").rows
            }
            let train = rows(config.rows, config.design, "train")
            let eval = rows(config.evalRows, .randomized, "eval")
            let ghatRows: [OutcomeRow]
            switch config.ghatFrom {
            case .same: ghatRows = train
            case .observational: ghatRows = rows(config.logRows, .observational, "observational-log")
            case .negated: ghatRows = train.map { var r = $0; r.outcome = world.outcomeKind == .binary ? 1 - r.outcome : -r.outcome; return r }
            }
            return PreparedData(
                sourceLabel: "world:\(world.name)", world: world, outcomeKind: world.outcomeKind, higherIsBetter: true,
                train: train, eval: eval, ghatRows: ghatRows, ghatIsCrossFitted: config.ghatFrom != .observational,
                attributeNames: world.attributes.map(\.name),
                split: DataSplit.Record(seed: seed, evalFraction: Double(config.evalRows) / Double(config.rows + config.evalRows),
                                        trainCount: train.count, evalCount: eval.count, fromColumn: false),
                badRows: 0)
        case .file(let path, let options):
            let ds: OutcomeDataset
            do {
                ds = try DatasetLoader.load(path: path, options: options)
            } catch {
                throw .input(error)
            }
            let split = DataSplit.make(for: ds, seed: seed)
            guard split.train.count >= 20, split.eval.count >= 10 else {
                throw .invalidConfig("\(path): the split leaves \(split.train.count) training and \(split.eval.count) evaluation rows; need at least 20 and 10")
            }
            if config.propensity == .logged && ds.columns.propensity == nil {
                throw .invalidConfig("--propensity logged needs a propensity column: pass --propensity-column COL, or use --propensity model")
            }
            let oriented = ds.rows.map { r -> OutcomeRow in var o = r; o.outcome = ds.oriented(r.outcome); return o }
            let train = split.train.map { oriented[$0] }
            let eval = split.eval.map { oriented[$0] }
            let ghatRows = config.ghatFrom == .negated
                ? train.map { var r = $0; r.outcome = ds.outcomeKind == .binary ? 1 - r.outcome : -r.outcome; return r }
                : train
            return PreparedData(
                sourceLabel: "csv:\(path)", world: nil, outcomeKind: ds.outcomeKind, higherIsBetter: ds.higherIsBetter,
                train: train, eval: eval, ghatRows: ghatRows, ghatIsCrossFitted: true,
                attributeNames: ds.columns.attributes, split: split.record, badRows: ds.badRowCount)
        }
    }
}
