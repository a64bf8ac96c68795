import ArgumentParser
import Dashboard
import Foundation
import Lab
import OutcomeData
import TinyLM

/// `bench --soak`: the dashboard as a user runs it, for a long time, in one process. For each
/// seed in turn a `LabSession` prepares and trains every method for the given epochs under the
/// real frame loop (`DashboardLoop`, `DashboardState`, every view rendered), driven by scripted
/// keys: space to run, then every second another key from `SoakScript.keys` (views, zoom,
/// focus, lists scrolled and filtered, themes, help, samples drawn), and once per seed a save,
/// a report and a screen export. Every seed saves into one run directory. On a terminal the
/// frames go through the ncurses backend (`scripts/soak.sh` runs it in tmux); otherwise into
/// an in-memory screen that diffs them as the backend would.
///
/// It records its own resident memory, heap in use (what malloc has handed out and not got
/// back: a leak grows it, memory the allocator keeps for reuse does not) and open descriptors
/// after every epoch and at the end of each seed (a quiet moment: no session, no file open for
/// a save) in events.csv. At the end of each seed it also asks malloc to give its free pages
/// back (`malloc_trim`) and records the resident memory then: what is in use, without what
/// glibc's arenas keep for reuse (which grows over the first seeds and then levels off).
/// `scripts/soak.sh` samples memory and descriptors every second from outside and says
/// whether they stay flat.
@MainActor
enum SoakBench {
    /// The experiment of the soak unless `--soak-run` gives another: a shipped world, 400
    /// training rows, a small model (d_model 64, 2 layers), 4 methods. About a minute per seed of
    /// 20 epochs on 2 cores.
    nonisolated static let defaultRunFlags = "--rows 400 --eval-rows 200 --validation-rows 50 --methods FT,OO-RLHF,CPO,DR-CPO "
        + "--d-model 64 --layers 2 --heads 2 --vocab 400 --batch-size 16 --ft-epochs 4 --eval-samples 100 --win-prompts 40"

    struct SeedRecord {
        var seed: UInt64
        var seconds: Double
        var frames: Int
        var epochs: Int
        var memory: SoakEvents.Memory
        /// Resident memory once malloc was asked to give back its free pages (`malloc_trim`).
        var trimmedKB: Int
        var openFiles: Int
    }

    struct Settings {
        var seeds: Int
        var epochs: Int
        var runFlags: String
        var directory: String
        var json: Bool
    }

    static func run(_ settings: Settings) throws {
        var options = try RunOptions.parse(settings.runFlags.split(separator: " ").map(String.init))
        options.useDefaultWorld(ShippedWorlds.defaultName)
        var config = try options.makeConfig()
        config.epochs = settings.epochs
        config.seeds = settings.seeds
        let dir = settings.directory
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let runDirectory: RunDirectory
        do { runDirectory = try RunDirectory.create(dir + "/run", config: config) } catch { throw CLIError(error.description) }
        let events = SoakEvents(path: dir + "/events.csv")
        events.write("start", seed: nil)

        let backend = SoakTerminal(inner: try? NcursesBackend(logPath: dir + "/soak.log", ascii: nil))
        var records: [SeedRecord] = []
        var outcome = "finished"
        for k in 0..<settings.seeds {
            let seed = config.seed + UInt64(k)
            events.write("seed-start", seed: seed)
            let t0 = Date()
            // Measured once the seed's session, dashboard state and loop are gone.
            let (frames, script) = runSeed(seed, config: config, runDirectory: runDirectory, backend: backend, events: events,
                                           directory: dir, epochs: settings.epochs)
            let memory = SoakEvents.Memory()
            events.write("seed-end", seed: seed)
            // What stays once malloc has given its free pages back: memory in use.
            SoakEvents.Memory.trim()
            let trimmed = SoakEvents.Memory()
            events.write("seed-trimmed", seed: seed)
            records.append(SeedRecord(seed: seed, seconds: Date().timeIntervalSince(t0), frames: frames, epochs: script.epochsDone,
                                      memory: memory, trimmedKB: trimmed.residentKB, openFiles: SoakEvents.openFiles()))
            if let failure = script.failure { outcome = "failed: \(failure)"; break }
            if !script.finished { outcome = "stopped"; break }
        }
        backend.shutdown()
        events.write(outcome == "finished" ? "end" : "stopped", seed: nil)
        try report(records, outcome: outcome, settings: settings, config: config)
        if outcome != "finished" { throw CLIError("the soak \(outcome) after \(records.count) of \(settings.seeds) seeds") }
    }

