import CausalPO
import Dispatch
import Foundation
import OutcomeData
import Synchronization

/// What a method is doing.
public enum MethodState: Sendable, Hashable {
    case waiting, training, evaluating, idle
    case failed(String)
}

/// One method's part of a snapshot.
public struct MethodSnapshot: Sendable {
    public var method: Method
    public var state: MethodState
    public var epoch: Int
    public var steps: [StepRecord]
    /// Evaluations, epoch 0 (FT) first.
    public var epochs: [EpochMetrics]
    public var skippedSteps: Int
    /// Log importance weights (relative to uniform) of the last training epoch's batches.
    public var lastEpochLogWeights: [Double]
}

/// Where the session is.
public enum LabPhase: Sendable, Hashable {
    case preparing(stage: PrepStage, fraction: Double, message: String)
    /// Ready; waiting for a command.
    case idle
    /// Running epochs until paused or every method reached the configured epochs.
    case running
    case finished
    case failed(String)
}

/// An immutable picture of a session, safe to hand to any thread (the dashboard draws it).
public struct LabSnapshot: Sendable {
    public var config: LabConfig
    public var seed: UInt64
    public var phase: LabPhase
    /// Increases with every change, so a reader can skip redrawing an unchanged picture.
    public var version: Int
    public var messages: [String]
    public var sourceLabel: String
    public var trainRows: Int
    public var evalRows: Int
    public var worldName: String?
    public var attributeNames: [String]
    public var vStar: Double?
    public var ghatQuality: OutcomeModelQuality?
    public var ghatQualityVersusOutcomes: OutcomeModelQuality?
    public var attributeEffects: [AttributeEffect]
    public var traitImbalance: [Double]
    public var ftHistory: [FTEpoch]
    /// The training rows' outcomes (oriented), for the data view's histogram.
    public var trainOutcomes: [Double]
    public var outcomeKind: String
    public var split: DataSplit.Record?
    /// The first training rows (at most `DataCorrelations.previewRows`), for the data view's list.
    public var dataPreview: [OutcomeRow] = []
    /// Attribute, trait and outcome correlations over every training row.
    public var dataCorrelations: DataCorrelations?
    /// Where the run is saved (nil: not saved), and how the last save went.
    public var runDirectory: String?
    public var lastSave: SaveStatus?
    public var methods: [MethodSnapshot]
    /// Samples drawn on request (`LabCommand.generate`), the latest per method, with the prefix used.
    public var generations: [Method: (prefix: String, texts: [GeneratedText])]

    public func method(_ m: Method) -> MethodSnapshot? { methods.first { $0.method == m } }
}

/// The outcome of the latest save of a run (after an epoch, or on request).
public struct SaveStatus: Sendable, Hashable {
    /// False when the save failed; the training state in memory is kept, and the previous
    /// complete save on disk is untouched.
    public var succeeded: Bool
    /// "saved after CPO epoch 2 (0.12 s)" or the error, naming the file and what to do.
    public var message: String
    public var time: Date

    public init(succeeded: Bool, message: String, time: Date = Date()) {
        self.succeeded = succeeded
        self.message = message
        self.time = time
    }
}

/// Commands a session accepts from any thread.
public enum LabCommand: Sendable, Hashable {
    /// Train one epoch of one method (nil: every method), then evaluate.
    case stepEpoch(Method?)
    /// Keep training every method, epoch by epoch, until `config.epochs` or a pause.
    case run
    /// Stop after the epoch under way.
    case pause
    /// Stop as soon as possible; the session ends.
    case cancel
    /// Draw fresh samples from a method's current model, continuing `prefix`.
    case generate(Method, prefix: String)
    /// Write the report files (as `cpo-tui run --report`) for this seed into a directory.
    case writeReport(String)
    /// Save the run into its run directory now (it is also saved after every epoch).
    case save
}

/// Runs one seed's experiment on its own thread: prepares on start, then obeys commands, and
/// publishes an immutable snapshot under a lock after every step, so readers never wait for
/// training and never see a half-updated picture.
public final class LabSession: Sendable {
    public let config: LabConfig
    public let seed: UInt64
    private let state: Mutex<LabSnapshot>
    private let queue = Mutex<[LabCommand]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let cancelFlag = Atomic<Bool>(false)
    private let pauseFlag = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let generationRequests = Atomic<Int>(0)
    private let onEvent: (@Sendable (String) -> Void)?
    /// Where the run is saved; a checkpoint already there for this seed is resumed.
    public let runDirectory: RunDirectory?

