import CausalPO
import CPOSupport
import Foundation
import OutcomeData
import Synchronization
import Testing
@testable import Lab

/// A fresh cache directory under the temporary folder (never the user's ~/.cache).
private func temporaryCache(_ label: String, maxBytes: Int = PreparationCache.defaultMaxBytes) -> PreparationCache {
    PreparationCache(directory: temporaryRunPath("cache-" + label), maxBytes: maxBytes)
}

private func removeCache(_ cache: PreparationCache) { try? FileManager.default.removeItem(atPath: cache.directory) }

/// The log lines of a run's events.
private func logLines(_ log: EventLog) -> [String] {
    log.events.compactMap { e -> String? in
        switch e {
        case .log(let l): return l
        case .preparing(let p) where p.isMilestone: return p.message
        default: return nil
        }
    }
}

private func reportsHit(_ log: EventLog) -> Bool { logLines(log).contains { $0.hasPrefix("preparation loaded from the cache") } }

/// The entry file names in a cache with their modification times.
private func listing(_ cache: PreparationCache) -> [String: Date] {
    Dictionary(uniqueKeysWithValues: cache.entries().map { (($0.path as NSString).lastPathComponent, $0.used) })
}

/// An experiment of `cfg` with its rows made, not prepared.
private func unprepared(_ cfg: LabConfig, seed: UInt64? = nil) throws -> Experiment { try Experiment(config: cfg, seed: seed ?? cfg.seed) }

/// An experiment of `cfg`, prepared.
private func prepared(_ cfg: LabConfig, seed: UInt64? = nil) throws -> Experiment {
    let e = try unprepared(cfg, seed: seed)
    try e.prepare()
    return e
}

@Suite("the preparation cache")
struct PreparationCacheTests {
    /// A run whose preparation comes from the cache is the run prepared afresh, bit for bit
    /// (metrics, steps, FT's steps and texts), and says where its preparation came from. A
    /// run with other methods, epochs and method settings finds the same entry and equals its
    /// own fresh run too.
    @Test func aHitEqualsAFreshPreparation() throws {
        var cfg = tinyConfig(methods: [.ft, .cpo, .drCPO])
        cfg.epochs = 1
        let cache = temporaryCache("hit")
        defer { removeCache(cache) }

        let freshLog = EventLog()
        let fresh = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: nil, cache: cache, events: freshLog.record)
        #expect(!reportsHit(freshLog))
        #expect(cache.entries().count == 1, "the fresh preparation was not stored")
        let freshFT = (steps: fresh.experiment.ftSteps, texts: fresh.experiment.evaluationTexts[.reference])
        #expect(fresh.runToEnd())

