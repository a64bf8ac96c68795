import CausalPO
import CPOSupport
import Dashboard
import Foundation
import Lab
import Testing
import TinyLM
#if canImport(Glibc)
import Glibc
#endif

/// A small tmpfs mounted at a fresh directory: a disk that really fills up (ENOSPC), for the
/// tests of saving on a full disk. Needs root; without it (or where mounting is not allowed)
/// there is none, and the tests that need one are skipped.
final class SmallDisk {
    let path: String

    init?(megabytes: Int) {
        guard getuid() == 0 else { return nil }
        path = NSTemporaryDirectory() + "cpo-small-disk-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(path, 0o755) == 0 else { return nil }
        let mounted = "size=\(megabytes)m".withCString { mount("tmpfs", path, "tmpfs", 0, $0) } == 0
        if !mounted {
            rmdir(path)
            return nil
        }
    }

    deinit {
        _ = umount2(path, Int32(MNT_DETACH))
        rmdir(path)
    }

    /// Whether a small disk can be mounted here.
    static let available: Bool = SmallDisk(megabytes: 1) != nil

    /// Fills the disk with a file until a write fails for want of space.
    func fill() {
        let fd = open(path + "/filler", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        for size in [1 << 16, 1 << 12, 1] {
            let chunk = [UInt8](repeating: 0x55, count: size)
            while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == size {}
        }
    }

    /// Frees what `fill` took.
    func free() { unlink(path + "/filler") }
}

/// Every file in `dir` with its bytes (temporary files included, so that a left one shows).
private func contents(_ dir: String) -> [String: Data] {
    var out: [String: Data] = [:]
    for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
        out[name] = FileManager.default.contents(atPath: dir + "/" + name)
    }
    return out
}

private func fileBytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

private func withoutSeconds(_ m: [EpochMetrics]?) -> [EpochMetrics] {
    (m ?? []).map { var e = $0; e.seconds = 0; return e }
}

/// A run that prepares in a few seconds in a debug build.
private func smallConfig() -> LabConfig {
    let world = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("sample-data/worlds/river-cleanup.toml").path
    return LabConfig(
        source: .world(world), rows: 64, evalRows: 24, logRows: 64, validationRows: 16, methods: [.ft, .cpo], epochs: 2, seed: 5,
        model: ModelConfig(vocabSize: 300, contextLength: 48, dModel: 32, heads: 2, layers: 1),
        ftMaxEpochs: 1, learningRate: 1e-3, batchSize: 8, f0Ratio: 1, folds: 2, evalSamples: 10, winRatePrompts: 10, threads: 2)
}

/// Polls `condition` on snapshots until it holds (nil when the session failed, or after `seconds`).
private func waitFor(_ session: LabSession, seconds: Double = 120, _ condition: (LabSnapshot) -> Bool) -> LabSnapshot? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let s = session.snapshot()
        if condition(s) { return s }
        if case .failed(let why) = s.phase {
            Issue.record("the session failed: \(why)")
            return nil
        }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return nil
}

@Suite("saving on a full disk", .enabled(if: SmallDisk.available, "needs root and a tmpfs mount"))
struct FullDiskTests {
    /// The disk fills up after the first save: the next saves fail with where and why, the
    /// last complete save stays byte for byte (and loads, and resumes to the same numbers),
    /// training goes on, and once there is space again the next save has everything.
    @Test func aSaveOnAFullDiskKeepsTheLastSaveAndTrainingGoesOn() throws {
        let disk = try #require(SmallDisk(megabytes: 64))
        let cfg = smallConfig()
        let dir = try RunDirectory.create(disk.path + "/run", config: cfg)
        var saves: [SaveStatus] = []
        let run = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: dir) { event in
            if case .saved(let s) = event { saves.append(s) }
        }
        #expect(saves.count == 1 && saves[0].succeeded)
        let checkpoint = fileBytes(dir.checkpointPath(seed: cfg.seed)), metrics = fileBytes(dir.metricsPath)
        #expect(checkpoint != nil && metrics != nil)

        disk.fill()
        #expect(run.advance() == .trained(.cpo))
        let failed = try #require(saves.last)
        #expect(saves.count == 2 && !failed.succeeded)
        for part in ["saving the run to \(dir.path)/", "No space left on device", "the file system at \(disk.path) has",
                     "free some space on it", "the last complete save is untouched", "the next save"] {
            #expect(failed.message.contains(part), "\(part) is not in: \(failed.message)")
        }
        #expect(fileBytes(dir.checkpointPath(seed: cfg.seed)) == checkpoint && fileBytes(dir.metricsPath) == metrics)
        // No temporary file; the lock of the run being written is there.
        #expect(Set(contents(dir.path).keys) == [RunDirectory.configName, "checkpoint-seed5.cpo", "metrics.jsonl", RunDirectory.lockName])
        // What is on disk loads, and resumed it trains the same epoch to the same numbers.
        let (old, info) = try dir.restore(seed: cfg.seed, config: cfg)
        #expect(info.epochs["CPO"] == 0)
        old.step(.cpo)
        #expect(withoutSeconds(old.metrics[.cpo]) == withoutSeconds(run.experiment.metrics[.cpo]))

