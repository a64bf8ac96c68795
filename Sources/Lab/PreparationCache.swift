import CausalPO
import CPOSupport
import Foundation
import OutcomeData
import Synchronization
import TinyLM
#if canImport(Glibc)
import Glibc
#endif

/// Prepared experiments kept on disk, so that a configuration prepared once (tokenizer, FT, ĝ,
/// the judge, f0 samples, FT's evaluation: about 30 s by default) starts in a moment the next
/// time (README, "The preparation cache").
///
/// Each entry is one file in `directory`, named by the SHA-256 of its key (`Key`): everything
/// the preparation depends on, and nothing only the methods' training reads, so a run with other
/// methods, epochs, learning rate or objective reuses the same preparation. The file is a
/// `SectionFile` (kind "CPOPREP"):
///
///     KEY   the key (JSON), compared in full with the current one on every load
///     CKPT  the experiment right after preparation, as a checkpoint without methods
///           (`Checkpoint.encode(_:generations:methods:)`): the checkpoint format, nothing new
///     EXTR  what a checkpoint does not keep (JSON): FT's steps, the texts of FT's evaluation
///
/// An entry is trusted only when everything checks (container checksum, format versions, the
/// key, the checkpoint's own checks, its configuration, seed and data fingerprint against the
/// current ones); anything else is deleted and the preparation runs afresh. Entries are
/// written atomically (`AtomicFile`), so a reader only ever sees a complete one. A run holds its
/// entry's lock (`<entry>.lock`, `Entry.claim`) from its lookup to its store, so a second process
/// wanting the same entry waits for the first's preparation and then loads it, instead of
/// preparing it again. The directory is bounded (`maxBytes`): after each write the entries
/// used least recently (a hit touches its file's modification time) are deleted until the rest
/// fit, but for those another process holds. A cache that cannot be written turns itself off
/// for the rest of the process, with a note.
public final class PreparationCache: Sendable {
    /// The entry format; bump it (or `codeRevision`) whenever what an entry means changes.
    public static let format: UInt32 = 1
    /// Bump when the preparation computes something else from the same inputs and the build's
    /// identity (`runningCode`) might not show it.
    static let codeRevision = 1
    public static let fileExtension = "cpoprep"
    static let magic = Array("CPOPREP\n".utf8)
    /// The environment variable that bounds the cache, in MiB (0 turns the cache off).
    public static let maxMegabytesVariable = "CPO_TUI_CACHE_MAX_MB"
    public static let defaultMaxBytes = 1 << 30

    public let directory: String
    public let maxBytes: Int
    /// The running code as the key sees it (`runningCode` unless a test gives another).
    let code: String
    /// Off after a write failed (a read-only or full disk): this process neither reads nor writes.
    private let disabled = Atomic<Bool>(false)

    /// A cache in `directory` (created when first written), at most `maxBytes` bytes of entries.
    /// `code` identifies the running code in every key (default: this build, `runningCode`).
    public init(directory: String, maxBytes: Int = PreparationCache.defaultMaxBytes, code: String? = nil) {
        self.directory = directory
        self.maxBytes = max(0, maxBytes)
        self.code = code ?? Self.runningCode
    }

    /// The user's cache: `$XDG_CACHE_HOME/cpo-tui/prepared` (`~/.cache/cpo-tui/prepared` when
    /// XDG_CACHE_HOME is unset, empty or relative), bounded by `CPO_TUI_CACHE_MAX_MB` (default
    /// 1024). Nil when that is 0 or no home directory is known; `note` says what was ignored.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> (cache: PreparationCache?, note: String?)
    {
        var note: String?
        var maxBytes = defaultMaxBytes
        if let raw = environment[maxMegabytesVariable], !raw.isEmpty {
            if let mb = Int(raw), mb >= 0, mb <= Int.max >> 20 {
                maxBytes = mb << 20
            } else {
                note = "\(maxMegabytesVariable)=\(raw) is not a whole number of MiB: the preparation cache keeps its default bound of \(defaultMaxBytes >> 20) MiB"
            }
        }
        guard maxBytes > 0 else { return (nil, note) }
        guard let root = cacheRoot(environment) else {
            return (nil, "no home directory (HOME) and no absolute XDG_CACHE_HOME: the preparation is not cached")
        }
        return (PreparationCache(directory: root + "/cpo-tui/prepared", maxBytes: maxBytes), note)
    }

