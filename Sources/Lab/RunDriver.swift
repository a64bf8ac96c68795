import CausalPO
import CPOSupport
import Foundation
import OutcomeData

/// Preparation progress, as `SeedRun` reports it.
public struct PrepProgress: Sendable, Hashable {
    public var stage: PrepStage
    /// How far the stage is, in [0, 1].
    public var fraction: Double
    public var message: String
    /// Worth a line of its own in a log: each stage's start and FT's epochs (not FT's steps).
    public var isMilestone: Bool
    /// FT's epochs, once FT has trained (empty before).
    public var ftHistory: [FTEpoch]
    /// FT's training steps so far (live while FT trains; the arrays are shared, not copied).
    public var ftSteps: [StepRecord] = []
}

/// What a `SeedRun` reports while it works, in order, on the thread that drives it. The
/// headless printer and the session's snapshot publisher each consume these.
public enum RunEvent {
    /// The rows are loaded (for a new run and for a resumed one).
    case dataLoaded(PreparedData)
    /// Preparation under way (a new run only).
    case preparing(PrepProgress)
    /// Prepared, or resumed: every method stands at its counters. Comes before the save after
    /// preparation.
    case ready(Experiment)
    /// A line for the user (resumed from where; a method failed). Seed-free: a printer of
    /// several seeds adds which.
    case log(String)
    /// `method` starts an epoch.
    case epochStarted(Method)
    /// One training step of `method`.
    case step(Method, StepRecord)
    /// An epoch ended: the method as it now stands, and its evaluation (nil when cancelling cut
    /// the epoch short; such an epoch is neither evaluated nor saved).
    case epochEnded(MethodSnapshot, EpochMetrics?)
    /// A save was written, or failed (training goes on; the last complete save is untouched).
    case saved(SaveStatus)
}

/// Why a seed's run could not start: its configuration or data, the preparation (cancelled
/// among it), or the saved run it was to continue. The description says what to do.
public enum RunStartError: Error, CustomStringConvertible, Equatable {
    case lab(LabError)
    case store(RunStoreError)

    public var description: String {
        switch self {
        case .lab(let e): return e.description
        case .store(let e): return e.description
        }
    }
}

/// Why a run is saved; the save's message says it ("saved after CPO epoch 2 (...)").
public enum SaveReason: Sendable, Hashable, CustomStringConvertible {
    case afterPreparation
    case afterEpoch(Method, Int)
    case onRequest

    public var description: String {
        switch self {
        case .afterPreparation: return "after preparation"
        case let .afterEpoch(m, epoch): return "after \(m.rawValue) epoch \(epoch)"
        case .onRequest: return "on request"
        }
    }
}

/// What `SeedRun.advance()` did.
public enum Advance: Sendable, Hashable {
    /// Trained and evaluated one epoch of this method (and saved the run).
    case trained(Method)
    /// Every method has trained `config.epochs` epochs, or failed.
    case finished
    /// Cancelling cut the epoch short: the run is mid-epoch and must not be saved.
    case cancelled
}

/// The one run driver: one seed's experiment from start to end, for `cpo-tui run` and for the
/// dashboard's session alike, so that both train in the same order, save at the same moments
/// with the same messages, and produce the same metrics.
///
/// - Start: resume from the seed's checkpoint in the run directory if there is one, else
///   load the rows, prepare (tokenizer, FT, ĝ, f0 samples, FT's evaluation) and save.
/// - Schedule (`advance`): the next epoch goes to the method with the fewest epochs among
///   those below `config.epochs` that have not failed, ties in the configuration's order: a
///   new run trains epoch 1 of every method, then epoch 2, ...; a resumed run whose methods
///   stand at different epochs first brings the laggards up. The order changes no number
///   (every method's randomness is derived from the seed, its name and its epoch), so a run
///   interrupted anywhere and resumed equals one that never stopped, bit for bit.
/// - Saves: after preparation and after every completed epoch (and on request), each as
///   the checkpoint and metrics.jsonl. A resumed run is not saved until it changes: the
///   checkpoint just loaded is the state.
///
/// Used from one thread at a time; events are delivered on it, synchronously.
public final class SeedRun {
    private static let bytesPerMB = 1_048_576.0

    public let experiment: Experiment
    public let runDirectory: RunDirectory?
    /// The latest save (or, resumed and not yet saved again, when the run on disk was saved).
    public private(set) var lastSave: SaveStatus?
    /// `generate` requests so far: the next one's seed; saved with the run.
    public private(set) var generationRequests: Int
    private let earlierSeeds: [SeedResult]
    private let cancelled: () -> Bool
    private let events: (RunEvent) -> Void