        // Training goes on to the end, its saves failing too.
        #expect(run.runToEnd())
        #expect(run.experiment.epochs(of: .cpo) == 2 && saves.count == 3 && saves.allSatisfy { $0.succeeded } == false)
        #expect(fileBytes(dir.checkpointPath(seed: cfg.seed)) == checkpoint)

        disk.free()
        let saved = try #require(run.save(.onRequest))
        #expect(saved.succeeded, "\(saved.message)")
        let (resumed, after) = try dir.restore(seed: cfg.seed, config: cfg)
        #expect(after.epochs["CPO"] == 2)
        #expect(resumed.metrics[.cpo] == run.experiment.metrics[.cpo])
    }

    /// The dashboard's session on a full disk: the failed save is in its snapshot and log, the
    /// screen shows SAVE FAILED and why, the epoch went on; a save once there is space clears it.
    @Test func theDashboardShowsAFailedSave() throws {
        let disk = try #require(SmallDisk(megabytes: 64))
        let cfg = smallConfig()
        let dir = try RunDirectory.create(disk.path + "/run", config: cfg)
        let session = LabSession(config: cfg, runDirectory: dir)
        session.start()
        defer {
            session.send(.cancel)
            session.waitUntilFinished()
        }
        let ready = try #require(waitFor(session) { $0.phase == .idle && $0.lastSave != nil })
        #expect(ready.lastSave?.succeeded == true)

        disk.fill()
        session.send(.stepEpoch(.cpo))
        let failed = try #require(waitFor(session) { $0.lastSave?.succeeded == false })
        #expect(failed.method(.cpo)?.epoch == 1)
        #expect(failed.lastSave?.message.contains("No space left on device") == true)
        #expect(failed.messages.contains { $0.hasPrefix("save failed: saving the run to") })
        var view = ViewState()
        view.view = .data   // the view whose Messages panel shows the save's message in full
        let screen = DashboardView.render(failed, view, width: 120, height: 40).plainText()
        let header = screen.split(separator: "\n").first.map(String.init) ?? ""
        #expect(header.contains("SAVE FAILED"), "\(screen)")
        #expect(screen.contains("SAVE FAILED: saving the run to"), "\(screen)")

        disk.free()
        session.send(.save)
        let saved = try #require(waitFor(session) { $0.lastSave?.succeeded == true && $0.lastSave?.message.contains("on request") == true })
        let again = DashboardView.render(saved, view, width: 120, height: 40).plainText()
        #expect(!again.contains("SAVE FAILED"))
        #expect(try dir.info(seed: cfg.seed).epochs["CPO"] == 1)
    }

    /// A report written into a full disk leaves the report that was there whole (no file of it
    /// replaced, no temporary file left); a preparation that cannot be cached is skipped with a
    /// note, the cache is off for the rest of the process, and nothing is left behind.
    @Test func aReportAndACacheEntryOnAFullDiskLeaveNothingHalfWritten() throws {
        let disk = try #require(SmallDisk(megabytes: 64))
        let cfg = smallConfig()
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        let cache = PreparationCache(directory: disk.path + "/cache")
        let entry = try #require(cache.entry(for: exp))
        try exp.prepare()
        exp.step(.cpo)
        let report = disk.path + "/report"
        try ReportWriter(config: cfg, data: exp.data, results: [SeedResult(exp)]).write(to: report)
        let before = contents(report)
        #expect(before.count >= 6)

        exp.step(.cpo)   // another epoch: every file of the report would change
        disk.fill()
        do {
            try ReportWriter(config: cfg, data: exp.data, results: [SeedResult(exp)]).write(to: report)
            Issue.record("a report was written into a full disk")
        } catch {
            #expect(error.description.contains("No space left on device") && error.description.contains("is as it was"), "\(error)")
        }
        #expect(contents(report) == before)

        let note = try #require(entry.store(exp))
        #expect(note.contains("No space left on device") && note.contains("going on without the cache"), "\(note)")
        #expect(contents(cache.directory).isEmpty)

        disk.free()
        try ReportWriter(config: cfg, data: exp.data, results: [SeedResult(exp)]).write(to: report)
        let after = contents(report)
        #expect(Set(after.keys) == Set(before.keys) && after != before)
    }
}
