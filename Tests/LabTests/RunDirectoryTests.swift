import CausalPO
import CPOSupport
import Foundation
import Testing
import TinyLM
@testable import Lab

/// A fresh temporary directory path (not created).
func temporaryRunPath(_ label: String) -> String {
    NSTemporaryDirectory() + "cpo-runs-\(getpid())-\(label)-\(UInt32.random(in: 0...UInt32.max))"
}

/// Metrics as numbers only: everything but the wall-clock seconds, which no two runs share.
func comparable(_ m: [EpochMetrics]) -> [EpochMetrics] {
    m.map { var e = $0; e.seconds = 0; return e }
}

/// `cfg` trained for its `epochs` straight, and again saved after the first epoch into a new run
/// directory, restored from it (with the configuration read back) and trained to the end; `inspect`
/// sees the interrupted run and the restored one before the rest. Expects the two to end bit for
/// bit the same (metrics, steps, weights) and returns both.
@discardableResult
func expectExactResume(_ cfg: LabConfig, label: String,
                       inspect: (_ first: Experiment, _ restored: Experiment) throws -> Void = { _, _ in })
    throws -> (straight: Experiment, resumed: Experiment)
{
    let straight = try Experiment(config: cfg, seed: cfg.seed)
    try straight.prepare()
    for _ in 0..<cfg.epochs { for m in cfg.methods where m.trains { straight.step(m) } }

    let path = temporaryRunPath(label)
    defer { try? FileManager.default.removeItem(atPath: path) }
    _ = try RunDirectory.create(path, config: cfg)
    let (dir, saved) = try RunDirectory.open(path)
    #expect(saved == cfg, "config.json reads back as written")
    let first = try Experiment(config: saved, seed: saved.seed)
    try first.prepare()
    for m in saved.methods where m.trains { first.step(m) }
    try dir.save(first)
    let (resumed, info) = try dir.restore(seed: saved.seed, config: saved)
    #expect(info.format == Int(Checkpoint.version))
    try inspect(first, resumed)
    for _ in 1..<cfg.epochs { for m in saved.methods where m.trains { resumed.step(m) } }
    for m in cfg.methods {
        #expect(comparable(straight.metrics[m] ?? []) == comparable(resumed.metrics[m] ?? []), "\(m) metrics differ")
        #expect(straight.steps[m] == resumed.steps[m], "\(m) steps differ")
    }
    for m in cfg.methods where m.trains {
        let p = try #require(straight.runs[m]).model.params, q = try #require(resumed.runs[m]).model.params
        #expect((0..<p.count).allSatisfy { p.pointer[$0].bitPattern == q.pointer[$0].bitPattern }, "\(m) weights differ")
    }
    return (straight, resumed)
}

@Suite("saved runs and resume")
struct RunDirectoryTests {
    /// The contract of saved runs: interrupted after epoch k and resumed, a run produces the same
    /// metrics, bit for bit, as one that was never interrupted.
    @Test func resumedRunEqualsUninterruptedRunBitForBit() throws {
        var cfg = tinyConfig(methods: [.ft, .ooRLHF, .cpo, .drCPO, .dpo])
        cfg.epochs = 3

        let straight = try Experiment(config: cfg, seed: cfg.seed)
        try straight.prepare()
        for _ in 0..<3 { for m in cfg.methods where m != .ft { straight.step(m) } }

        let path = temporaryRunPath("resume")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let dir = try RunDirectory.create(path, config: cfg)
        let first = try Experiment(config: cfg, seed: cfg.seed)
        try first.prepare()
        for m in cfg.methods where m != .ft { first.step(m) }
        try dir.save(first, generations: 5)

        // config.json must agree with the checksummed copy inside the checkpoint (but for epochs).
        var edited = cfg
        edited.methods = [.ft, .cpo]
        do {
            _ = try dir.restore(seed: cfg.seed, config: edited)
            Issue.record("a config.json that disagrees with the checkpoint was accepted")
        } catch {
            #expect(error.description.contains("config.json") && error.description.contains("does not match"))
        }
        let (resumed, info) = try dir.restore(seed: cfg.seed, config: cfg)
        #expect(info.generations == 5)
        #expect(resumed.epochs(of: .cpo) == 1 && resumed.stage == .ready)
        for _ in 1..<3 { for m in cfg.methods where m != .ft { resumed.step(m) } }

        for m in cfg.methods {
            let a = comparable(straight.metrics[m] ?? []), b = comparable(resumed.metrics[m] ?? [])
            #expect(a.count == b.count)
            // Report the first difference only (a whole EpochMetrics prints pages).
            if let i = a.indices.first(where: { $0 < b.count && a[$0] != b[$0] }) {
                Issue.record("\(m) epoch \(i) differs after resuming: V_DR \(a[i].estimates[.dr].value) vs \(b[i].estimates[.dr].value), loss \(String(describing: a[i].trainLoss)) vs \(String(describing: b[i].trainLoss))")
            }
            #expect(straight.steps[m] == resumed.steps[m], "\(m) steps differ")
            #expect(straight.winScores[m] == resumed.winScores[m])
        }
        // The weights themselves, bit for bit.
        for m in cfg.methods where m != .ft {
            let p = straight.runs[m]!.model.params, q = resumed.runs[m]!.model.params
            #expect((0..<p.count).allSatisfy { p.pointer[$0].bitPattern == q.pointer[$0].bitPattern }, "\(m) weights differ")
        }
    }

