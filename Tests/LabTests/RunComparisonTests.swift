import CausalPO
import Foundation
import Testing
@testable import Lab

/// Saved runs compared: grouped by everything but the seed, each group's curves over its seeds,
/// and a clear error for a directory that holds no run or no checkpoint.
@Suite("comparing saved runs")
struct RunComparisonTests {
    /// Two seeds saved in one directory and one in another form one group; a run with another
    /// learning rate is a group of its own; the snapshot is the first run's, carrying them.
    @Test func runsThatDifferOnlyBySeedAreOneGroup() throws {
        var cfg = tinyConfig(methods: [.ft, .cpo], seed: 0)
        cfg.epochs = 0
        cfg.seeds = 2
        var other = cfg
        other.seed = 2
        other.seeds = 1
        other.threads = 1            // not a setting of the run's results
        var lr = cfg
        lr.seeds = 1
        lr.learningRate = 1e-4
        let paths = ["a", "b", "lr"].map { temporaryRunPath("compare-\($0)") + "/run-\($0)" }
        defer { for p in paths { try? FileManager.default.removeItem(atPath: (p as NSString).deletingLastPathComponent) } }
        for (path, config, seeds) in [(paths[0], cfg, [UInt64(0), 1]), (paths[1], other, [2]), (paths[2], lr, [0])] {
            let dir = try RunDirectory.create(path, config: config)
            for seed in seeds {
                let e = try Experiment(config: config, seed: seed)
                try e.prepare()
                try dir.save(e)
            }
        }
        var lines: [String] = []
        let snapshot = try RunComparison.load(paths) { lines.append($0) }
        let c = try #require(snapshot.comparison)
        #expect(c.groups.map(\.label) == ["run-a+run-b", "run-lr"] && c.groups.map(\.seeds) == [[0, 1, 2], [0]])
        #expect(c.groups[0].directories == [paths[0], paths[1]] && c.world && lines.count == 4)
        #expect(snapshot.seed == 0 && snapshot.worldName == "river-cleanup" && snapshot.methods.map(\.method) == [.ft, .cpo])
        // The group's curve at epoch 0 is the mean over its three seeds.
        let ess = c.curves(.ess, of: c.groups[0]).first { $0.method == .cpo }
        let perSeed = c.groups[0].runs.compactMap { $0[.cpo]?.first?.weights.essFraction }
        #expect(perSeed.count == 3 && abs((ess?.points.first?.mean ?? .nan) - perSeed.reduce(0, +) / 3) < 1e-12)
        #expect(ess?.points.first?.seeds == 3)
        // The group key ignores the seed, epochs and threads, nothing else.
        #expect(RunComparison.groupKey(cfg) == RunComparison.groupKey(other) && RunComparison.groupKey(cfg) != RunComparison.groupKey(lr))
    }

    @Test func unreadableDirectoriesAreNamed() throws {
        let missing = temporaryRunPath("missing")
        #expect(throws: RunComparisonError.unreadable(directory: missing, .notARun(path: missing))) {
            try RunComparison.load([missing])
        }
        let empty = temporaryRunPath("no-checkpoint")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        _ = try RunDirectory.create(empty, config: tinyConfig())
        let error = RunComparisonError.noCheckpoint(directory: empty)
        #expect(throws: error) { try RunComparison.load([empty]) }
        #expect(error.description.contains(empty) && error.description.contains("cpo-tui run --resume \(empty)"))
    }
}
