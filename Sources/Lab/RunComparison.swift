import CausalPO
import Foundation

/// Saved runs side by side (`cpo-tui compare`): the runs' evaluations in groups, a group being
/// the runs that differ only by seed (the same source, methods and options), whose learning
/// curves are the mean and the 95% band over its seeds (`LearningCurve`).
public struct RunComparison: Sendable, Hashable {
    /// Runs that differ only by seed.
    public struct Group: Sendable, Hashable {
        /// The run directories' names: "runA", or "runA+runB" for seeds saved apart.
        public var label: String
        /// The run directories, as given.
        public var directories: [String]
        /// The configuration of the group's first run (the others differ only in the seed, the
        /// number of epochs and the threads).
        public var config: LabConfig
        /// The seeds, and each seed's evaluations (epoch 0, FT, first), in the same order.
        public var seeds: [UInt64]
        public var runs: [[Method: [EpochMetrics]]]
        /// Whether the runs are in a simulated world (which has a true value and a gain), and
        /// the world's best value V*.
        public var world: Bool
        public var vStar: Double?

        public init(label: String, directories: [String], config: LabConfig, seeds: [UInt64],
                    runs: [[Method: [EpochMetrics]]], world: Bool, vStar: Double?) {
            self.label = label
            self.directories = directories
            self.config = config
            self.seeds = seeds
            self.runs = runs
            self.world = world
            self.vStar = vStar
        }
    }

    public var groups: [Group]

    public init(groups: [Group]) { self.groups = groups }

    /// True values and gains only when every group is in a world; otherwise every group's
    /// value is V_DR, so the curves stay comparable.
    public var world: Bool { !groups.isEmpty && groups.allSatisfy(\.world) }

    /// The learning curves of `quantity` of every method of `group`, in the run's method order.
    public func curves(_ quantity: CurveQuantity, of group: Group) -> [LearningCurve] {
        LearningCurve.curves(quantity, runs: group.runs, methods: group.config.methods, world: world)
    }

    /// What decides whether two runs belong to one group: the configuration but for the seed,
    /// the epochs trained (seeds may be at different epochs) and the threads.
    static func groupKey(_ config: LabConfig) -> LabConfig {
        var key = config
        key.seed = 0
        key.seeds = 1
        key.epochs = 0
        key.threads = 0
        return key
    }
}

/// Why saved runs could not be compared; the description names the directory and what to do.
public enum RunComparisonError: Error, CustomStringConvertible, Equatable {
    case unreadable(directory: String, RunStoreError)
    case noCheckpoint(directory: String)

    public var description: String {
        switch self {
        case let .unreadable(directory, error):
            return "cannot compare \(directory): \(error.description)"
        case .noCheckpoint(let directory):
            return "cannot compare \(directory): it holds no checkpoint yet (the run stopped before its preparation finished). "
                + "Leave it out, or continue it first with cpo-tui run --resume \(directory)."
        }
    }
}

extension RunComparison {
    /// Loads every saved seed of every run directory (as `cpo-tui runs show` does, checking each
    /// checkpoint) and groups the runs. Also returns the first run's snapshot (what a resumed
    /// session shows first, finished and with no run directory) carrying the comparison, for
    /// the dashboard's compare view. `progress` gets a line per seed loaded.
    public static func load(_ directories: [String], progress: (String) -> Void = { _ in })
        throws(RunComparisonError) -> LabSnapshot {
        var groups: [Group] = [], keys: [LabConfig] = []
        var first: LabSnapshot?
        for path in directories {
            let dir: RunDirectory, config: LabConfig
            do { (dir, config) = try RunDirectory.open(path) } catch { throw .unreadable(directory: path, error) }
            let seeds = (0..<config.seeds).map { config.seed + UInt64($0) }.filter(dir.hasCheckpoint)
            guard !seeds.isEmpty else { throw .noCheckpoint(directory: path) }
            let name = (path as NSString).standardizingPath.split(separator: "/").last.map(String.init) ?? path
            for seed in seeds {
                let exp: Experiment
                do { exp = try dir.restore(seed: seed, config: config).0 } catch { throw .unreadable(directory: path, error) }
                progress("loaded \(path) seed \(seed): epochs \(exp.epochSummary())")
                if first == nil {
                    var s = LabSnapshot(config: config, seed: seed, phase: .finished)
                    s.showData(exp.data)
                    s.showPrepared(exp)
                    first = s
                }
                let run = Dictionary(uniqueKeysWithValues: config.methods.map { ($0, exp.snapshot(of: $0).epochs) })
                let key = groupKey(config)
                // A seed already in the group (the same run twice) starts a group of its own.
                if let g = keys.indices.first(where: { keys[$0] == key && !groups[$0].seeds.contains(seed) }) {
                    if !groups[g].directories.contains(path) {
                        groups[g].directories.append(path)
                        groups[g].label += "+" + name
                    }
                    groups[g].seeds.append(seed)
                    groups[g].runs.append(run)
                } else {
                    keys.append(key)
                    groups.append(Group(label: name, directories: [path], config: config, seeds: [seed], runs: [run],
                                        world: exp.data.world != nil, vStar: exp.data.world?.bestValue))
                }
            }
        }
        // Groups that share a label (directories of the same name) are told apart by number.
        let labels = groups.map(\.label)
        for i in groups.indices where labels.filter({ $0 == labels[i] }).count > 1 { groups[i].label += " #\(i + 1)" }
        var snapshot = first ?? LabSnapshot(config: LabConfig(), seed: 0, phase: .finished)
        snapshot.comparison = RunComparison(groups: groups)
        snapshot.version = 1
        return snapshot
    }
}
