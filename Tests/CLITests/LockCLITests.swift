import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The pid a lock file names (nil: no file, or not a holder's line).
private func lockPid(_ path: String) -> Int32? {
    guard let data = FileManager.default.contents(atPath: path),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
    return (object["pid"] as? NSNumber)?.int32Value
}

/// Waits (at most `timeout` seconds) until `condition` holds.
private func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// The environment `CLI.run` gives its children (no user config file), for `Spawn.start`.
private let isolated = ["XDG_CONFIG_HOME": NSTemporaryDirectory() + "cpo-cli-no-config-\(getpid())", "CPO_TUI_CONFIG": ""]

@Suite("two processes, one run", .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"))
struct LockCLITests {
    /// While one `cpo-tui run` writes a run directory, a second writer (headless or the
    /// dashboard, continuing it or starting afresh in it) fails at once, names the first (pid,
    /// host, since when) and writes nothing; `runs show` and `watch` read it meanwhile. Killed
    /// with SIGKILL, the first leaves its lock file, and the next writer takes the run over.
    @Test func aSecondWriterIsRefusedAndAKilledWritersRunIsTakenOver() throws {
        let dir = scratchDirectory("locked")
        let lockFile = dir + "/.lock"
        let holder = try Spawn.start(CLI.binary!.path, ["run"] + tinyRun + ["--epochs", "500", "--run-dir", dir],
                                     directory: CLI.packageRoot.path, environment: isolated)
        var killed = false
        defer { if !killed { kill(holder.pid, SIGKILL); _ = Spawn.wait(holder, timeout: 30) } }
        // Running, locked, and saved once (the preparation).
        let ready = waitUntil(timeout: 120) {
            lockPid(lockFile) == holder.pid && FileManager.default.fileExists(atPath: dir + "/checkpoint-seed0.cpo")
        }
        try #require(ready, "the first run never locked and saved \(dir)")
        let config = FileManager.default.contents(atPath: dir + "/config.json")

        let attempts = [["run", "--resume", dir, "--epochs", "1"], ["run"] + tinyRun + ["--run-dir", dir],
                        ["--resume", dir, "--epochs", "1"]]
        for args in attempts {
            let second = try CLI.run(args, timeout: 60)
            let command = args.prefix(3).joined(separator: " ")
            #expect(second.status != 0, "\(command): \(second.stdout)")
            for part in ["\(dir) is in use by", "pid \(holder.pid) on host ", ", since 20", "cpo-tui runs show \(dir)"] {
                #expect(second.stderr.contains(part), "\(command): \(second.stderr)")
            }
            #expect(!second.stdout.contains("resumed from") && !second.stdout.contains("FT epoch"), "\(command): \(second.stdout)")
        }
        #expect(FileManager.default.contents(atPath: dir + "/config.json") == config, "a refused writer rewrote config.json")
        #expect(lockPid(lockFile) == holder.pid)

        let shown = try CLI.run(["runs", "show", dir], timeout: 60)
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("in use by") && shown.stdout.contains("pid \(holder.pid)") && shown.stdout.contains("seed 0: saved"),
                "\(shown.stdout)")
        let watched = try CLI.run(["watch", dir, "--once", "--width", "100", "--height", "30"], timeout: 60)
        #expect(watched.status == 0, "\(watched.stderr)")

        kill(holder.pid, SIGKILL)
        killed = true
        let end = Spawn.wait(holder, timeout: 30)
        #expect(end.status == 128 + SIGKILL)
        #expect(lockPid(lockFile) == holder.pid, "the killed run's lock file is expected to stay behind, naming it")
        let after = try CLI.run(["runs", "show", dir], timeout: 60)
        #expect(after.status == 0 && !after.stdout.contains("in use by"), "a dead writer was named: \(after.stdout)")

        let takeover = try CLI.run(["run", "--resume", dir, "--epochs", "1"], timeout: 300)
        #expect(takeover.status == 0, "\(takeover.stderr)")
        #expect(takeover.stdout.contains("resumed from"), "\(takeover.stdout)")
        #expect(!FileManager.default.fileExists(atPath: lockFile), "the lock file stayed after a clean exit")
    }

    /// On a file system that cannot lock (simulated: every flock fails with ENOLCK) a run goes
    /// on unlocked and says so, rather than refuse to work.
    @Test func withoutLocksARunGoesOnAndSaysSo() throws {
        let dir = scratchDirectory("no-locks")
        let r = try CLI.run(["run"] + tinyRun + ["--epochs", "0", "--run-dir", dir], environment: ["CPO_TEST_FLOCK_ERRNO": "\(ENOLCK)"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("warning: cannot lock \(dir)/.lock") && r.stderr.contains("going on without the lock"), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/checkpoint-seed0.cpo"))
    }

    /// Two runs of one configuration with the preparation cache on: the one that starts second
    /// waits for the first's preparation (saying so, with its pid) and loads it from the cache
    /// instead of preparing it again; both print the same evaluations, and the cache holds one
    /// entry and no lock file afterwards.
    @Test func aSecondRunWaitsForTheFirstsPreparation() throws {
        let root = NSTemporaryDirectory() + "cpo-cli-lock-cache-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let prepared = root + "/cpo-tui/prepared"
        let env = isolated.merging(["XDG_CACHE_HOME": root, "CPO_TUI_CACHE_MAX_MB": "64"]) { $1 }
        // The first stores its entry slowly (each 64 KB waits 0.5 s), so it holds the entry for
        // seconds after preparing.
        let first = try Spawn.start(CLI.binary!.path, PreparationCacheCLITests.tiny, directory: CLI.packageRoot.path,
                                    environment: env.merging(["CPO_TEST_SLOW_WRITES_US": "500000"]) { $1 })
        let locked = waitUntil(timeout: 120) {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: prepared)) ?? []
            return names.contains { $0.hasSuffix(".cpoprep.lock") && lockPid(prepared + "/" + $0) == first.pid }
        }
        let second = try CLI.run(PreparationCacheCLITests.tiny, environment: env, timeout: 300)
        let firstResult = Spawn.wait(first, timeout: 300)
        try #require(locked, "the first run never locked its cache entry")
        #expect(firstResult.status == 0 && second.status == 0, "\(firstResult.stderr)\n\(second.stderr)")
        #expect(firstResult.stdout.contains("training the tokenizer"), "\(firstResult.stdout)")
        #expect(second.stdout.contains("waiting for another cpo-tui preparing the same configuration (pid \(first.pid) on host"),
                "\(second.stdout)")
        #expect(second.stdout.contains("preparation loaded from the cache") && !second.stdout.contains("training the tokenizer"),
                "\(second.stdout)")
        let evaluations = PreparationCacheCLITests.evaluations(firstResult.stdout)
        #expect(!evaluations.isEmpty && evaluations == PreparationCacheCLITests.evaluations(second.stdout))
        let names = try FileManager.default.contentsOfDirectory(atPath: prepared)
        #expect(names.count == 1 && names[0].hasSuffix(".cpoprep"), "\(names)")
    }
}