    /// A session for `config` and `seed` (default: the config's seed). Nothing runs until `start`.
    /// With a `runDirectory`, the session goes on from the seed's checkpoint there if it has one,
    /// and saves after preparation, after every epoch and on `.save`.
    public init(config: LabConfig, seed: UInt64? = nil, runDirectory: RunDirectory? = nil,
                onEvent: (@Sendable (String) -> Void)? = nil) {
        self.config = config
        self.seed = seed ?? config.seed
        self.onEvent = onEvent
        self.runDirectory = runDirectory
        state = Mutex(LabSnapshot(
            config: config, seed: seed ?? config.seed, phase: .preparing(stage: .data, fraction: 0, message: "starting"),
            version: 0, messages: [], sourceLabel: "", trainRows: 0, evalRows: 0, worldName: nil, attributeNames: [],
            vStar: nil, ghatQuality: nil, ghatQualityVersusOutcomes: nil, attributeEffects: [], traitImbalance: [],
            ftHistory: [], trainOutcomes: [], outcomeKind: "", split: nil, dataPreview: [], dataCorrelations: nil, runDirectory: runDirectory?.path, lastSave: nil, methods: config.methods.map {
                MethodSnapshot(method: $0, state: .waiting, epoch: 0, steps: [], epochs: [], skippedSteps: 0, lastEpochLogWeights: [])
            }, generations: [:]))
    }

    /// The latest picture (a copy; costs a lock and a few array retains).
    public func snapshot() -> LabSnapshot { state.withLock { $0 } }

    /// Queues a command for the worker.
    public func send(_ command: LabCommand) {
        switch command {
        case .cancel: cancelFlag.store(true, ordering: .relaxed)
        case .pause: pauseFlag.store(true, ordering: .relaxed)
        default: break
        }
        queue.withLock { $0.append(command) }
        wake.signal()
    }

    /// Starts the worker thread: preparation, then commands.
    public func start() {
        let t = Thread { [self] in self.work() }
        t.name = "cpo-tui lab"
        t.stackSize = 8 << 20
        t.start()
    }

    /// Blocks until the worker ends (after `cancel`, or a failure).
    public func waitUntilFinished() { finished.wait(); finished.signal() }

    private func publish(_ change: (inout LabSnapshot) -> Void) {
        state.withLock { s in
            change(&s)
            s.version += 1
        }
    }

    private func log(_ message: String) {
        publish { s in
            s.messages.append(message)
            if s.messages.count > 200 { s.messages.removeFirst(s.messages.count - 200) }
        }
        onEvent?(message)
    }

    private func work() {
        defer { finished.signal() }
        let cancelled = { self.cancelFlag.load(ordering: .relaxed) }
        let exp: Experiment
        do {
            if let dir = runDirectory, dir.hasCheckpoint(seed: seed) {
                let (restored, info) = try dir.restore(seed: seed, config: config)
                exp = restored
                generationRequests.store(info.generations, ordering: .relaxed)
                publishData(exp)
                let epochs = config.methods.filter(\.trains).map { "\($0.rawValue) \(exp.epochs(of: $0))" }.joined(separator: ", ")
                log("resumed from \(dir.path) (epochs: \(epochs))")
                // The header shows when the run on disk was saved, until the next save.
                let saved = ISO8601DateFormatter().date(from: info.savedAt)
                publish { $0.lastSave = SaveStatus(succeeded: true, message: "resumed from \(dir.path)", time: saved ?? Date()) }
            } else {
                exp = try Experiment(config: config, seed: seed)
                publishData(exp)
                try exp.prepare(progress: { stage, fraction, message in
                    self.publish { s in
                        s.phase = .preparing(stage: stage, fraction: fraction, message: message)
                        s.ftHistory = exp.ftHistory
                    }
                    if stage != .ft || message.hasPrefix("FT epoch") { self.log(message) }
                }, cancelled: cancelled)
                save(exp, "after preparation")
            }
        } catch let error as LabError {
            return fail(error.description)
        } catch let error as RunStoreError {
            return fail(error.description)
        } catch {
            return fail("\(error)")
        }
        publish { s in
            s.phase = .idle
            s.ghatQuality = exp.ghatQuality
            s.ghatQualityVersusOutcomes = exp.ghatQualityVersusOutcomes
            s.attributeEffects = exp.attributeEffects
            s.traitImbalance = exp.traitImbalance
            s.ftHistory = exp.ftHistory
            for i in s.methods.indices {
                let m = s.methods[i].method
                s.methods[i].epoch = exp.epochs(of: m)
                s.methods[i].epochs = exp.metrics[m] ?? []
                s.methods[i].steps = exp.steps[m] ?? []
                s.methods[i].skippedSteps = exp.skippedSteps(of: m)
                s.methods[i].lastEpochLogWeights = exp.lastEpochLogWeights(of: m)
                s.methods[i].state = exp.failure(of: m).map { .failed($0) } ?? .idle
            }
        }
        var running = false
        while !cancelled() {
            if !running { wake.wait() }
            if cancelled() { break }
            let commands = queue.withLock { q -> [LabCommand] in defer { q.removeAll() }; return q }
            for c in commands {
                switch c {
                case .run:
                    running = true
                    pauseFlag.store(false, ordering: .relaxed)
                case .pause:
                    running = false
                    pauseFlag.store(false, ordering: .relaxed)
                case .stepEpoch(let m):
                    // The reference (FT) every method starts from does not train.
                    for method in m.map({ [$0] }) ?? config.methods where method.trains && !cancelled() {
                        trainEpoch(exp, method, cancelled: cancelled)
                    }
                case .cancel:
                    break
                case .writeReport(let dir):
                    do {
                        try ReportWriter(config: config, data: exp.data, results: [SeedResult(exp)]).write(to: dir)
                        log("report written to \(dir)")
                    } catch {
                        log("report failed: \(error.description)")
                    }
                case .save:
                    if runDirectory == nil {
                        log("this run is not saved (it was started with --no-save)")
                    } else {
                        save(exp, "on request")
                    }
                case let .generate(m, prefix):
                    let count = generationRequests.add(1, ordering: .relaxed).newValue
                    let texts = exp.generate(m, prefix: prefix, count: Experiment.shownSamples, seed: UInt64(count))
                    publish { $0.generations[m] = (prefix, texts) }
                }
            }
            if running {
                let behind = config.methods.filter { $0.trains && exp.epochs(of: $0) < config.epochs && exp.failure(of: $0) == nil }
                if behind.isEmpty {
                    running = false
                    log("every method has trained \(config.epochs) epochs")
                } else {
                    for m in behind where !cancelled() && !pauseFlag.load(ordering: .relaxed) { trainEpoch(exp, m, cancelled: cancelled) }
                    if pauseFlag.load(ordering: .relaxed) { running = false; pauseFlag.store(false, ordering: .relaxed) }
                }
            }
            publish { $0.phase = running ? .running : .idle }
        }
        publish { $0.phase = .finished }
    }