    @Test func aDirectoryHoldsOneRunAndMustBeUsable() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let path = temporaryRunPath("create")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let dir = try RunDirectory.create(path, config: cfg)
        // A run that stopped before its first save may be started afresh in the same place; one
        // with a checkpoint may not.
        _ = try RunDirectory.create(path, config: cfg)
        _ = FileManager.default.createFile(atPath: dir.checkpointPath(seed: cfg.seed), contents: Data())
        #expect(throws: RunStoreError.alreadyHoldsARun(path: path)) { try RunDirectory.create(path, config: cfg) }
        let (_, loaded) = try RunDirectory.open(path)
        #expect(loaded == cfg)

        // A file where the directory should be, and a directory under a file: clear errors.
        let file = temporaryRunPath("file")
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(throws: RunStoreError.self) { try RunDirectory.create(file, config: cfg) }
        do {
            _ = try RunDirectory.create(file + "/inside", config: cfg)
            Issue.record("a run directory under a file was accepted")
        } catch {
            #expect(error.description.contains(file) && error.description.contains("--run-dir"))
        }
        #expect(throws: RunStoreError.notARun(path: file)) { try RunDirectory.open(file) }
    }

    /// A save that cannot be written leaves the last complete save and the training state
    /// alone; fixing the directory and saving again works.
    @Test func aFailedSaveKeepsTheLastCompleteSave() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let path = temporaryRunPath("fail")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let dir = try RunDirectory.create(path, config: cfg)
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        try exp.prepare()
        exp.step(.cpo)
        try dir.save(exp)
        let saved = try Data(contentsOf: URL(fileURLWithPath: dir.checkpointPath(seed: cfg.seed)))

        // The directory goes away and a file takes its name (as root, permissions do not stop writes).
        let aside = path + "-aside"
        try FileManager.default.moveItem(atPath: path, toPath: aside)
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        exp.step(.cpo)
        do {
            try dir.save(exp)
            Issue.record("saving into a file did not fail")
        } catch {
            #expect(error.description.contains("last complete save is untouched"))
        }
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: aside, toPath: path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.checkpointPath(seed: cfg.seed))) == saved)
        #expect(try dir.info(seed: cfg.seed).epochs["CPO"] == 1)
        // Training state was not lost: the next save has epoch 2.
        try dir.save(exp)
        #expect(try dir.info(seed: cfg.seed).epochs["CPO"] == 2)
    }

    @Test func damagedCheckpointsAndChangedDataAreRefused() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let path = temporaryRunPath("damage")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let dir = try RunDirectory.create(path, config: cfg)
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        try exp.prepare()
        try dir.save(exp)
        let file = dir.checkpointPath(seed: cfg.seed)
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))

        var bad = good
        bad[bad.count / 2] ^= 1
        try Data(bad).write(to: URL(fileURLWithPath: file))
        #expect(throws: RunStoreError.self) { try dir.restore(seed: cfg.seed, config: cfg) }
        try Data(good.prefix(good.count - 9)).write(to: URL(fileURLWithPath: file))
        do {
            _ = try dir.restore(seed: cfg.seed, config: cfg)
            Issue.record("a truncated checkpoint was accepted")
        } catch {
            #expect(error.description.contains("truncated") && error.description.contains(file))
        }

        // The same checkpoint claimed by a run whose data differ (another seed's rows).
        var other = cfg
        other.rows = cfg.rows + 1
        let (restored, info) = try Checkpoint.decode(good, path: file)
        #expect(restored.methods.count == 2 && info.seed == cfg.seed)
        var tampered = try Checkpoint.open(good, path: file).sections.map { (tag: $0.tag, bytes: Array($0.bytes)) }
        var meta = try Checkpoint.info(Checkpoint.open(good, path: file), path: file)
        meta.config = other
        tampered[0] = ("META", Checkpoint.json(meta))
        let forged = SectionFile.encode(magic: Checkpoint.magic, version: Checkpoint.version, sections: tampered)
        #expect(throws: RunStoreError.dataChanged(path: file, source: "world:river-cleanup")) { try Checkpoint.decode(forged, path: file) }
    }

    @Test func defaultPathsAreSafeNamesUnderRuns() {
        var cfg = tinyConfig()
        cfg.source = .file(path: "/data/../../etc/pass wd;rm -rf.csv", options: .init())
        let p = RunDirectory.defaultPath(for: cfg, under: "runs", now: Date(timeIntervalSince1970: 0))
        #expect(p.hasPrefix("runs/pass_wd_rm_-rf-seed3-"))
        #expect(!p.dropFirst(5).contains("/"))
    }
}

