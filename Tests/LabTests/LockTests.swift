import CPOSupport
import Foundation
import Synchronization
import Testing
@testable import Lab
#if canImport(Glibc)
import Glibc
#endif

/// A holder that is alive but not this process (the test runner's parent), as another cpo-tui
/// would write itself into a lock file.
private func anotherCPOTUI(_ command: String) -> LockHolder {
    LockHolder(pid: getppid(), host: LockHolder.hostName, since: "2026-12-04T03:50:00Z", command: command)
}

/// A flag one thread sets and another reads.
private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

private func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

@Suite("locks on run directories and cache entries")
struct LockTests {
    /// A run directory created or opened for writing holds its lock for as long as a value of it
    /// lives (values of one process share it); readers take none and can tell who writes. When
    /// the last value goes, the lock is released and its file removed.
    @Test func aRunDirectoryIsLockedWhileItIsWritten() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let path = temporaryRunPath("lock")
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let dir = try RunDirectory.create(path, config: cfg)
            let again = try RunDirectory.create(path, config: cfg)
            let (resumed, _) = try RunDirectory.openForWriting(path)
            let (reader, _) = try RunDirectory.open(path)
            #expect(dir.isLocked && again.isLocked && resumed.isLocked && dir.lockWarning == nil)
            #expect(!reader.isLocked && reader.writer()?.pid == getpid())
            // Another process's taker (its own open file description) is kept out.
            #expect(throws: FileLockError.self) { try FileLock.acquire(dir.lockPath) }
            withExtendedLifetime((dir, again, resumed)) {}
        }
        #expect(!FileManager.default.fileExists(atPath: path + "/" + RunDirectory.lockName))
        #expect(RunDirectory(path: path).writer() == nil)
        try FileLock.acquire(path + "/" + RunDirectory.lockName).release()
    }

    /// While another process writes a run, creating or continuing it is refused before anything
    /// is written, naming that process; reading it still works.
    @Test func aRunAnotherProcessWritesIsRefusedNamingIt() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let path = temporaryRunPath("lock-held")
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try RunDirectory.create(path, config: cfg)
        let other = anotherCPOTUI("cpo-tui run --run-dir \(path)")
        let foreign = try FileLock.acquire(path + "/" + RunDirectory.lockName, as: other)
        defer { foreign.release() }
        let configBefore = bytes(path + "/config.json")

        var changed = cfg
        changed.epochs = 7
        #expect(throws: RunStoreError.inUse(path: path, holder: other)) { try RunDirectory.create(path, config: changed) }
        #expect(throws: RunStoreError.inUse(path: path, holder: other)) { try RunDirectory.openForWriting(path) }
        #expect(bytes(path + "/config.json") == configBefore, "config.json was written by the refused writer")
        let message = RunStoreError.inUse(path: path, holder: other).description
        for part in ["\(path) is in use by", "pid \(getppid()) on host \(LockHolder.hostName)", "since 2026-12-04T03:50:00Z",
                     "cpo-tui runs show \(path)", "cpo-tui watch \(path)"] {
            #expect(message.contains(part), "\(message)")
        }
        let (reader, loaded) = try RunDirectory.open(path)
        #expect(loaded == cfg && reader.writer() == other)
    }

    /// A lock file left by a killed writer names nobody and is taken over by the next writer,
    /// which writes itself into it; a holder whose file names a dead process is not named.
    @Test func aKilledWritersLockFileIsTakenOver() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let path = temporaryRunPath("lock-stale")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let dead = LockHolder(pid: Int32.max, host: LockHolder.hostName, since: "2026-12-01T00:00:00Z", command: "cpo-tui run (killed)")
        let lockPath = path + "/" + RunDirectory.lockName
        try JSONEncoder().encode(dead).write(to: URL(fileURLWithPath: lockPath))
        #expect(RunDirectory(path: path).writer() == nil)
        do {
            let dir = try RunDirectory.create(path, config: cfg)
            #expect(dir.isLocked)
            let now = try JSONDecoder().decode(LockHolder.self, from: try #require(bytes(lockPath)))
            #expect(now.pid == getpid())
            withExtendedLifetime(dir) {}
        }
        // Held, but its file still names the dead process: "another process", never the dead one.
        try JSONEncoder().encode(dead).write(to: URL(fileURLWithPath: lockPath))
        let fd = open(lockPath, O_RDWR)
        defer { close(fd) }
        #expect(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        do {
            _ = try RunDirectory.openForWriting(path)
            Issue.record("a held run directory was opened for writing")
        } catch {
            #expect(error == .inUse(path: path, holder: nil))
            #expect(!error.description.contains("\(Int32.max)") && error.description.contains("does not say which"), "\(error)")
        }
    }

    /// A run whose cache entry another process is preparing waits for it (saying so once, with
    /// its pid), then loads what it stored instead of preparing again.
    @Test func aRunWaitsForAnotherPreparingTheSameEntry() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let cache = PreparationCache(directory: temporaryRunPath("cache-lock"))
        defer { try? FileManager.default.removeItem(atPath: cache.directory) }
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        try exp.prepare()
        let entry = try #require(cache.entry(for: exp))
        try FileManager.default.createDirectory(atPath: cache.directory, withIntermediateDirectories: true)
        // The other process stored its preparation and still holds the entry; it lets go once
        // this run is waiting.
        let foreign = try FileLock.acquire(PreparationCache.lockPath(entry.path), as: anotherCPOTUI("cpo-tui run"))
        #expect(entry.store(exp) == nil)
        let waiting = Flag()
        let other = Thread {
            let deadline = Date().addingTimeInterval(60)
            while !waiting.isSet && Date() < deadline { usleep(10_000) }
            foreign.release()
        }
        other.start()
        let log = EventLog()
        _ = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: nil, cache: cache, events: { e in
            log.record(e)
            if case .preparing(let p) = e, p.message.hasPrefix("waiting for another") { waiting.set() }
        })
        #expect(waiting.isSet && !foreign.isHeld)
        let lines = log.events.compactMap { e -> String? in
            guard case .preparing(let p) = e, p.isMilestone else { return nil }
            return p.message
        }
        let waits = lines.filter { $0.hasPrefix("waiting for another cpo-tui preparing the same configuration (pid \(getppid())") }
        #expect(waits.count == 1, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("preparation loaded from the cache") }, "\(lines)")
        #expect(!lines.contains { $0.contains("training the tokenizer") }, "\(lines)")
        // Released and removed: only the entry is left.
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache.directory) == [(entry.path as NSString).lastPathComponent])
    }

    /// Waiting can be cancelled (the dashboard's q): the run stops without preparing.
    @Test func waitingForAnotherPreparerCanBeCancelled() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let cache = PreparationCache(directory: temporaryRunPath("cache-cancel"))
        defer { try? FileManager.default.removeItem(atPath: cache.directory) }
        let entry = try #require(cache.entry(for: try Experiment(config: cfg, seed: cfg.seed)))
        try FileManager.default.createDirectory(atPath: cache.directory, withIntermediateDirectories: true)
        let foreign = try FileLock.acquire(PreparationCache.lockPath(entry.path), as: anotherCPOTUI("cpo-tui"))
        defer { foreign.release() }
        let log = EventLog()
        var polls = 0
        #expect(throws: RunStartError.lab(.failed("cancelled"))) {
            _ = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: nil, cache: cache, cancelled: {
                polls += 1
                return polls > 3
            }, events: log.record)
        }
        #expect(!log.events.contains { if case .ready = $0 { return true } else { return false } })
    }

    /// Eviction leaves an entry another process holds, removes lock files nobody holds (left by
    /// killed processes), and never counts a lock file as an entry.
    @Test func evictionSparesHeldEntriesAndRemovesStaleLocks() throws {
        let cache = PreparationCache(directory: temporaryRunPath("cache-evict-lock"), maxBytes: 2500)
        defer { try? FileManager.default.removeItem(atPath: cache.directory) }
        try FileManager.default.createDirectory(atPath: cache.directory, withIntermediateDirectories: true)
        let now = Date()
        func entry(_ name: String, age: Double) throws -> String {
            let p = cache.directory + "/" + name + "." + PreparationCache.fileExtension
            try Data(repeating: 7, count: 1000).write(to: URL(fileURLWithPath: p))
            try FileManager.default.setAttributes([.modificationDate: now.addingTimeInterval(-age)], ofItemAtPath: p)
            return p
        }
        let held = try entry("held", age: 300)
        let old = try entry("old", age: 200)
        let new = try entry("new", age: 100)
        let stale = PreparationCache.lockPath(cache.directory + "/gone." + PreparationCache.fileExtension)
        try Data(repeating: 0x20, count: 5000).write(to: URL(fileURLWithPath: stale))
        let foreign = try FileLock.acquire(PreparationCache.lockPath(held), as: anotherCPOTUI("cpo-tui"))
        defer { foreign.release() }
        #expect(Set(cache.entries().map(\.path)) == [held, old, new], "lock files are not entries")

        cache.evict(keeping: new)
        #expect(FileManager.default.fileExists(atPath: held), "an entry another process holds was evicted")
        #expect(!FileManager.default.fileExists(atPath: old))
        #expect(!FileManager.default.fileExists(atPath: stale), "a stale lock file was left")
        #expect(FileManager.default.fileExists(atPath: PreparationCache.lockPath(held)))
        let names = try FileManager.default.contentsOfDirectory(atPath: cache.directory)
        #expect(Set(names) == ["held.cpoprep", "held.cpoprep.lock", "new.cpoprep"], "\(names)")
    }
}