    /// One seed in the dashboard, from a new session to its end; the frames drawn and the script
    /// (how it ended).
    private static func runSeed(_ seed: UInt64, config: LabConfig, runDirectory: RunDirectory, backend: SoakTerminal,
                                events: SoakEvents, directory dir: String, epochs: Int) -> (Int, SoakScript) {
        let session = LabSession(config: config, seed: seed, runDirectory: runDirectory, cache: nil)
        let script = SoakScript(session: session, epochs: epochs, terminal: backend,
                                onEpoch: { events.write("epoch-\($0)", seed: seed) })
        var state = DashboardState(theme: .dark, themes: Themes.cycle(), colors: backend.colors,
                                   glyphs: backend.glyphs, reportDirectory: dir + "/report")
        session.start()
        let loop = DashboardLoop(framesPerSecond: DashboardConfig.fpsRange.upperBound,
                                 shouldStop: { script.shouldStop() },
                                 exportScreen: { frame, snapshot, theme in
                                     ScreenExport.write(frame, palette: ScreenPalette(theme: theme), into: snapshot.runDirectory ?? dir)
                                 })
        let frames = loop.run(&state, backend: backend, source: session)
        session.waitUntilFinished()
        return (frames, script)
    }

    private static func report(_ records: [SeedRecord], outcome: String, settings: Settings, config: LabConfig) throws {
        if settings.json {
            let seeds = records.map { r -> [String: Any] in
                ["seed": r.seed, "seconds": r.seconds, "frames": r.frames, "epochs": r.epochs,
                 "rss_kb": r.memory.residentKB, "rss_trimmed_kb": r.trimmedKB, "heap_in_use_kb": r.memory.heapInUseKB, "heap_held_kb": r.memory.heapHeldKB,
                 "open_files": r.openFiles]
            }
            let obj: [String: Any] = ["outcome": outcome, "seeds": seeds, "epochs": settings.epochs, "run_flags": settings.runFlags,
                                      "directory": settings.directory]
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("cpo-tui bench --soak: \(settings.seeds) seeds x \(settings.epochs) epochs of \(config.methods.map(\.rawValue).joined(separator: ",")) "
              + "in the dashboard, one process; run flags: \(settings.runFlags)")
        for r in records {
            print(String(format: "  seed %llu: %d epochs in %6.1f s, %6d frames; after it: RSS %5.1f MB (trimmed %5.1f), malloc in use %4.1f MB (holds %4.1f), %d open files",
                         r.seed, r.epochs, r.seconds, r.frames, Double(r.memory.residentKB) / 1024, Double(r.trimmedKB) / 1024,
                         Double(r.memory.heapInUseKB) / 1024, Double(r.memory.heapHeldKB) / 1024, r.openFiles))
        }
        print("  \(outcome); files in \(settings.directory)")
    }
}

/// The keys of a soak: space once the session is ready, then one key a second, round and round
/// `keys`, and halfway through the epochs a save, a report and a screen export. It ends the
/// loop when every method has trained the epochs (or a failure, or a signal).
final class SoakScript {
    /// Views, panels, lists, overlays and a sample request; nothing that pauses or steps.
    static let keys: [Key] = [
        .char("3"), .pageDown, .char("/"), .char("t"), .char("h"), .char("e"), .enter, .tab, .pageDown,
        .char("2"), .down, .char("1"), .char("j"), .tab, .char("z"), .left, .left, .char("z"), .char("c"),
        .char("c"), .char("g"), .char(">"), .char("<"), .char("t"), .char("?"), .char("?"), .char("a"), .char("a"),
    ]

    let session: LabSession
    let epochs: Int
    let terminal: SoakTerminal
    /// Called with the epochs every method has trained, each time that grows.
    let onEpoch: (Int) -> Void
    private var started = false
    private var sawRunning = false
    private var savedAndReported = false
    private var next = 0
    private var lastKey = Date()
    private(set) var finished = false
    private(set) var failure: String?
    private(set) var epochsDone = 0

    init(session: LabSession, epochs: Int, terminal: SoakTerminal, onEpoch: @escaping (Int) -> Void) {
        self.session = session
        self.epochs = epochs
        self.terminal = terminal
        self.onEpoch = onEpoch
    }

    /// Asked before every frame: queues the keys that are due; true ends the loop.
    func shouldStop() -> Bool {
        if stopRequested.load(ordering: .relaxed) { return true }
        let s = session.snapshot()
        let trained = s.methods.filter { $0.method.trains }
        let done = trained.map(\.epoch).min() ?? 0
        if done > epochsDone {
            epochsDone = done
            onEpoch(done)
        }
        switch s.phase {
        case .failed(let why):
            failure = why
            return true
        case .finished:
            return true
        case .running:
            sawRunning = true
        case .idle:
            if !started {
                started = true
                terminal.press(.char(" "))
                return false
            }
            if epochsDone >= epochs && (sawRunning || epochs == 0) {
                finished = true
                return true
            }
        case .preparing:
            break
        }
        guard started else { return false }
        if !savedAndReported && epochsDone >= epochs / 2 {
            savedAndReported = true
            for c in "wrx" { terminal.press(.char(c)) }
        }
        if Date().timeIntervalSince(lastKey) >= 1 {
            lastKey = Date()
            terminal.press(Self.keys[next % Self.keys.count])
            next += 1
        }
        return false
    }
}

/// The soak's terminal: the ncurses backend when there is a terminal (its own keys still
/// work: `q` quits), else an in-memory screen of 120x40 that diffs each frame against the
/// last as the backend does; scripted keys come first.
@MainActor
final class SoakTerminal: TerminalBackend {
    private let inner: NcursesBackend?
    private var pending: [InputEvent] = []
    private var last = CellBuffer(width: 0, height: 0)