        let hitLog = EventLog()
        let hit = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: nil, cache: cache, events: hitLog.record)
        #expect(reportsHit(hitLog), "\(logLines(hitLog))")
        // FT's steps carry no gradient norm (NaN, never equal to itself): compared as saved.
        #expect(Checkpoint.json(hit.experiment.ftSteps) == Checkpoint.json(freshFT.steps) && !freshFT.steps.isEmpty)
        #expect(hit.experiment.evaluationTexts[.reference] == freshFT.texts && freshFT.texts?.isEmpty == false)
        #expect(hit.experiment.ftHistory == fresh.experiment.ftHistory)
        #expect(hit.experiment.modelShape == fresh.experiment.modelShape)
        #expect(hit.runToEnd())
        for m in cfg.methods {
            #expect(comparable(fresh.experiment.metrics[m] ?? []) == comparable(hit.experiment.metrics[m] ?? []), "\(m)")
            #expect(fresh.experiment.steps[m] == hit.experiment.steps[m], "\(m)")
            #expect(fresh.experiment.winScores[m] == hit.experiment.winScores[m], "\(m)")
        }
        #expect(fresh.experiment.heldOutRows(.cpo) == hit.experiment.heldOutRows(.cpo))

        // Other methods, epochs, learning rate and objective: the same entry, and the same run
        // as without the cache.
        var other = cfg
        other.methods = [.ft, .ooRLHF]
        other.epochs = 2
        other.learningRate = 2e-3
        other.objective.klTarget = 0.5
        let otherLog = EventLog()
        let otherHit = try SeedRun.start(config: other, seed: other.seed, runDirectory: nil, cache: cache, events: otherLog.record)
        #expect(reportsHit(otherLog))
        #expect(otherHit.runToEnd())
        let otherFresh = try SeedRun.start(config: other, seed: other.seed, runDirectory: nil, events: { _ in })
        #expect(otherFresh.runToEnd())
        for m in other.methods {
            #expect(comparable(otherFresh.experiment.metrics[m] ?? []) == comparable(otherHit.experiment.metrics[m] ?? []), "\(m)")
            #expect(otherFresh.experiment.steps[m] == otherHit.experiment.steps[m], "\(m)")
        }
        #expect(cache.entries().count == 1)
    }

    /// A run saved from a cached preparation resumes exactly like any other.
    @Test func aRunPreparedFromTheCacheSavesAndResumesExactly() throws {
        var cfg = tinyConfig(methods: [.ft, .cpo])
        cfg.epochs = 2
        let cache = temporaryCache("resume")
        let path = temporaryRunPath("cache-resume")
        defer { removeCache(cache); try? FileManager.default.removeItem(atPath: path) }
        _ = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: nil, cache: cache, events: { _ in })
        let straight = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: nil, events: { _ in })
        #expect(straight.runToEnd())

        let dir = try RunDirectory.create(path, config: cfg)
        let log = EventLog()
        let first = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: dir, cache: cache, events: log.record)
        #expect(reportsHit(log))
        #expect(log.saves == ["saved after preparation"])
        first.trainEpoch(.cpo)
        let resumed = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: dir, cache: cache, events: { _ in })
        #expect(resumed.runToEnd())
        #expect(comparable(straight.experiment.metrics[.cpo] ?? []) == comparable(resumed.experiment.metrics[.cpo] ?? []))
        #expect(straight.experiment.steps[.cpo] == resumed.experiment.steps[.cpo])
    }

    /// The key follows everything the preparation reads (seed, data, the world file, FT's and
    /// the model's settings, threads, the build) and nothing only the methods' training reads.
    @Test func theKeyFollowsWhatThePreparationReads() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let cache = temporaryCache("keys")
        let base = try #require(cache.entry(for: try unprepared(cfg))).path
        func path(_ change: (inout LabConfig) -> Void, seed: UInt64? = nil, cache c: PreparationCache? = nil) throws -> String {
            var changed = cfg
            change(&changed)
            return try #require((c ?? cache).entry(for: try unprepared(changed, seed: seed))).path
        }
        #expect(try path { _ in } == base, "the key is not a function of its inputs")
        #expect(try path({ _ in }, cache: PreparationCache(directory: cache.directory, code: "another build")) != base)
        let sameKey: [(String, (inout LabConfig) -> Void)] = [
            ("methods", { $0.methods = [.ft, .drCPO, .ooRLHF] }), ("epochs", { $0.epochs = 9 }), ("seeds", { $0.seeds = 3 }),
            ("learning rate", { $0.learningRate = 0.5 }), ("KL target", { $0.objective.klTarget = 2 }),
            ("anchor", { $0.objective.anchor = 0 }), ("clip", { $0.objective.clip = 0.2 }),
        ]
        for (name, change) in sameKey { #expect(try path(change) == base, "\(name) changed the key") }
        // The experiment's own seed is keyed, not the configuration's base seed.
        #expect(try path({ $0.seed = 99 }, seed: cfg.seed) == base)
        #expect(try path({ _ in }, seed: cfg.seed + 1) != base)
        let newKey: [(String, (inout LabConfig) -> Void)] = [
            ("rows", { $0.rows += 1 }), ("eval rows", { $0.evalRows += 1 }), ("validation rows", { $0.validationRows += 1 }),
            ("log rows", { $0.logRows += 1 }), ("design", { $0.design = .observational; $0.propensity = .logged }),
            ("ĝ source", { $0.ghatFrom = .negated }), ("propensity", { $0.propensity = .logged }),
            ("eval design", { $0.evalDesign = .observational }),
            ("FT epochs", { $0.ftMaxEpochs += 1 }), ("FT patience", { $0.ftPatience += 1 }), ("FT lr", { $0.ftLearningRate *= 2 }),
            ("batch size", { $0.batchSize += 1 }), ("f0 ratio", { $0.f0Ratio += 1 }), ("f0 start", { $0.f0FromScratch.toggle() }),
            ("folds", { $0.folds += 1 }), ("eval samples", { $0.evalSamples += 1 }), ("win prompts", { $0.winRatePrompts += 1 }),
            ("threads", { $0.threads = 1 }), ("width", { $0.model.dModel = 64 }), ("vocabulary", { $0.model.vocabSize = 280 }),
            ("context", { $0.model.contextLength = 64 }), ("fitted context", { $0.fitContext.toggle() }),
            ("fitted vocabulary", { $0.fitVocabulary.toggle() }), ("normalization", { $0.objective.normalization = .horvitzThompson }),
        ]
        for (name, change) in newKey { #expect(try path(change) != base, "\(name) did not change the key") }

        // The world file's bytes: a copy with one more comment line is another world.
        guard case .world(let worldPath) = cfg.source else { Issue.record("tinyConfig is not a world"); return }
        let copy = temporaryRunPath("cache-world") + ".toml"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let text = try String(contentsOfFile: worldPath, encoding: .utf8)
        try text.write(toFile: copy, atomically: true, encoding: .utf8)
        let copied = try path { $0.source = .world(copy) }
        try (text + "\n# edited\n").write(toFile: copy, atomically: true, encoding: .utf8)
        #expect(try path { $0.source = .world(copy) } != copied, "the world file's bytes are not in the key")
    }

    /// A user's data file: its bytes are in the key.
    @Test func theKeyFollowsTheDataFile() throws {
        let csv = temporaryRunPath("cache-data") + ".csv"
        defer { try? FileManager.default.removeItem(atPath: csv) }
        func write(_ shift: Double) throws {
            let rows = (0..<80).map { i in "\"text number \(i) says \(["yes", "no", "maybe"][i % 3])\",\(Double(i % 7) + shift)" }
            try (["text,outcome"] + rows).joined(separator: "\n").write(toFile: csv, atomically: true, encoding: .utf8)
        }
        var cfg = tinyConfig(methods: [.ft, .cpo])
        cfg.source = .file(path: csv, options: LoadOptions())
        cfg.ghatFrom = .same
        let cache = temporaryCache("data")
        try write(0)
        let a = try #require(cache.entry(for: try unprepared(cfg))).path
        try write(0.5)
        let b = try #require(cache.entry(for: try unprepared(cfg))).path
        #expect(a != b)
        try write(0)
        #expect(try #require(cache.entry(for: try unprepared(cfg))).path == a)
    }

    /// Truncated, corrupted, wrong-version, foreign and mismatched entries are never trusted:
    /// each is a miss with a one-line note, and removed; a run then prepares afresh and stores
    /// a good entry again.
    @Test func damagedEntriesAreRemovedAndRebuilt() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let cache = temporaryCache("damaged")
        defer { removeCache(cache) }
        let exp = try prepared(cfg)
        let entry = try #require(cache.entry(for: exp))
        #expect(entry.store(exp) == nil)
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: entry.path)))

        // Another seed's entry, for a file that holds the right key around the wrong experiment.
        let other = try prepared(cfg, seed: cfg.seed + 1)
        let otherEntry = try #require(cache.entry(for: other))
        #expect(otherEntry.store(other) == nil)
        let otherBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: otherEntry.path)))
        let sections = try SectionFile.decode(good, magic: PreparationCache.magic, version: PreparationCache.format, path: "")
        let otherSections = try SectionFile.decode(otherBytes, magic: PreparationCache.magic, version: PreparationCache.format, path: "")
        func file(version: UInt32 = PreparationCache.format, _ parts: [SectionFile.Section]) -> [UInt8] {
            SectionFile.encode(magic: PreparationCache.magic, version: version, sections: parts.map { ($0.tag, Array($0.bytes)) })
        }
        var flipped = good
        flipped[good.count / 2] ^= 0x40
        let damaged: [(String, [UInt8])] = [
            ("truncated", Array(good.prefix(good.count - 100))), ("empty", []), ("a flipped byte", flipped),
            ("garbage", Array("not a cache entry at all".utf8)), ("another format version", file(version: 99, sections)),
            ("another key", otherBytes), ("the right key around another seed's experiment",
                                          file([sections[0]] + otherSections.dropFirst())),
            ("no extras", file(Array(sections.prefix(2)))),
        ]
        for (name, bytes) in damaged {
            try Data(bytes).write(to: URL(fileURLWithPath: entry.path))
            let fresh = try unprepared(cfg)
            guard case .miss(let note?) = entry.lookup(for: fresh) else { Issue.record("\(name): trusted"); continue }
            #expect(note.hasPrefix("preparation cache: ") && !note.contains("\n"), "\(name): \(note)")
            #expect(!FileManager.default.fileExists(atPath: entry.path), "\(name): not removed")
        }
        // The good bytes are still a hit (the checks above refused the damage, not the entry).
        try Data(good).write(to: URL(fileURLWithPath: entry.path))
        guard case .hit = entry.lookup(for: try unprepared(cfg)) else { Issue.record("the intact entry missed"); return }

        // A run finds the damage, says so once, prepares and stores a good entry again.
        try Data(flipped).write(to: URL(fileURLWithPath: entry.path))
        let log = EventLog()
        _ = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: nil, cache: cache, events: log.record)
        #expect(!reportsHit(log))
        #expect(logLines(log).filter { $0.hasPrefix("preparation cache:") }.count == 1, "\(logLines(log))")
        guard case .hit = entry.lookup(for: try unprepared(cfg)) else { Issue.record("not rebuilt"); return }
    }

    /// Eviction keeps the entries within the bound, removing the least recently used first;
    /// a hit counts as a use.
    @Test func evictionKeepsTheBoundOldestFirst() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let exp = try prepared(cfg)
        let probe = temporaryCache("evict-probe")
        defer { removeCache(probe) }
        let entryBytes = try #require({ () -> Int? in
            _ = probe.entry(for: exp)?.store(exp)
            return probe.entries().first?.bytes
        }())

        // Room for the real entry and two 1000-byte files.
        let cache = temporaryCache("evict", maxBytes: entryBytes + 2500)
        defer { removeCache(cache) }
        try FileManager.default.createDirectory(atPath: cache.directory, withIntermediateDirectories: true)
        let now = Date()
        func dummy(_ name: String, age: Double) throws {
            let p = cache.directory + "/" + name + "." + PreparationCache.fileExtension
            try Data(repeating: 7, count: 1000).write(to: URL(fileURLWithPath: p))
            try FileManager.default.setAttributes([.modificationDate: now.addingTimeInterval(-age)], ofItemAtPath: p)
        }
        try dummy("oldest", age: 300)
        try dummy("middle", age: 200)
        try dummy("newest", age: 100)
        // Not an entry: never counted or removed.
        try Data(repeating: 1, count: 5000).write(to: URL(fileURLWithPath: cache.directory + "/notes.txt"))
        let entry = try #require(cache.entry(for: exp))
        #expect(entry.store(exp) == nil)
        let kept = Set(listing(cache).keys)
        let entryName = (entry.path as NSString).lastPathComponent
        #expect(kept == [entryName, "middle.cpoprep", "newest.cpoprep"], "\(kept)")
        #expect(cache.entries().reduce(0) { $0 + $1.bytes } <= cache.maxBytes)
        #expect(FileManager.default.fileExists(atPath: cache.directory + "/notes.txt"))

        // The entry grows old, is used (a hit), and then outlives a newer file.
        try FileManager.default.setAttributes([.modificationDate: now.addingTimeInterval(-1000)], ofItemAtPath: entry.path)
        guard case .hit = entry.lookup(for: try unprepared(cfg)) else { Issue.record("missed"); return }
        try dummy("latest", age: 50)
        cache.evict(keeping: "")
        #expect(Set(listing(cache).keys) == [entryName, "newest.cpoprep", "latest.cpoprep"], "\(listing(cache).keys)")

        // An entry larger than the whole bound is not kept.
        let small = temporaryCache("evict-small", maxBytes: entryBytes / 2)
        defer { removeCache(small) }
        let note = try #require(small.entry(for: exp)?.store(exp))
        #expect(note.contains("larger than the bound") && small.entries().isEmpty)
    }

    /// Without a cache (`--no-cache`) a run neither reads an entry that is there nor writes one.
    @Test func noCacheNeitherReadsNorWrites() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let cache = temporaryCache("none")
        defer { removeCache(cache) }
        let exp = try prepared(cfg)
        #expect(cache.entry(for: exp)?.store(exp) == nil)
        let before = listing(cache)
        Thread.sleep(forTimeInterval: 0.02)
        let log = EventLog()
        _ = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: nil, cache: nil, events: log.record)
        #expect(!reportsHit(log))
        #expect(listing(cache) == before, "the cache changed")
        // Another seed, not in the cache: still nothing written.
        _ = try SeedRun.start(config: cfg, seed: cfg.seed + 5, runDirectory: nil, cache: nil, events: { _ in })
        #expect(listing(cache) == before)
    }

    /// Writers of the same key at once (threads here; processes rename the same way) leave one
    /// complete entry and no temporary files.
    @Test func concurrentWritersLeaveOneValidEntry() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let cache = temporaryCache("concurrent")
        defer { removeCache(cache) }
        let exp = try prepared(cfg)
        let entry = try #require(cache.entry(for: exp))
        let notes = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            if let n = entry.store(exp) { notes.withLock { $0.append(n) } }
        }
        #expect(notes.withLock { $0 }.isEmpty)
        let names = try FileManager.default.contentsOfDirectory(atPath: cache.directory)
        #expect(names == [(entry.path as NSString).lastPathComponent], "\(names)")
        guard case .hit = entry.lookup(for: try unprepared(cfg)) else { Issue.record("the entry is not valid"); return }
    }

    /// A cache that cannot be written (here: its directory would be inside a file) says so once
    /// and is off for the rest of the process; the run goes on.
    @Test func anUnwritableCacheTurnsItselfOff() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let blocker = temporaryRunPath("cache-blocker")
        try Data("a file".utf8).write(to: URL(fileURLWithPath: blocker))
        defer { try? FileManager.default.removeItem(atPath: blocker) }
        let cache = PreparationCache(directory: blocker + "/prepared")
        let log = EventLog()
        let run = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: nil, cache: cache, events: log.record)
        let notes = logLines(log).filter { $0.hasPrefix("preparation cache:") }
        #expect(notes.count == 1 && notes[0].contains("going on without the cache"), "\(notes)")
        #expect(cache.entry(for: try unprepared(cfg)) == nil)
        #expect(run.runToEnd())
    }

    /// Where the user's cache is, and its bound.
    @Test func theStandardCacheFollowsXDGAndTheBound() {
        let home = ["HOME": "/home/u"]
        #expect(PreparationCache.standard(environment: home).cache?.directory == "/home/u/.cache/cpo-tui/prepared")
        #expect(PreparationCache.standard(environment: home.merging(["XDG_CACHE_HOME": "/x"]) { $1 }).cache?.directory
                == "/x/cpo-tui/prepared")
        for ignored in ["", "relative/dir"] {
            #expect(PreparationCache.standard(environment: home.merging(["XDG_CACHE_HOME": ignored]) { $1 }).cache?.directory
                    == "/home/u/.cache/cpo-tui/prepared")
        }
        #expect(PreparationCache.standard(environment: home).cache?.maxBytes == PreparationCache.defaultMaxBytes)
        let bounded = PreparationCache.standard(environment: home.merging([PreparationCache.maxMegabytesVariable: "64"]) { $1 })
        #expect(bounded.cache?.maxBytes == 64 << 20 && bounded.note == nil)
        let off = PreparationCache.standard(environment: home.merging([PreparationCache.maxMegabytesVariable: "0"]) { $1 })
        #expect(off.cache == nil && off.note == nil)
        let bad = PreparationCache.standard(environment: home.merging([PreparationCache.maxMegabytesVariable: "lots"]) { $1 })
        #expect(bad.cache?.maxBytes == PreparationCache.defaultMaxBytes && bad.note?.contains("lots") == true)
        #expect(PreparationCache.standard(environment: [:]).cache == nil)
    }
}
