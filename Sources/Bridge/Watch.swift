import CausalPO
import CPOSupport
import Foundation
import Lab
import OutcomeData

/// `cpo-tui watch`: what a run directory another program writes says so far, as the
/// dashboard's `LabSnapshot`. Fed the bytes of metrics.jsonl in chunks as they arrive
/// (BRIDGE-SPEC section 3): `run`, `ft_epoch`, `step` and `epoch` lines of one seed; unknown
/// types and keys are ignored, a line that is not JSON is skipped with a message, and the state
/// only ever grows, so a half-written file never loses what was shown. An epoch line that names
/// `rows` (and `f0`) files gets its estimates computed from them with the lab's own code
/// (`RowsEstimate`); the lab's own epoch lines carry their estimates and are decoded as they are.
/// Pure: files are read through `load`, so tests feed it bytes.
public struct WatchModel: Sendable {
    /// Reads a file named in an epoch line (a path already resolved against the directory).
    public typealias Loader = @Sendable (String) throws(InputError) -> [UInt8]

    public let directory: String
    public let load: Loader
    /// Whether metrics.jsonl has been found (until then the view says it is waiting for it).
    public var metricsFound = false
    /// The run is over (a Swift report directory, whose summary.json is written last).
    public var finished = false
    /// Increases with every change (the dashboard redraws on it).
    public private(set) var version = 0

    private var splitter = JSONLinesSplitter()
    private var seed: UInt64?
    private var otherSeeds: Set<UInt64> = []
    private var ignoredMethods: Set<String> = []
    private var sourceLabel = ""
    private var batchSize = LabConfig().batchSize
    private var normalization: WeightNormalization = .hajek
    /// What the run line's configuration says of P^R, ĝ and the design (the data view shows it).
    private var propensity: PropensitySource?
    private var ghatFrom: GhatSource?
    private var design: WorldDesign?
    private var ftHistory: [FTEpoch] = []
    /// FT's step lines: the snapshot's `ftSteps`, as the lab shows FT's training steps.
    private var ftSteps: [StepRecord] = []
    private var steps: [Method: [StepRecord]] = [:]
    private var epochs: [Method: [EpochMetrics]] = [:]
    /// Epoch lines whose rows/f0 files could not be read yet (retried on every poll), with
    /// the last problem reported for each.
    private var pending: [(line: Int, bytes: [UInt8], problem: String)] = []
    /// Evaluations read from rows files before FT had any: their sensitivity analyses were
    /// measured against P^R's own value and are measured again against FT's once FT's arrives.
    private var awaitingFT: [(method: Method, epoch: Int, inputs: EstimatorInputs)] = []
    private var messages: [String] = []

    /// `seed`: the seed to show (nil: the first one in the file).
    public init(directory: String, seed: UInt64? = nil, load: @escaping Loader = WatchModel.readFile) {
        self.directory = directory
        self.seed = seed
        self.load = load
    }

    /// Reads a rows or f0 file, read-only, within the rows files' size limit.
    public static let readFile: Loader = { path throws(InputError) in
        try DatasetLoader.readFile(path, maxBytes: NumericTable.maxFileBytes)
    }

    public static let metricsFile = "metrics.jsonl"

    /// `name` from an epoch line, relative to the run directory unless absolute.
    public func resolve(_ name: String) -> String {
        name.hasPrefix("/") ? name : (directory as NSString).appendingPathComponent(name)
    }

    // MARK: input

    /// The next bytes of metrics.jsonl; returns whether anything shown changed.
    @discardableResult
    public mutating func ingest(_ chunk: some Collection<UInt8>) -> Bool {
        let before = version
        if !metricsFound {
            metricsFound = true
            version += 1
        }
        for line in splitter.feed(chunk) { handle(line) }
        return version != before
    }