    init(inner: NcursesBackend?) { self.inner = inner }

    var size: TerminalSize { inner?.size ?? TerminalSize(width: 120, height: 40) }
    var colors: Int { inner?.colors ?? 256 }
    var glyphs: Glyphs { inner?.charset.glyphs ?? .unicode }

    nonisolated func press(_ key: Key) {
        MainActor.assumeIsolated { pending.append(.key(key)) }
    }

    func draw(_ frame: CellBuffer) {
        if let inner { return inner.draw(frame) }
        _ = frame.diff(from: last)
        last = frame
    }

    func nextEvent(timeout milliseconds: Int) -> InputEvent {
        if !pending.isEmpty { return pending.removeFirst() }
        if let inner { return inner.nextEvent(timeout: milliseconds) }
        usleep(useconds_t(max(0, milliseconds) * 1000))
        return .timeout
    }

    func setMouse(_ on: Bool) { inner?.setMouse(on) }

    func shutdown() { inner?.shutdown() }
}

/// The soak's events file (`unix seconds,event,seed,rss_kb,open_files,heap_in_use_kb,heap_held_kb`,
/// one line each: start, seed-start, epoch-N, seed-end, seed-trimmed (after `malloc_trim`), end),
/// which `scripts/soak.sh` reads to tell the first seed (the warm-up) from the rest.
struct SoakEvents {
    let path: String

    init(path: String) {
        self.path = path
        _ = FileManager.default.createFile(atPath: path, contents: Data("time,event,seed,rss_kb,open_files,heap_in_use_kb,heap_held_kb\n".utf8))
    }

    func write(_ event: String, seed: UInt64?) {
        let m = Memory()
        let line = String(format: "%.3f,", Date().timeIntervalSince1970)
            + "\(event),\(seed.map { "\($0)" } ?? ""),\(m.residentKB),\(Self.openFiles()),\(m.heapInUseKB),\(m.heapHeldKB)\n"
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(line.utf8))
    }

    /// This process's memory now, in kB: resident (VmRSS), and what malloc has handed out and
    /// not got back (a leak grows it) and what it holds, in use or free for reuse (glibc's
    /// `malloc_info`: its arenas and mmapped blocks). The model's large buffers are mapped
    /// outside malloc (`FloatBuffer`) and count in the resident memory only.
    struct Memory {
        var residentKB = 0
        var heapInUseKB = 0
        var heapHeldKB = 0

        init() {
            residentKB = Self.resident()
            (heapInUseKB, heapHeldKB) = Self.heap()
        }

        /// Asks malloc to give the free pages of all its arenas back to the system (glibc's
        /// `malloc_trim`, looked up at run time; nothing where it is not there).
        static func trim() {
            #if canImport(Glibc)
            typealias MallocTrim = @convention(c) (Int) -> Int32
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
            _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
            #endif
        }

        /// VmRSS (0 where /proc is missing).
        static func resident() -> Int { Benchmark.processStatusKB("VmRSS") ?? 0 }

        /// (in use, held) from `malloc_info`, looked up at run time (Swift's Glibc module has no
        /// malloc.h); zeros where it is not there.
        static func heap() -> (Int, Int) {
            #if canImport(Glibc)
            typealias MallocInfo = @convention(c) (Int32, UnsafeMutablePointer<FILE>?) -> Int32
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_info") else { return (0, 0) }
            let mallocInfo = unsafeBitCast(symbol, to: MallocInfo.self)
            var buffer: UnsafeMutablePointer<CChar>?
            var length = 0
            guard let stream = open_memstream(&buffer, &length) else { return (0, 0) }
            _ = mallocInfo(0, stream)
            fclose(stream)
            defer { free(buffer) }
            guard let buffer else { return (0, 0) }
            let xml = String(cString: buffer)
            // The totals follow the last </heap>: free chunks ("fast", "rest"), mmapped blocks
            // ("mmap", all in use) and the arenas' size ("system" "current").
            guard let totals = xml.range(of: "</heap>", options: .backwards).map({ xml[$0.upperBound...] }) else { return (0, 0) }
            func size(_ tag: String) -> Int {
                guard let r = totals.range(of: tag), let s = totals[r.upperBound...].range(of: "size=\""),
                      let end = totals[s.upperBound...].firstIndex(of: "\"") else { return 0 }
                return Int(totals[s.upperBound..<end]) ?? 0
            }
            let held = size("<system type=\"current\"") + size("<total type=\"mmap\"")
            let free = size("<total type=\"fast\"") + size("<total type=\"rest\"")
            return (max(0, held - free) / 1024, held / 1024)
            #else
            return (0, 0)
            #endif
        }
    }

    /// Open file descriptors of this process (the listing's own descriptor not counted).
    static func openFiles() -> Int {
        max(0, ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.count ?? 1) - 1)
    }
}
