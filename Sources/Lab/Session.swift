import CausalPO
import Dispatch
import Foundation
import OutcomeData
import Synchronization

/// Runs one seed's experiment on its own thread through a `SeedRun` (the same driver as
/// `cpo-tui run`): prepares or resumes on start, then obeys commands, and publishes an
/// immutable snapshot under a lock after every change, so readers never wait for training
/// and never see a half-updated picture.
public final class LabSession: Sendable {
    public let config: LabConfig
    public let seed: UInt64
    /// Where the run is saved; a checkpoint already there for this seed is resumed.
    public let runDirectory: RunDirectory?
    /// Where a new preparation is looked up and stored (nil: prepared every time).
    public let cache: PreparationCache?
    private let state: Mutex<LabSnapshot>
    private let queue = Mutex<[LabCommand]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let cancelFlag = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let onEvent: (@Sendable (String) -> Void)?

    /// The worker thread's stack: 8 MB, as much as a main thread gets (a secondary thread's
    /// default is far smaller).
    private static let workerStackBytes = 8 << 20

    /// A session for `config` and `seed` (default: the config's seed). Nothing runs until `start`.
    /// With a `runDirectory`, the session goes on from the seed's checkpoint there if it has one,
    /// and saves after preparation, after every epoch and on `.save`. With a `cache`, a
    /// preparation made before is reused. `onEvent` gets every log line.
    public init(config: LabConfig, seed: UInt64? = nil, runDirectory: RunDirectory? = nil, cache: PreparationCache? = nil,
                onEvent: (@Sendable (String) -> Void)? = nil) {
        self.config = config
        self.seed = seed ?? config.seed
        self.onEvent = onEvent
        self.runDirectory = runDirectory
        self.cache = cache
        state = Mutex(LabSnapshot(config: config, seed: seed ?? config.seed, runDirectory: runDirectory?.path))
    }

    /// The latest picture (a copy; costs a lock and a few array retains).
    public func snapshot() -> LabSnapshot { state.withLock { $0 } }

    /// Queues a command for the worker. `.cancel` also stops a training epoch at its next step.
    public func send(_ command: LabCommand) {
        if command == .cancel { cancelFlag.store(true, ordering: .relaxed) }
        queue.withLock { $0.append(command) }
        wake.signal()
    }

    /// Starts the worker thread: preparation, then commands.
    public func start() {
        let t = Thread { [self] in self.work() }
        t.name = "cpo-tui lab"
        t.stackSize = Self.workerStackBytes
        t.start()
    }

    /// Blocks until the worker ends (after `cancel`, or a failure).
    public func waitUntilFinished() { finished.wait(); finished.signal() }

    private var cancelled: Bool { cancelFlag.load(ordering: .relaxed) }

    private func publish(_ change: (inout LabSnapshot) -> Void) {
        state.withLock { s in
            change(&s)
            s.version += 1
        }
    }

    private func log(_ message: String) {
        publish { $0.appendMessage(message) }
        onEvent?(message)
    }

    private func fail(_ message: String) {
        publish { $0.phase = .failed(message) }
        log("failed: \(message)")
    }

    // MARK: - the worker

    private func work() {
        defer { finished.signal() }
        let run: SeedRun
        do {
            run = try SeedRun.start(config: config, seed: seed, runDirectory: runDirectory, cache: cache,
                                    cancelled: { [self] in cancelled }, events: { [self] in show($0) })
        } catch {
            return fail(error.description)
        }
        publish { s in
            s.phase = .idle
            s.lastSave = run.lastSave
        }
        obeyCommands(run)
        publish { $0.phase = .finished }
    }

    /// Waits for commands and carries them out until `.cancel`. While running, one scheduled
    /// epoch at a time, with the commands that came meanwhile (a pause, a save) between epochs.
    private func obeyCommands(_ run: SeedRun) {
        var running = false
        while !cancelled {
            if !running { wake.wait() }
            if cancelled { break }
            let commands = queue.withLock { q -> [LabCommand] in defer { q.removeAll() }; return q }
            for c in commands where !cancelled { carryOut(c, run, running: &running) }
            if running && !cancelled { running = trainScheduledEpoch(run) }
            publish { $0.phase = running ? .running : .idle }
        }
    }

    private func carryOut(_ command: LabCommand, _ run: SeedRun, running: inout Bool) {
        switch command {
        case .run: running = true
        case .pause: running = false
        case .cancel: break
        case .stepEpoch(let m):
            for method in m.map({ [$0] }) ?? config.methods where !cancelled { run.trainEpoch(method) }
        case .writeReport(let dir): writeReport(run, to: dir)
        case .save:
            if run.save(.onRequest) == nil { log("this run is not saved (it was started with --no-save)") }
        case let .generate(m, prefix):
            let texts = run.generate(m, prefix: prefix)
            publish { $0.generations[m] = RequestedSamples(prefix: prefix, texts: texts) }
        }
    }

    /// The next epoch of the schedule; false when there is none left (or cancelling cut it short).
    private func trainScheduledEpoch(_ run: SeedRun) -> Bool {
        switch run.advance() {
        case .trained: return true
        case .cancelled: return false
        case .finished:
            log("every method has trained \(config.epochs) epochs")
            return false
        }
    }

    private func writeReport(_ run: SeedRun, to dir: String) {
        do {
            try ReportWriter(config: config, data: run.experiment.data, results: [SeedResult(run.experiment)]).write(to: dir)
            log("report written to \(dir)")
        } catch {
            log("report failed: \(error.description)")
        }
    }

    // MARK: - the driver's events, as snapshots

    private func show(_ event: RunEvent) {
        switch event {
        case .dataLoaded(let data):
            publish { $0.showData(data) }
        case .preparing(let p):
            publish { s in
                s.phase = .preparing(stage: p.stage, fraction: p.fraction, message: p.message)
                s.ftHistory = p.ftHistory
                s.ftSteps = p.ftSteps
            }
            if p.isMilestone { log(p.message) }
        case .ready(let exp):
            publish { $0.showPrepared(exp) }
        case .log(let line):
            log(line)
        case .epochStarted(let m):
            publish { s in
                s.setMethod(m) { $0.state = .training }
                if s.phase == .idle { s.phase = .running }
            }
        case let .step(m, record):
            publish { s in s.setMethod(m) { $0.steps.append(record) } }
        case let .epochEnded(method, metrics):
            publish { s in s.setMethod(method.method) { $0 = method } }
            if let e = metrics { log(Self.epochLine(e, method.method)) }
        case .saved(let status):
            publish { $0.lastSave = status }
            if !status.succeeded { log("save failed: \(status.message)") }
        }
    }

    /// "CPO epoch 2: V_DR 55.850, true value 54.160": the Messages panel's line per epoch.
    static func epochLine(_ e: EpochMetrics, _ m: Method) -> String {
        var line = "\(m.rawValue) epoch \(e.epoch): V_DR \(String(format: "%.3f", e.estimates[.dr].value))"
        if let t = e.trueValue { line += String(format: ", true value %.3f", t.value) }
        return line
    }
}