    /// Tries again the epoch lines whose files could not be read; returns whether any now could.
    @discardableResult
    public mutating func retryPending() -> Bool {
        guard !pending.isEmpty else { return false }
        let before = version
        let waiting = pending
        pending = []
        for p in waiting {
            let (object, _) = JSONLinesSplitter.parse(p.bytes)
            if let object { epochLine(object, number: p.line, bytes: p.bytes, previousProblem: p.problem) }
        }
        return version != before
    }

    /// Bytes of an incomplete last line waiting for the rest.
    public var pendingBytes: Int { splitter.pendingByteCount }

    /// Epoch lines still waiting for their files.
    public var waitingEpochs: Int { pending.count }

    private mutating func note(_ message: String) {
        messages.append(message)
        if messages.count > LabSnapshot.messageLimit { messages.removeFirst(messages.count - LabSnapshot.messageLimit) }
        version += 1
    }

    private var fileName: String { (directory as NSString).appendingPathComponent(Self.metricsFile) }

    private mutating func handle(_ line: JSONLinesSplitter.Line) {
        guard let o = line.object else {
            note("\(fileName):\(line.number): \(line.problem ?? "unreadable"); line skipped")
            return
        }
        guard let type = o["type"] as? String else { return }
        if type == "run" {
            runLine(o)
            return
        }
        guard ["ft_epoch", "step", "epoch"].contains(type), acceptSeed(o) else { return }
        switch type {
        case "ft_epoch": ftEpochLine(o)
        case "step": stepLine(o, number: line.number)
        default: epochLine(o, number: line.number, bytes: line.bytes, previousProblem: nil)
        }
    }

    /// Shows the first seed met; lines of others are left out (said once per seed).
    private mutating func acceptSeed(_ o: [String: Any]) -> Bool {
        let s = UInt64(max(0, JSONValue.int(o["seed"]) ?? 0))
        guard let shown = seed else {
            seed = s
            version += 1
            return true
        }
        if s == shown { return true }
        if otherSeeds.insert(s).inserted { note("seed \(s) is in the file too; watch shows seed \(shown) (--seed chooses)") }
        return false
    }

    private mutating func method(_ o: [String: Any]) -> Method? {
        let name = (o["method_name"] as? String) ?? (o["method"] as? String) ?? ""
        if let m = Method(rawValue: name) { return m }
        if ignoredMethods.insert(name).inserted { note("method '\(name)' is not one cpo-tui knows; its lines are left out") }
        return nil
    }

    private mutating func runLine(_ o: [String: Any]) {
        let engine = o["engine"] as? String ?? "external trainer"
        var label = engine
        if let model = o["model"] as? String { label += " " + model }
        if let n = JSONValue.int(o["num_processes"]) { label += " (\(n) process\(n == 1 ? "" : "es"))" }
        sourceLabel = label
        if let config = o["config"] as? [String: Any] {
            if let b = JSONValue.int(config["batch_size"]), b > 0 { batchSize = b }
            let objective = config["objective"] as? [String: Any]
            if let n = (objective?["normalization"] ?? config["normalization"]) as? String, let w = WeightNormalization(rawValue: n) {
                normalization = w
            }
            propensity = (config["propensity"] as? String).flatMap(PropensitySource.init(rawValue:))
            ghatFrom = ((config["ghat"] as? [String: Any])?["from"] as? String).flatMap(GhatSource.init(rawValue:))
            design = (config["design"] as? String).flatMap(WorldDesign.init(rawValue:))
        }
        note("run: \(label)")
    }

    private mutating func ftEpochLine(_ o: [String: Any]) {
        let e = FTEpoch(epoch: JSONValue.int(o["epoch"]) ?? ftHistory.count + 1, trainLoss: JSONValue.double(o["trainLoss"]) ?? .nan,
                        evalLoss: JSONValue.double(o["evalLoss"]) ?? .nan, seconds: JSONValue.double(o["seconds"]) ?? 0)
        ftHistory.removeAll { $0.epoch == e.epoch }
        ftHistory.append(e)
        ftHistory.sort { $0.epoch < $1.epoch }
        version += 1
    }