    private func fail(_ message: String) {
        publish { $0.phase = .failed(message) }
        log("failed: \(message)")
    }

    /// What the data view shows, known once the rows are loaded.
    private func publishData(_ exp: Experiment) {
        publish { s in
            s.sourceLabel = exp.data.sourceLabel
            s.trainRows = exp.data.train.count
            s.evalRows = exp.data.eval.count
            s.worldName = exp.data.world?.name
            s.attributeNames = exp.data.attributeNames
            s.vStar = exp.data.world?.bestValue
            s.trainOutcomes = exp.data.train.map(\.outcome)
            s.outcomeKind = exp.data.outcomeKind.rawValue
            s.split = exp.data.split
            s.dataPreview = Array(exp.data.train.prefix(DataCorrelations.previewRows))
            s.dataCorrelations = DataCorrelations.of(exp.data.train, attributeNames: exp.data.attributeNames)
        }
    }

    /// Saves the run (when it has a directory); a failure is shown and training goes on.
    private func save(_ exp: Experiment, _ reason: String) {
        guard let dir = runDirectory else { return }
        let t0 = Date()
        do {
            let bytes = try dir.save(exp, generations: generationRequests.load(ordering: .relaxed))
            try dir.writeMetrics(config: config, data: exp.data, results: [SeedResult(exp, heldOutRows: false)])
            let message = String(format: "saved %@ (%.1f MB, %.2f s)", reason, Double(bytes) / 1_048_576, Date().timeIntervalSince(t0))
            publish { $0.lastSave = SaveStatus(succeeded: true, message: message) }
        } catch {
            publish { $0.lastSave = SaveStatus(succeeded: false, message: error.description) }
            log("save failed: \(error.description)")
        }
    }

    private func trainEpoch(_ exp: Experiment, _ m: Method, cancelled: () -> Bool) {
        guard let idx = config.methods.firstIndex(of: m) else { return }
        let failedBefore = exp.failure(of: m) != nil
        publish { s in
            s.methods[idx].state = .training
            if s.phase == .idle { s.phase = .running }
        }
        let metrics = exp.step(m, onStep: { rec in
            self.publish { s in s.methods[idx].steps.append(rec) }
        }, cancelled: cancelled)
        publish { s in
            s.methods[idx].epoch = exp.epochs(of: m)
            s.methods[idx].epochs = exp.metrics[m] ?? []
            s.methods[idx].skippedSteps = exp.skippedSteps(of: m)
            s.methods[idx].lastEpochLogWeights = exp.lastEpochLogWeights(of: m)
            s.methods[idx].state = exp.failure(of: m).map { .failed($0) } ?? .idle
        }
        if let e = metrics {
            var line = "\(m.rawValue) epoch \(e.epoch): V_DR \(String(format: "%.3f", e.estimates[.dr].value))"
            if let t = e.trueValue { line += String(format: ", true value %.3f", t.value) }
            log(line)
        }
        if !failedBefore, let f = exp.failure(of: m) { log("\(m.rawValue) FAILED in epoch \(exp.epochs(of: m)): \(f); the other methods go on") }
        // A completed epoch is saved; one cut short by cancel is not (the session is ending).
        if metrics != nil { save(exp, "after \(m.rawValue) epoch \(exp.epochs(of: m))") }
    }
}