    private static func cacheRoot(_ environment: [String: String]) -> String? {
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg }
        if let home = environment["HOME"], home.hasPrefix("/") { return home + "/.cache" }
        return nil
    }

    // MARK: - the key

    /// Everything the preparation of one seed depends on. Entries are found by the SHA-256 of
    /// its JSON and trusted only when their KEY section is byte for byte the current one.
    struct Key: Codable, Equatable {
        var cacheFormat: UInt32
        var checkpointFormat: UInt32
        /// The build (`runningCode`) and `codeRevision`.
        var code: String
        /// Kernels and threads: FT's gradients are summed per thread's shard and each kernel
        /// variant rounds differently, so either changes FT's weights.
        var compute: String
        var seed: UInt64
        /// The configuration without what only the methods' training reads (`preparationConfig`).
        var config: LabConfig
        /// SHA-256 of the world file or data file as it is now.
        var sourceDigest: String
        /// SHA-256 of every prepared row (training, validation, held-out, ĝ's) and how they
        /// were read: the world's samples depend on the world, the seed and the configuration.
        var rowsDigest: String
        /// `Checkpoint.fingerprint` of the rows, which the checkpoint inside is checked against.
        var dataFingerprint: UInt32
    }

    /// `config` as far as preparation reads it: the methods, epochs, seeds, the methods' learning
    /// rate and their objective (but its weight normalization, with which FT's evaluation
    /// estimates) are set to fixed values, so changing them still finds the entry. Every other
    /// field stays, including any added later: a needless miss costs a preparation, a wrong
    /// hit a wrong experiment.
    static func preparationConfig(_ config: LabConfig) -> LabConfig {
        var c = config
        c.methods = []
        c.epochs = 0
        c.seed = 0
        c.seeds = 1
        c.learningRate = 0
        c.objective = ObjectiveOptions(normalization: config.objective.normalization)
        return c
    }

    /// The running build: the executable's path, size, modification time and file number (a
    /// rebuild changes them), the C library's version, and `codeRevision`.
    static let runningCode: String = {
        var parts = ["revision \(codeRevision)"]
        if let exe = Bundle.main.executablePath, let a = try? FileManager.default.attributesOfItem(atPath: exe) {
            let size = (a[.size] as? NSNumber)?.int64Value ?? -1
            let mtime = (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            let inode = (a[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
            parts.append("\(exe) \(size) bytes, modified \(mtime.bitPattern), file \(inode)")
        } else {
            // Unknown builds never share entries: each process keys its own.
            parts.append("unknown build \(getpid()) \(Date().timeIntervalSince1970)")
        }
        #if canImport(Glibc)
        // The C library computes exp and log for the estimates and the sampler.
        var buffer = [CChar](repeating: 0, count: 64)
        if confstr(Int32(_CS_GNU_LIBC_VERSION), &buffer, buffer.count) > 0 {
            parts.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        #endif
        return parts.joined(separator: "; ")
    }()

    /// The numerics of `compute`: its kernel variant and threads, the variants this CPU has and
    /// any `CPO_KERNELS` choice.
    static func computeDescription(_ compute: Compute) -> String {
        "\(compute); supported \(KernelPath.supported.map(\.rawValue)); CPO_KERNELS=\(ProcessInfo.processInfo.environment["CPO_KERNELS"] ?? "")"
    }

    /// The key of `experiment` (its rows made, not yet prepared); nil when its data file cannot
    /// be read again.
    func key(for experiment: Experiment) -> Key? {
        guard let source = Self.sourceDigest(experiment.config) else { return nil }
        return Key(cacheFormat: Self.format, checkpointFormat: Checkpoint.version, code: code,
                   compute: Self.computeDescription(experiment.compute), seed: experiment.seed,
                   config: Self.preparationConfig(experiment.config), sourceDigest: source,
                   rowsDigest: Self.rowsDigest(experiment.data), dataFingerprint: Checkpoint.fingerprint(experiment.data))
    }

    /// Most bytes a world or data file is read for its digest (the loaders' own limits are lower).
    static let maxSourceBytes = 1 << 34

    private static func sourceDigest(_ config: LabConfig) -> String? {
        let path: String
        switch config.source {
        case .world(let w):
            guard let p = try? ShippedWorlds.resolve(w) else { return nil }
            path = p
        case .file(let p, _):
            path = p
        }
        guard let bytes = try? BoundedFile.read(path: path, maxBytes: maxSourceBytes) else { return nil }
        return SHA256.hex(SHA256.digest(bytes))
    }

    /// What the rows are besides their lists (JSON, into the rows' digest).
    private struct RowsHeader: Codable {
        var sourceLabel: String
        var outcomeKind: OutcomeKind
        var higherIsBetter: Bool
        var ghatIsCrossFitted: Bool
        var attributeNames: [String]
        var split: DataSplit.Record
        var badRows: Int
        var hiddenTraitLambda: Double?
    }

    static func rowsDigest(_ data: PreparedData) -> String {
        var sha = SHA256()
        sha.update(Checkpoint.json(RowsHeader(
            sourceLabel: data.sourceLabel, outcomeKind: data.outcomeKind, higherIsBetter: data.higherIsBetter,
            ghatIsCrossFitted: data.ghatIsCrossFitted, attributeNames: data.attributeNames, split: data.split,
            badRows: data.badRows, hiddenTraitLambda: data.hiddenTraitLambda)))
        for rows in [data.train, data.validation, data.eval, data.ghatRows] {
            var w = ByteWriter()
            w.int(rows.count)
            for r in rows {
                w.string(r.text)
                w.double(r.outcome)
                w.bool(r.logPropensity != nil)
                w.double(r.logPropensity ?? 0)
                w.bool(r.trait != nil)
                w.double(r.trait ?? 0)
                w.string(r.split?.rawValue ?? "")
                w.doubles(r.attributes)
                w.bool(r.trueValue != nil)
                w.double(r.trueValue ?? 0)
            }
            sha.update(w.bytes)
        }
        return SHA256.hex(sha.finalize())
    }

    // MARK: - entries

    /// Where `experiment`'s preparation is (or would be) cached; nil when the cache is off or
    /// the key cannot be made.
    public func entry(for experiment: Experiment) -> Entry? {
        guard !disabled.load(ordering: .relaxed), let key = key(for: experiment) else { return nil }
        let keyBytes = Checkpoint.json(key)
        return Entry(cache: self, key: key, keyBytes: keyBytes,
                     path: directory + "/" + SHA256.hex(SHA256.digest(keyBytes)) + "." + Self.fileExtension)
    }

    /// One key's place in the cache.
    public struct Entry: Sendable {
        let cache: PreparationCache
        let key: Key
        let keyBytes: [UInt8]
        /// The entry's file (it may not exist).
        public let path: String
    }

    /// A prepared experiment found in the cache.
    public struct Hit {
        public var experiment: Experiment
        public var bytes: Int
        public var seconds: Double
    }

    /// What a lookup found: a hit, or nothing (with a note when an entry was there but could
    /// not be trusted, and was removed).
    public enum Lookup {
        case hit(Hit)
        case miss(note: String?)
    }

    /// What `Entry.claim` got.
    public enum Claim {
        /// The entry's lock: no other process loads, prepares or stores this entry until it
        /// is released.
        case held(FileLock)
        /// No lock (the cache is off, or its directory cannot be made or locked; the note
        /// says so when the user should know). The run goes on as before locks.
        case unlocked(note: String?)
        /// `cancelled` turned true while waiting for another process.
        case cancelled
    }

    /// What a checkpoint does not keep of a preparation.
    struct Extras: Codable {
        var ftSteps: [StepRecord]
        var ftTexts: [GeneratedText]
    }

    /// One line for the user; never more (a reason may hold a path or a message with breaks).
    static func note(_ s: String) -> String {
        "preparation cache: " + s.replacingOccurrences(of: "\n", with: " ")
    }

    /// Only the file's own problems come here; a missing file is a plain miss.
    struct Untrusted: Error { var reason: String }
}

extension PreparationCache.Entry {
    /// The prepared experiment stored under this key for `experiment` (the same configuration
    /// and seed, its rows made and not yet prepared), ready to train exactly as if prepared now:
    /// the methods' settings are `experiment`'s. An entry that fails any check is removed.
    public func lookup(for experiment: Experiment) -> PreparationCache.Lookup {
        guard !cache.disabledNow else { return .miss(note: nil) }
        let t0 = Date()
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(path: path, maxBytes: cache.maxBytes)
        } catch {
            if case .notFound = error { return .miss(note: nil) }
            return discard(error.description)
        }
        do {
            let restored = try decode(bytes, for: experiment)
            cache.touch(path)
            return .hit(PreparationCache.Hit(experiment: restored, bytes: bytes.count, seconds: Date().timeIntervalSince(t0)))
        } catch {
            return discard(error.reason)
        }
    }

    private func discard(_ reason: String) -> PreparationCache.Lookup {
        try? FileManager.default.removeItem(atPath: path)
        return .miss(note: PreparationCache.note("ignored and removed an entry that cannot be trusted (\(reason)); preparing afresh"))
    }

    private func decode(_ bytes: [UInt8], for experiment: Experiment) throws(PreparationCache.Untrusted) -> Experiment {
        typealias Untrusted = PreparationCache.Untrusted
        let sections: [SectionFile.Section]
        do {
            sections = try SectionFile.decode(bytes, magic: PreparationCache.magic, version: PreparationCache.format, path: path)
        } catch {
            throw Untrusted(reason: error.description)
        }
        func section(_ tag: String) throws(Untrusted) -> [UInt8] {
            guard let s = sections.first(where: { $0.tag == tag }) else { throw Untrusted(reason: "no \(tag) section") }
            return Array(s.bytes)
        }
        guard try section("KEY ") == keyBytes else { throw Untrusted(reason: "its key is not this preparation's") }
        let extras: PreparationCache.Extras
        do {
            extras = try Checkpoint.jsonDecoder().decode(PreparationCache.Extras.self, from: Data(try section("EXTR")))
        } catch let e as Untrusted {
            throw e
        } catch {
            throw Untrusted(reason: "EXTR: \(error)")
        }
        var restored: RestoredExperiment
        do {
            let file = try Checkpoint.open(try section("CKPT"), path: path)
            guard file.version == Checkpoint.version else {
                throw Untrusted(reason: "checkpoint format \(file.version), this build writes \(Checkpoint.version)")
            }
            let info = try Checkpoint.info(file, path: path)
            guard info.seed == experiment.seed,
                  PreparationCache.preparationConfig(info.config) == PreparationCache.preparationConfig(experiment.config) else {
                throw Untrusted(reason: "it holds another configuration or seed")
            }
            restored = try Checkpoint.decode(file, info: info, data: experiment.data, path: path, methods: false)
        } catch let e as Untrusted {
            throw e
        } catch let e as RunStoreError {
            throw Untrusted(reason: e.description)
        } catch {
            throw Untrusted(reason: "\(error)")
        }
        guard restored.prep.ftMetrics != nil else { throw Untrusted(reason: "it holds no evaluation of FT") }
        // The preparation is the entry's; everything else (methods, epochs, their settings) the run's.
        restored.config = experiment.config
        return Experiment(cached: restored, ftSteps: extras.ftSteps, ftTexts: extras.ftTexts)
    }

    /// This entry's lock, held from looking it up to storing it, so that two processes preparing
    /// the same configuration and seed do the work once: while another process holds it, this
    /// waits (every second or so `waiting` hears a line to show; `first` the first time) and
    /// then looks up what the other stored. `cancelled` is polled while waiting.
    public func claim(cancelled: () -> Bool, waiting: (_ message: String, _ first: Bool) -> Void) -> PreparationCache.Claim {
        guard !cache.disabledNow else { return .unlocked(note: nil) }
        // The directory is made now rather than when first written; if it cannot be, the
        // store after preparing says so.
        guard (try? FileManager.default.createDirectory(atPath: cache.directory, withIntermediateDirectories: true)) != nil else {
            return .unlocked(note: nil)
        }
        var announced = -1.0
        do {
            return .held(try FileLock.acquire(PreparationCache.lockPath(path), waiting: { holder, seconds in
                if cancelled() { return false }
                if announced < 0 || seconds - announced >= 1 {
                    let who = holder?.summary ?? "pid not known"
                    waiting(String(format: "waiting for another cpo-tui preparing the same configuration (%@): %.0f s", who, seconds),
                            announced < 0)
                    announced = seconds
                }
                return true
            }))
        } catch {
            switch error {
            case .held: return .cancelled
            case .unavailable(_, let reason):
                return .unlocked(note: PreparationCache.note(
                    "cannot lock its entries (\(reason)); going on unlocked, so another cpo-tui preparing the same configuration at this moment prepares it too"))
            }
        }
    }

    /// Stores `experiment`, just prepared (no method has trained), under this key; then
    /// deletes the least recently used entries beyond the bound. Returns a note when the entry
    /// could not be written (the cache is then off for this process) or is larger than the bound.
    public func store(_ experiment: Experiment) -> String? {
        guard !cache.disabledNow else { return nil }
        let extras = PreparationCache.Extras(ftSteps: experiment.ftSteps, ftTexts: experiment.evaluationTexts[.reference] ?? [])
        let bytes = SectionFile.encode(magic: PreparationCache.magic, version: PreparationCache.format, sections: [
            ("KEY ", keyBytes), ("CKPT", Checkpoint.encode(experiment, generations: 0, methods: false)),
            ("EXTR", Checkpoint.json(extras)),
        ])
        guard bytes.count <= cache.maxBytes else {
            return PreparationCache.note("this preparation (\(BoundedFile.describeSize(bytes.count))) is larger than the bound "
                                         + "(\(BoundedFile.describeSize(cache.maxBytes)), \(PreparationCache.maxMegabytesVariable)); not cached")
        }
        do {
            try FileManager.default.createDirectory(atPath: cache.directory, withIntermediateDirectories: true)
            try AtomicFile.write(bytes, to: path)
        } catch {
            cache.disable()
            let reason = (error as? FileWriteError)?.reason ?? (error as NSError).localizedDescription
            return PreparationCache.note("cannot write to \(cache.directory) (\(reason)); going on without the cache")
        }
        cache.evict(keeping: path)
        return nil
    }
}

extension PreparationCache {
    var disabledNow: Bool { disabled.load(ordering: .relaxed) }

    func disable() { disabled.store(true, ordering: .relaxed) }

    /// Marks an entry as just used (eviction removes the least recently used first).
    func touch(_ path: String) {
        try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: path)
    }

    /// An entry's lock file: beside it, never listed as an entry.
    static func lockPath(_ entry: String) -> String { entry + ".lock" }

    /// The cache's entries, least recently used first.
    public func entries() -> [(path: String, bytes: Int, used: Date)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix("." + Self.fileExtension) && !$0.hasPrefix(".") }.compactMap { name in
            let path = directory + "/" + name
            // An entry another process removes meanwhile is simply not listed.
            guard let a = try? FileManager.default.attributesOfItem(atPath: path),
                  let size = (a[.size] as? NSNumber)?.intValue, let used = a[.modificationDate] as? Date else { return nil }
            return (path, size, used)
        }.sorted { ($0.used, $0.path) < ($1.used, $1.path) }
    }

    /// Deletes the least recently used entries until the rest fit in `maxBytes` (`keeping` last
    /// of all), and temporary files and lock files whose process is gone. An entry whose lock
    /// another process holds (it is loading or storing it) is left alone.
    func evict(keeping: String) {
        AtomicFile.removeStaleTemporaryFiles(in: directory)
        removeStaleLockFiles()
        var all = entries()
        if let i = all.firstIndex(where: { $0.path == keeping }) { all.append(all.remove(at: i)) }
        var total = all.reduce(0) { $0 + $1.bytes }
        for e in all where total > maxBytes {
            guard let lock = Self.tryLock(Self.lockPath(e.path)) else { continue }
            try? FileManager.default.removeItem(atPath: e.path)
            lock.release()
            total -= e.bytes
        }
    }

    /// The lock at `path` if nobody holds it now (no waiting); nil otherwise.
    static func tryLock(_ path: String) -> FileLock? { try? FileLock.acquire(path, waiting: { _, _ in false }) }

    /// Removes the lock files nobody holds: left by a process that was killed while it held
    /// one (the kernel released the lock, the file stays). Taking the lock first makes this safe
    /// against a process taking it at the same moment (`FileLock`).
    func removeStaleLockFiles() {
        let suffix = "." + Self.fileExtension + ".lock"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(suffix) {
            Self.tryLock(directory + "/" + name)?.release()
        }
    }
}