    private mutating func stepLine(_ o: [String: Any], number: Int) {
        guard let m = method(o) else { return }
        guard let loss = JSONValue.double(o["loss"]) else {
            note("\(fileName):\(number): step line without a numeric 'loss'; line skipped")
            return
        }
        let earlier = m == .reference ? ftSteps : steps[m] ?? []
        let record = StepRecord(
            step: JSONValue.int(o["step"]) ?? earlier.count + 1, epoch: JSONValue.int(o["epoch"]) ?? 0, loss: loss,
            batchESSFraction: JSONValue.double(o["batchESSFraction"]), clippedShare: JSONValue.double(o["clippedShare"]) ?? 0,
            gradNorm: JSONValue.double(o["gradNorm"]) ?? .nan, skipped: JSONValue.bool(o["skipped"]) ?? false,
            klOwnSamples: JSONValue.double(o["klOwnSamples"]), klCoefficient: JSONValue.double(o["klCoefficient"]))
        if m == .reference { ftSteps.append(record) } else { steps[m, default: []].append(record) }
        version += 1
    }

    private mutating func epochLine(_ o: [String: Any], number: Int, bytes: [UInt8], previousProblem: String?) {
        guard let m = method(o) else { return }
        let metrics: EpochMetrics
        if let rows = o["rows"] as? String {
            do {
                let read = try fromFiles(o, method: m, rows: rows)
                metrics = read.metrics
                if m != .ft && !read.againstFT { awaitingFT.append((m, metrics.epoch, read.inputs)) }
            } catch {
                // Files are written before their epoch line, but may be replaced meanwhile: keep
                // the line and try again on the next poll; say why once.
                let problem = error.description
                if problem != previousProblem { note("\(fileName):\(number): epoch line waits for its files: \(problem)") }
                pending.append((number, bytes, problem))
                return
            }
        } else {
            do {
                metrics = try MetricsJSON.decoder().decode(EpochMetrics.self, from: Data(bytes))
            } catch {
                note("\(fileName):\(number): an epoch line needs \"rows\" (a rows file) or the lab's estimates; line skipped")
                return
            }
        }
        var list = epochs[m, default: []]
        list.removeAll { $0.epoch == metrics.epoch }
        list.append(metrics)
        list.sort { $0.epoch < $1.epoch }
        epochs[m] = list
        version += 1
        if m == .ft { measureAgainstFT() }
    }

    /// FT's estimates now known: the evaluations that waited for them get their Λ* against FT.
    private mutating func measureAgainstFT() {
        let waiting = awaitingFT
        awaitingFT = []
        for w in waiting {
            guard let i = epochs[w.method]?.firstIndex(where: { $0.epoch == w.epoch }), let reference = ftReference(epoch: w.epoch)
            else { continue }
            let analyses = RowsSensitivity.analyses(w.inputs, reference: reference, seed: sensitivitySeed(w.method, w.epoch))
            epochs[w.method]?[i].sensitivity = analyses
        }
    }

    /// FT's estimate under each estimator at evaluation `epoch` (else at its last one); nil
    /// without any FT evaluation yet.
    private func ftReference(epoch: Int) -> ((Estimator) -> Double?)? {
        guard let list = epochs[.ft], let ft = list.first(where: { $0.epoch == epoch }) ?? list.last else { return nil }
        return { e in ft.estimates[e].value.isFinite ? ft.estimates[e].value : nil }
    }

    private func sensitivitySeed(_ m: Method, _ epoch: Int) -> UInt64 {
        SeededRandom.derivedSeed(seed ?? 0, "sensitivity-\(m.rawValue)-\(epoch)")
    }