@Suite("non-finite numbers in training")
struct NonFiniteTrainingTests {
    /// A NaN in ĝ poisons every DR-CPO step: each is skipped and counted, and after 20 in a row
    /// the method is marked failed; CPO on the same inputs (it does not read ĝ) trains on. A
    /// row whose P^R is zero (log −∞) gives an infinite weight: its batches are skipped, the
    /// rest train.
    @Test func badStepsAreSkippedCountedAndAPersistentlyFailingMethodStops() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo, .drCPO])
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        try exp.prepare()
        let good = try #require(exp.inputs)
        let ft = try #require(exp.ft)
        func inputs(ghat: [Double]? = nil, logPR: [Double]? = nil) -> TrainingInputs {
            TrainingInputs(texts: ScoredTexts(rowSeqs: good.rowSeqs, outcomes: good.outcomes, logPR: logPR ?? good.logPR,
                                              ghat: ghat ?? good.ghat, f0Seqs: good.f0Seqs, f0LogP0: good.f0LogP0, f0Ghat: good.f0Ghat),
                           logPFT: good.logPFT, outcomeSD: good.outcomeSD, ft: ft)
        }
        let poisoned = inputs(ghat: good.ghat.map { _ in .nan })
        let dr = MethodRun(method: .drCPO, ft: ft, learningRate: cfg.learningRate)
        let cpo = MethodRun(method: .cpo, ft: ft, learningRate: cfg.learningRate)
        var drRecords: [StepRecord] = []
        for _ in 0..<4 {
            dr.trainEpoch(poisoned, config: cfg, seed: 1, onStep: { drRecords.append($0) }, cancelled: { false })
            cpo.trainEpoch(poisoned, config: cfg, seed: 1, onStep: { _ in }, cancelled: { false })
        }
        #expect(drRecords.allSatisfy { $0.skipped })
        #expect(dr.skippedSteps == 20 && drRecords.count == 20, "stopped after \(drRecords.count) steps")
        #expect(dr.failed?.contains("20 steps in a row") == true)
        let before = ft.params
        #expect((0..<before.count).allSatisfy { dr.model.params.pointer[$0] == before.pointer[$0] }, "a skipped step moved the weights")
        #expect(cpo.failed == nil && cpo.skippedSteps == 0 && cpo.step == 4 * 8)

        // One impossible row (P^R = 0): only the batches holding it are skipped.
        var logPR = good.logPR
        logPR[5] = -.infinity
        let one = MethodRun(method: .cpo, ft: ft, learningRate: cfg.learningRate)
        one.trainEpoch(inputs(logPR: logPR), config: cfg, seed: 1, onStep: { _ in }, cancelled: { false })
        #expect(one.skippedSteps == 1 && one.failed == nil && one.step == 8)
        #expect((0..<one.model.parameterCount).allSatisfy { one.model.params.pointer[$0].isFinite })
    }
}