    private init(experiment: Experiment, runDirectory: RunDirectory?, earlierSeeds: [SeedResult],
                 cancelled: @escaping () -> Bool, events: @escaping (RunEvent) -> Void) {
        self.experiment = experiment
        self.runDirectory = runDirectory
        self.earlierSeeds = earlierSeeds
        self.cancelled = cancelled
        self.events = events
        generationRequests = 0
    }

    public var config: LabConfig { experiment.config }
    public var seed: UInt64 { experiment.seed }

    /// Resumes `seed` from its checkpoint in `runDirectory`, or prepares it afresh (or takes
    /// its preparation from `cache`, storing it there after preparing) and saves. The cache
    /// entry is held (`Entry.claim`) from its lookup to its store: a process preparing the
    /// same entry meanwhile is waited for, and its preparation loaded.
    /// `earlierSeeds` (a run of several seeds) go into metrics.jsonl before this one's lines.
    /// `cancelled` is polled between training steps; preparation cut short throws.
    public static func start(config: LabConfig, seed: UInt64, runDirectory: RunDirectory?, earlierSeeds: [SeedResult] = [],
                             cache: PreparationCache? = nil, cancelled: @escaping () -> Bool = { false },
                             events: @escaping (RunEvent) -> Void) throws(RunStartError) -> SeedRun {
        if let dir = runDirectory, dir.hasCheckpoint(seed: seed) {
            let restored: (Experiment, info: CheckpointInfo)
            do { restored = try dir.restore(seed: seed, config: config) } catch { throw .store(error) }
            let run = SeedRun(experiment: restored.0, runDirectory: dir, earlierSeeds: earlierSeeds, cancelled: cancelled, events: events)
            run.resumed(restored.info)
            return run
        }
        let exp: Experiment
        do { exp = try Experiment(config: config, seed: seed) } catch { throw .lab(error) }
        let entry = cache?.entry(for: exp)
        var claimed: FileLock?
        defer { claimed?.release() }
        if let entry {
            switch entry.claim(cancelled: cancelled, waiting: { message, first in
                events(.preparing(PrepProgress(stage: .data, fraction: 0, message: message, isMilestone: first, ftHistory: [])))
            }) {
            case .held(let lock): claimed = lock
            case .unlocked(let n): if let n { events(.log(n)) }
            case .cancelled: throw .lab(.failed("cancelled"))
            }
        }
        var note: String?
        if let entry {
            switch entry.lookup(for: exp) {
            case .hit(let hit):
                let run = SeedRun(experiment: hit.experiment, runDirectory: runDirectory, earlierSeeds: earlierSeeds,
                                  cancelled: cancelled, events: events)
                run.loadedFromCache(hit, entry: entry)
                return run
            case .miss(let n):
                note = n
            }
        }
        let run = SeedRun(experiment: exp, runDirectory: runDirectory, earlierSeeds: earlierSeeds, cancelled: cancelled, events: events)
        try run.prepare(cacheNote: note, cacheEntry: entry)
        return run
    }

    /// A preparation taken from the cache: the same events as `prepare`'s, its milestones
    /// replaced by what FT did and where the preparation came from.
    private func loadedFromCache(_ hit: PreparationCache.Hit, entry: PreparationCache.Entry) {
        events(.dataLoaded(experiment.data))
        warn(experiment.data.warnings)
        var lines: [(PrepStage, String)] = []
        if let fit = experiment.fit { lines.append((.tokenizer, fit.summary)) }
        lines.append((.ft, FineTuning.outcome(experiment.ftHistory, config: config)))
        lines.append((.ready, String(format: "preparation loaded from the cache (%@, %.2f s): %@",
                                     BoundedFile.describeSize(hit.bytes), hit.seconds, entry.path)))
        for (stage, message) in lines {
            events(.preparing(PrepProgress(stage: stage, fraction: 1, message: message, isMilestone: true,
                                           ftHistory: experiment.ftHistory, ftSteps: experiment.ftSteps)))
        }
        warn(experiment.fit?.warnings ?? [])
        events(.ready(experiment))
        save(.afterPreparation)
    }

    private func resumed(_ info: CheckpointInfo) {
        generationRequests = info.generations
        let path = runDirectory.map { $0.checkpointPath(seed: seed) } ?? ""
        events(.dataLoaded(experiment.data))
        warn(experiment.warnings)
        events(.log("resumed from \(path) at epochs: \(experiment.epochSummary())"))
        // Until the next save, the last save is the one on disk.
        lastSave = SaveStatus(succeeded: true, message: "resumed from \(path)",
                              time: ISO8601DateFormatter().date(from: info.savedAt) ?? Date())
        events(.ready(experiment))
    }