    /// An external trainer's evaluation: its estimates from the rows (and f0) files it names, and
    /// how much hidden confounding they survive: Λ* against FT's estimate at the same evaluation
    /// (FT's own for FT), or P^R's own value while the run has no FT evaluation (`againstFT` false).
    private func fromFiles(_ o: [String: Any], method m: Method, rows: String) throws(InputError)
        -> (metrics: EpochMetrics, inputs: EstimatorInputs, againstFT: Bool) {
        let rowsPath = resolve(rows)
        let rowsFile = try RowsFile(bytes: try load(rowsPath), file: rowsPath)
        var f0File: F0File?
        if let f0 = o["f0"] as? String {
            let p = resolve(f0)
            f0File = try F0File(bytes: try load(p), file: p)
        }
        let e = RowsEstimate(rows: rowsFile, f0: f0File, normalization: normalization, batchSize: batchSize)
        let epoch = JSONValue.int(o["epoch"]) ?? 0
        let inputs = EstimatorInputs(rows: rowsFile, f0: f0File, normalization: normalization)
        let own = e.evaluation.estimates
        let reference: ((Estimator) -> Double?)? = m == .ft ? { x in own[x].value.isFinite ? own[x].value : nil } : ftReference(epoch: epoch)
        let sensitivity = RowsSensitivity.analyses(inputs, reference: reference ?? { _ in nil }, seed: sensitivitySeed(m, epoch))
        let kl = o["klToFT"].flatMap(Self.estimate) ?? .undefined
        let samples = (o["samples"] as? [[String: Any]] ?? []).map { s in
            GeneratedText(text: s["text"] as? String ?? "", score: JSONValue.double(s["score"]) ?? .nan,
                          attributes: s["attributes"] as? [String] ?? [], invalidSegments: [],
                          logRatioToFT: JSONValue.double(s["logRatioToFT"]) ?? .nan)
        }
        let metrics = EpochMetrics(
            method: m, epoch: epoch, trainLoss: JSONValue.double(o["trainLoss"]),
            estimates: e.evaluation.estimates, trueValue: nil, normalizedGain: nil, invalidRate: nil, attributeShares: nil,
            winRateVsFT: o["winRateVsFT"].flatMap(Self.estimate) ?? .undefined, klToFT: kl, weights: e.evaluation.weights,
            samples: samples, seconds: JSONValue.double(o["seconds"]) ?? 0, f0Weights: e.evaluation.f0Weights,
            sensitivity: sensitivity)
        return (metrics, inputs, reference != nil)
    }

    /// `{"value": v, "standardError": s}` (or a bare number) as an estimate.
    static func estimate(_ v: Any) -> Estimate? {
        if let x = JSONValue.double(v) { return Estimate(value: x, standardError: .nan) }
        guard let o = v as? [String: Any], let x = JSONValue.double(o["value"]) else { return nil }
        let se = JSONValue.double(o["standardError"]) ?? JSONValue.double(o["standard_error"]) ?? .nan
        if let lo = JSONValue.double(o["lower"]), let hi = JSONValue.double(o["upper"]) {
            return Estimate(value: x, standardError: se, lower: lo, upper: hi)
        }
        return Estimate(value: x, standardError: se)
    }

    // MARK: output

