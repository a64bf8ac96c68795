import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A tiny run for the binary: seconds in a debug build.
let tinyRun = ["--rows", "40", "--eval-rows", "20", "--methods", "FT,CPO,DR-CPO", "--d-model", "32", "--layers", "1",
               "--heads", "2", "--vocab", "300", "--context", "48", "--ft-epochs", "1", "--eval-samples", "10",
               "--win-prompts", "10", "--f0-ratio", "1", "--folds", "2", "--batch-size", "8"]

/// metrics.jsonl without the wall-clock seconds (the only field two runs cannot share).
func metricsWithoutTimes(_ path: String) -> [String] {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    let seconds = try! NSRegularExpression(pattern: "\"seconds\":[-0-9.e+]+,?")
    return text.split(separator: "\n").map { line in
        let s = String(line)
        return seconds.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: "")
    }
}

func scratchDirectory(_ label: String) -> String {
    let d = NSTemporaryDirectory() + "cpo-cli-runs-\(getpid())/\(label)"
    try? FileManager.default.removeItem(atPath: d)
    return d
}

@Suite("saved runs through the binary", .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"))
struct SavedRunTests {
    /// Interrupted after epoch 1 and resumed to epoch 2, the run's metrics equal those of a run
    /// that went to epoch 2 in one go, bit for bit.
    @Test func resumeContinuesExactly() throws {
        let a = scratchDirectory("resume-a"), b = scratchDirectory("resume-b")
        let first = try CLI.run(["run"] + tinyRun + ["--epochs", "1", "--run-dir", a])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("resume with: cpo-tui run --resume \(a)"))
        let shown = try CLI.run(["runs", "show", a])
        #expect(shown.status == 0 && shown.stdout.contains("CPO 1, DR-CPO 1"), "\(shown.stdout)\(shown.stderr)")
        let resumed = try CLI.run(["run", "--resume", a, "--epochs", "2", "--report", a + "/report"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("resumed from") && resumed.stdout.contains("CPO          epoch 2"))
        #expect(!resumed.stdout.contains("epoch 1 "), "a resumed run retrained an epoch:\n\(resumed.stdout)")
        let straight = try CLI.run(["run"] + tinyRun + ["--epochs", "2", "--run-dir", b, "--report", b + "/report"])
        #expect(straight.status == 0, "\(straight.stderr)")
        let x = metricsWithoutTimes(a + "/report/metrics.jsonl"), y = metricsWithoutTimes(b + "/report/metrics.jsonl")
        #expect(x.count > 10 && x == y, "resumed metrics differ from the uninterrupted run's")
        // The run directory's own metrics.jsonl holds the same lines.
        #expect(metricsWithoutTimes(a + "/metrics.jsonl") == x)
    }

    @Test func badSaveSettingsAreRefusedBeforeAnyWork() throws {
        let file = try CLI.temp("not-a-dir", "x")
        let underFile = try CLI.run(["run", "--run-dir", file + "/run"] + tinyRun)
        #expect(underFile.status != 0 && underFile.stderr.contains("--run-dir") && !underFile.stdout.contains("FT epoch"))
        let both = try CLI.run(["run", "--resume", "/nonexistent", "--no-save"])
        #expect(both.status != 0 && both.stderr.contains("--resume"))
        let missing = try CLI.run(["run", "--resume", "/nonexistent/run"])
        #expect(missing.status != 0 && missing.stderr.contains("not a saved run"))
        let report = try CLI.run(["run", "--no-save", "--report", file] + tinyRun)
        #expect(report.status != 0 && report.stderr.contains("--report") && !report.stdout.contains("FT epoch"))
        let taken = scratchDirectory("taken")
        _ = try CLI.run(["run", "--epochs", "0", "--run-dir", taken] + tinyRun)
        let again = try CLI.run(["run", "--epochs", "0", "--run-dir", taken] + tinyRun)
        #expect(again.status != 0 && again.stderr.contains("already holds a saved run"))
    }

    /// SIGINT, SIGTERM or SIGKILL at 50 seeded random moments (saves are slowed down so that
    /// many land inside one): whatever is on disk afterwards loads, and a killed run resumed
    /// to the end matches the uninterrupted run. Two kills run at a time.
    @Test func killedAtRandomMomentsTheLastSaveLoads() throws {
        let reference = scratchDirectory("kill-reference")
        let started = Date()
        let ref = try CLI.run(["run"] + tinyRun + ["--epochs", "3", "--run-dir", reference])
        #expect(ref.status == 0, "\(ref.stderr)")
        // The kill moments span the run's own length (at least 4 s, as measured on a quiet
        // machine), so a loaded machine, where every run is slower, still sees kills before,
        // inside and after the saves rather than only before the first one.
        let span = max(4.0, 1.2 * Date().timeIntervalSince(started))
        var rng = KillSchedule(seed: 20261129)
        let signals: [Int32] = [SIGINT, SIGTERM, SIGKILL, SIGKILL]
        let schedule = (0..<50).map { _ in (delay: 0.05 + span * rng.unit(), signal: signals[Int(rng.next() % 4)]) }
        struct Outcome: Sendable { var saved = false, partial = false, insideSave = false }
        let outcomes = Mutex([Outcome](repeating: Outcome(), count: schedule.count))
        DispatchQueue.concurrentPerform(iterations: 2) { lane in
            for i in stride(from: lane, to: schedule.count, by: 2) {
                let (delay, sig) = schedule[i]
                let dir = scratchDirectory("kill-\(i)")
                guard let child = try? Spawn.start(CLI.binary!.path, ["run"] + tinyRun + ["--epochs", "3", "--run-dir", dir],
                                                   directory: CLI.packageRoot.path,
                                                   environment: ["CPO_TEST_SLOW_WRITES_US": "20000"]) else {
                    Issue.record("cannot start run \(i)")
                    continue
                }
                usleep(UInt32(delay * 1_000_000))
                kill(child.pid, sig)
                let r = Spawn.wait(child, timeout: 60)
                #expect(!r.timedOut, "run \(i) did not stop after signal \(sig)")
                guard FileManager.default.fileExists(atPath: dir + "/config.json") else { continue }
                let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix(".tmp-") }
                guard let shown = try? CLI.run(["runs", "show", dir]) else { continue }
                #expect(shown.status == 0, "kill \(i) (signal \(sig) after \(delay) s) left a run that does not load:\n\(shown.stderr)")
                let saved = shown.stdout.contains("saved ")
                outcomes.withLock {
                    $0[i] = Outcome(saved: saved, partial: saved && !shown.stdout.contains("CPO 3, DR-CPO 3"), insideSave: !leftovers.isEmpty)
                }
            }
        }
        let all = outcomes.withLock { $0 }
        let saved = all.filter(\.saved).count, inside = all.filter(\.insideSave).count
        print("kill test: kills within \(String(format: "%.1f", span)) s; \(saved) of 50 runs had a checkpoint; \(inside) were killed inside a save")
        #expect(saved >= 20, "only \(saved) of 50 killed runs had saved anything: the kill moments are too early")
        #expect(inside >= 3, "only \(inside) kills landed inside a save")
        // A run killed part-way resumes to the end and equals the uninterrupted one.
        let partial = all.firstIndex { $0.partial }
        let i = try #require(partial, "no run was killed between its first and last save")
        let dir = scratchDirectory("kill-\(i)-resumed")
        try FileManager.default.copyItem(atPath: NSTemporaryDirectory() + "cpo-cli-runs-\(getpid())/kill-\(i)", toPath: dir)
        let resumed = try CLI.run(["run", "--resume", dir])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(metricsWithoutTimes(dir + "/metrics.jsonl") == metricsWithoutTimes(reference + "/metrics.jsonl"),
                "kill \(i): the resumed run differs from the uninterrupted one")
    }
}

/// A small seeded generator (SplitMix64) for the kill schedule: the same moments every run.
struct KillSchedule {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