    private func prepare(cacheNote: String?, cacheEntry: PreparationCache.Entry?) throws(RunStartError) {
        events(.dataLoaded(experiment.data))
        warn(experiment.data.warnings)
        if let cacheNote { events(.log(cacheNote)) }
        do {
            try experiment.prepare(progress: { stage, fraction, message in
                self.events(.preparing(PrepProgress(
                    stage: stage, fraction: fraction, message: message,
                    isMilestone: stage != .ft || message.hasPrefix("FT epoch"), ftHistory: self.experiment.ftHistory,
                    ftSteps: self.experiment.ftSteps)))
            }, cancelled: cancelled)
        } catch {
            throw .lab(error)
        }
        if let note = cacheEntry?.store(experiment) { events(.log(note)) }
        warn(experiment.fit?.warnings ?? [])
        events(.ready(experiment))
        save(.afterPreparation)
    }

    /// Each warning as a log line of its own, marked so it stands out among the others.
    private func warn(_ warnings: [String]) {
        for w in warnings { events(.log("WARNING: " + w)) }
    }

    // MARK: - the schedule

    /// The method whose epoch is next when running to the end (see the type's documentation);
    /// nil when every method has trained `config.epochs` epochs or failed.
    public var nextScheduledMethod: Method? {
        let behind = config.methods.filter { $0.trains && experiment.epochs(of: $0) < config.epochs && experiment.failure(of: $0) == nil }
        return behind.min { experiment.epochs(of: $0) < experiment.epochs(of: $1) }
    }

    /// Trains the next scheduled epoch.
    public func advance() -> Advance {
        guard let m = nextScheduledMethod else { return .finished }
        return trainEpoch(m) == nil ? .cancelled : .trained(m)
    }

    /// Trains every scheduled epoch; false when cancelling cut one short.
    public func runToEnd() -> Bool {
        while true {
            switch advance() {
            case .trained: continue
            case .finished: return true
            case .cancelled: return false
            }
        }
    }

    /// Trains `method` one more epoch (beyond `config.epochs` too: the dashboard's step keys),
    /// evaluates it and saves the run. Returns the evaluation, or nil when cancelling cut the
    /// epoch short (or `method` is the reference, FT, which does not train).
    @discardableResult
    public func trainEpoch(_ method: Method) -> EpochMetrics? {
        guard method.trains, config.methods.contains(method) else { return nil }
        let failedBefore = experiment.failure(of: method) != nil
        events(.epochStarted(method))
        let metrics = experiment.step(method, onStep: { self.events(.step(method, $0)) }, cancelled: cancelled)
        events(.epochEnded(experiment.snapshot(of: method), metrics))
        if !failedBefore, let f = experiment.failure(of: method) {
            events(.log("\(method.rawValue) FAILED in epoch \(experiment.epochs(of: method)): \(f); the other methods go on"))
        }
        if metrics != nil { save(.afterEpoch(method, experiment.epochs(of: method))) }
        return metrics
    }

    // MARK: - saving and sampling

    /// Saves the run's checkpoint and metrics.jsonl (nothing without a run directory) and
    /// reports how it went. A failure is reported, not thrown: training goes on in memory.
    @discardableResult
    public func save(_ reason: SaveReason) -> SaveStatus? {
        guard let dir = runDirectory else { return nil }
        let t0 = Date()
        let status: SaveStatus
        do {
            let bytes = try dir.save(experiment, generations: generationRequests,
                                     metrics: earlierSeeds + [SeedResult(experiment, heldOutRows: false)])
            status = SaveStatus(succeeded: true, message: String(
                format: "saved %@ (%.1f MB, %.2f s)", reason.description, Double(bytes) / Self.bytesPerMB, Date().timeIntervalSince(t0)))
        } catch {
            status = SaveStatus(succeeded: false, message: error.description)
        }
        lastSave = status
        events(.saved(status))
        return status
    }

    /// `Experiment.shownSamples` fresh samples from `method`'s current model, continuing `prefix`;
    /// each request draws with its own seed (the request count, saved with the run).
    public func generate(_ method: Method, prefix: String) -> [GeneratedText] {
        generationRequests += 1
        return experiment.generate(method, prefix: prefix, count: Experiment.shownSamples, seed: UInt64(generationRequests))
    }
}

extension Experiment {
    /// One method as it stands, for a snapshot.
    func snapshot(of m: Method) -> MethodSnapshot {
        MethodSnapshot(method: m, state: failure(of: m).map { .failed($0) } ?? .idle, epoch: epochs(of: m),
                       steps: steps[m] ?? [], epochs: metrics[m] ?? [], skippedSteps: skippedSteps(of: m),
                       lastEpochLogWeights: lastEpochLogWeights(of: m), evaluationTexts: evaluationTexts[m] ?? [])
    }

    /// "CPO 2, DR-CPO 1 (failed)": the epochs each trained method stands at.
    public func epochSummary() -> String {
        config.methods.filter(\.trains).map { m in
            "\(m.rawValue) \(epochs(of: m))" + (failure(of: m) != nil ? " (failed)" : "")
        }.joined(separator: ", ")
    }
}