    /// The picture the dashboard draws: every method seen, its steps and evaluations (a trained
    /// method without its own epoch 0 starts from FT's, as in the lab), FT's epochs and steps
    /// (FT's step lines go to `ftSteps`, as the lab publishes them, not to FT's own steps), messages.
    public func snapshot() -> LabSnapshot {
        var cfg = LabConfig()
        let shown = Method.allCases.filter { steps[$0] != nil || epochs[$0] != nil || ($0 == .reference && !ftSteps.isEmpty) }
        cfg.methods = shown
        cfg.batchSize = batchSize
        cfg.objective.normalization = normalization
        if let propensity { cfg.propensity = propensity }
        if let ghatFrom { cfg.ghatFrom = ghatFrom }
        if let design { cfg.design = design }
        let ftZero = epochs[.ft]?.first { $0.epoch == 0 }
        let methods: [MethodSnapshot] = shown.map { m in
            var evals = epochs[m] ?? []
            if m.trains, evals.first?.epoch != 0, var zero = ftZero {
                zero.method = m
                evals.insert(zero, at: 0)
            }
            let own = steps[m] ?? []
            let evaluated = evals.last?.epoch ?? 0
            let training = m.trains && (own.last?.epoch ?? 0) > evaluated && !finished
            return MethodSnapshot(method: m, state: training ? .training : .idle, epoch: evaluated, steps: own, epochs: evals,
                                  skippedSteps: own.filter(\.skipped).count)
        }
        let phase: LabPhase = !metricsFound
            ? .preparing(stage: .data, fraction: 0, message: "waiting for \(fileName)")
            : finished ? .finished : .running
        // The directory is the title when no run line named the trainer; else it stands on the right.
        return LabSnapshot(config: cfg, seed: seed ?? 0, phase: phase, version: version, messages: messages,
                           sourceLabel: sourceLabel.isEmpty ? directory : sourceLabel, ftHistory: ftHistory, ftSteps: ftSteps,
                           runDirectory: sourceLabel.isEmpty ? nil : directory, methods: methods)
    }
}

/// Follows a run directory on disk: reads what metrics.jsonl gained since the last poll (from
/// where it stopped; from the start again when the file was replaced by a shorter one) into a
/// `WatchModel`. Only ever opens files for reading.
public struct WatchFollower: Sendable {
    public private(set) var model: WatchModel
    private var offset: UInt64 = 0
    /// The file's inode when last read: another one means the file was replaced.
    private var fileNumber: UInt64?
    /// How much one poll reads at most, so a huge file is taken in over several frames.
    static let maxChunk = 16 << 20

    public init(directory: String, seed: UInt64? = nil) {
        model = WatchModel(directory: directory, seed: seed)
        self.seed = seed
    }

    private let seed: UInt64?

    public var directory: String { model.directory }

    /// Reads what is new; returns whether anything shown changed.
    @discardableResult
    public mutating func poll() -> Bool {
        let path = (directory as NSString).appendingPathComponent(WatchModel.metricsFile)
        var changed = false
        let fm = FileManager.default
        let summary = (directory as NSString).appendingPathComponent("summary.json")
        if !model.finished && fm.fileExists(atPath: summary) && fm.fileExists(atPath: path) {
            model.finished = true
            changed = true
        }
        let attributes = try? fm.attributesOfItem(atPath: path)
        // Only a regular file is opened, and without waiting: a named pipe there would block
        // a plain open for ever.
        if let size = attributes?[.size] as? NSNumber, attributes?[.type] as? FileAttributeType == .typeRegular,
           let handle = Self.openRegular(path) {
            defer { try? handle.close() }
            let total = size.uint64Value
            let number = (attributes?[.systemFileNumber] as? NSNumber)?.uint64Value
            defer { fileNumber = number }
            if total < offset || (fileNumber != nil && number != nil && fileNumber != number) {
                // Replaced or truncated: start over.
                let finished = model.finished
                model = WatchModel(directory: directory, seed: seed)
                model.finished = finished
                offset = 0
                changed = true
            }
            if total > offset || !model.metricsFound {
                do {
                    try handle.seek(toOffset: offset)
                    let data = try handle.read(upToCount: Self.maxChunk) ?? Data()
                    offset += UInt64(data.count)
                    if model.ingest(data) { changed = true }
                } catch {
                    // A read that fails now (the file being replaced) is tried again next poll.
                }
            }
        }
        if model.retryPending() { changed = true }
        return changed
    }

    /// `path` opened for reading if it is a regular file (checked on the open file, so a file
    /// swapped for a pipe meanwhile is not read either).
    private static func openRegular(_ path: String) -> FileHandle? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0, FileKind(mode: st.st_mode) == .regular else {
            close(fd)
            return nil
        }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }
}
