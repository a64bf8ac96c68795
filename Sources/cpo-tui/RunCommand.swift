import ArgumentParser
import CausalPO
import CPOSupport
import Foundation
import Lab
import OutcomeData
import TinyLM

/// The flags that define an experiment; shared by `cpo-tui run` and the dashboard. Every
/// default is `LabConfig()`'s, so the command line and the library cannot disagree.
struct RunOptions: ParsableArguments {
    private static let defaults = LabConfig()
    /// User texts are often longer than world texts: with --data the context defaults to this.
    static let dataContextLength = 128

    @Option(help: "A world file or shipped world name (default: \(ShippedWorlds.defaultName)); ignored with --data.")
    var world: String?

    /// --data FILE and its column flags (the same as `cpo-tui data check`).
    @OptionGroup(title: "Your own data (instead of a world)") var data: DataOptions

    @Option(help: "Comma-separated methods.") var methods = MethodList(RunOptions.defaults.methods)
    @Option(help: "Epochs per method after FT (default \(RunOptions.defaults.epochs)). With --resume: train up to this many.")
    var epochs: Int?
    @Option(help: "Training rows (worlds).") var rows = RunOptions.defaults.rows
    @Option(help: "Held-out randomized rows (worlds).") var evalRows = RunOptions.defaults.evalRows
    @Option(help: "Seed.") var seed = RunOptions.defaults.seed
    @Option(help: "Seeds: base..base+K-1.") var seeds = RunOptions.defaults.seeds
    @Option(help: "Which world data the methods train on.") var design = RunOptions.defaults.design
    @Option(help: "What ĝ is fit on.") var ghatFrom = RunOptions.defaults.ghatFrom
    @Option(help: "P^R from the FT model or the logged propensities.") var propensity = RunOptions.defaults.propensity
    @Option(help: "Learning rate of the methods.") var lr = RunOptions.defaults.learningRate
    @Option(help: "Batch size.") var batchSize = RunOptions.defaults.batchSize
    @Option(help: "KL-to-FT penalty weight (0 = off; not in the paper, keeps the policy near the data).")
    var klToFt = RunOptions.defaults.objective.klToFT
    @Option(help: "Entropy bonus weight (0 = off).") var entropyBonus = RunOptions.defaults.objective.entropyBonus
    @Option(help: "PPO-style ratio clipping ε (off by default).") var clip: Double?
    @Flag(help: "Horvitz-Thompson (un-normalized) weights instead of Hajek (self-normalized).") var horvitzThompson = false
    @Option(help: "filtered-SFT keeps the top q fraction of outcomes.") var filterQuantile = RunOptions.defaults.objective.filterQuantile
    @Option(help: "RWR temperature, in outcome standard deviations.") var rwrTemperature = RunOptions.defaults.objective.rwrTemperature
    @Option(help: "DPO's β.") var dpoBeta = RunOptions.defaults.objective.dpoBeta
    @Option(help: "f0 samples per training row (m = ratio × n).") var f0Ratio = RunOptions.defaults.f0Ratio
    @Flag(help: "Draw f0 samples from scratch instead of continuing truncated training texts.") var f0FromScratch = false
    @Option(help: "Cross-fitting folds for ĝ.") var folds = RunOptions.defaults.folds
    @Option(help: "Samples from each model for its true value and KL.") var evalSamples = RunOptions.defaults.evalSamples
    @Option(help: "Truncated held-out prompts for the win rates.") var winPrompts = RunOptions.defaults.winRatePrompts
    @Option(help: "Rows of the separate observational log (--ghat-from observational).") var logRows = RunOptions.defaults.logRows
    @Option(help: "FT epochs (cosine schedule; stops early if the held-out loss rises).") var ftEpochs = RunOptions.defaults.ftMaxEpochs
    @Option(help: "FT learning rate.") var ftLr = RunOptions.defaults.ftLearningRate
    @Option(help: "Model width (d_model).") var dModel = RunOptions.defaults.model.dModel
    @Option(help: "Transformer layers.") var layers = RunOptions.defaults.model.layers
    @Option(help: "Attention heads.") var heads = RunOptions.defaults.model.heads
    @Option(help: "Context length in tokens (default \(RunOptions.defaults.model.contextLength), \(RunOptions.dataContextLength) with --data; longer texts are cut, the same way for every model).")
    var context: Int?
    @Option(help: "Tokenizer vocabulary size.") var vocab = RunOptions.defaults.model.vocabSize

    /// The configuration these flags describe, validated.
    func makeConfig() throws -> LabConfig {
        var model = Self.defaults.model
        model.dModel = dModel
        model.layers = layers
        model.heads = heads
        model.vocabSize = vocab
        model.contextLength = context ?? (data.path != nil ? Self.dataContextLength : Self.defaults.model.contextLength)
        let objective = ObjectiveOptions(
            normalization: horvitzThompson ? .horvitzThompson : .hajek, clip: clip ?? Self.defaults.objective.clip, entropyBonus: entropyBonus,
            klToFT: klToFt, filterQuantile: filterQuantile, rwrTemperature: rwrTemperature, dpoBeta: dpoBeta)
        let source: DataSource = data.path.map { .file(path: $0, options: data.loadOptions) }
            ?? .world(world ?? ShippedWorlds.defaultName)
        let cfg = LabConfig(
            source: source, design: design, rows: rows, evalRows: evalRows, logRows: logRows, ghatFrom: ghatFrom,
            propensity: propensity, methods: methods.methods, epochs: epochs ?? Self.defaults.epochs, seed: seed,
            seeds: seeds, model: model, ftMaxEpochs: ftEpochs, ftLearningRate: ftLr, learningRate: lr,
            batchSize: batchSize, f0Ratio: f0Ratio, f0FromScratch: f0FromScratch, folds: folds, objective: objective,
            evalSamples: evalSamples, winRatePrompts: winPrompts, threads: Self.defaults.threads)
        do { try cfg.validate() } catch { throw CLIError(error.description) }
        return cfg
    }
}

/// Where a run is saved, or which saved run to continue; shared by `run` and the dashboard.
struct SaveOptions: ParsableArguments {
    @Option(help: "Save the run here after preparation and after every epoch (default: runs/<source>-seed<S>-<time>).")
    var runDir: String?
    @Flag(help: "Do not save the run.") var noSave = false
    @Option(help: "Continue the run saved in this directory, exactly where it stopped. Its own configuration is used; --epochs can extend it.")
    var resume: String?

    func validate() throws {
        if resume != nil && (runDir != nil || noSave) { throw ValidationError("--resume saves into the run it continues: drop --run-dir and --no-save") }
        if runDir != nil && noSave { throw ValidationError("--run-dir and --no-save contradict each other") }
    }

    /// The configuration and run directory to use: the saved run's own for --resume (with
    /// --epochs, if given, as the new target), or `options`' with a new directory.
    func plan(_ options: RunOptions) throws -> (LabConfig, RunDirectory?) {
        do {
            if let resume {
                var (dir, cfg) = try RunDirectory.open(resume)
                if let e = options.epochs, e != cfg.epochs {
                    guard e >= 0 else { throw CLIError("--epochs must not be negative (got \(e))") }
                    cfg.epochs = e
                    try dir.writeConfig(cfg)
                }
                dir.removeStaleTemporaryFiles()
                return (cfg, dir)
            }
            let cfg = try options.makeConfig()
            if noSave { return (cfg, nil) }
            // A world that does not load or a data file that is not there is reported before a
            // run directory is made for it.
            switch cfg.source {
            case .world(let w):
                do { _ = try World.load(path: try ShippedWorlds.resolve(w)) } catch { throw CLIError(error) }
            case .file(let path, _):
                guard FileManager.default.isReadableFile(atPath: path) else {
                    throw CLIError("--data \(path): no readable file there. Check the path.")
                }
            }
            return (cfg, try RunDirectory.create(runDir ?? RunDirectory.defaultPath(for: cfg), config: cfg))
        } catch let e as RunStoreError {
            throw CLIError(e.description)
        }
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the full comparison headless: FT, ĝ, f0 samples, then each method for E epochs with evaluations.")

    @OptionGroup var options: RunOptions
    @OptionGroup(title: "Saving and resuming") var saving: SaveOptions
    @Flag(help: "Print a few samples of each model after its evaluation.") var showSamples = false
    @Option(help: "Write metrics.jsonl, rows-*.csv, summary.json and report.md into this directory.") var report: String?

    func run() throws {
        let (cfg, dir) = try saving.plan(options)
        try HeadlessRun.run(config: cfg, runDirectory: dir, report: report, showSamples: showSamples)
    }
}

/// The headless comparison: `cpo-tui run`, and the dashboard's fallback without a terminal.
enum HeadlessRun {
    static func run(config cfg: LabConfig, runDirectory dir: RunDirectory?, report: String?, showSamples: Bool) throws {
        if let report { try checkWritable(report, flag: "--report") }
        installInterruptHandler()
        let start = Date()
        var results: [SeedResult] = []
        var firstData: PreparedData?
        var lastSaveError: String?
        if let dir { log("saving the run in \(dir.path)/ (resume with: cpo-tui run --resume \(dir.path))") }
        for k in 0..<cfg.seeds {
            let s = cfg.seed + UInt64(k)
            let exp: Experiment
            do {
                if let dir, dir.hasCheckpoint(seed: s) {
                    exp = try dir.restore(seed: s, config: cfg).0
                    let at = cfg.methods.filter(\.trains).map { "\($0.rawValue) \(exp.epochs(of: $0))" }.joined(separator: ", ")
                    log("[seed \(s)] resumed from \(dir.checkpointPath(seed: s)) at epochs: \(at)")
                } else {
                    exp = try Experiment(config: cfg, seed: s)
                    try exp.prepare(progress: { stage, _, msg in
                        if stage != .ft || msg.hasPrefix("FT epoch") { log(String(format: "[seed %llu %5.1fs] ", s, Date().timeIntervalSince(start)) + msg) }
                    }, cancelled: interrupted)
                }
            } catch let e as LabError {
                if interrupted() { interruptExit(dir) }
                throw CLIError(e.description)
            } catch let e as RunStoreError {
                throw CLIError(e.description)
            }
            if let q = exp.ghatQuality { log("[seed \(s)] ĝ held-out \(q.metric.rawValue) \(String(format: "%.3f", q.value))") }
            if let ft = exp.ftMetrics, exp.config.methods.allSatisfy({ exp.epochs(of: $0) == 0 }) {
                log(line(ft, seed: s, elapsed: Date().timeIntervalSince(start)))
                if showSamples { for g in ft.samples { log("    FT sample (g* \(g.score)): \(g.text)  invalid: \(g.invalidSegments)") } }
            }
            var announced = false
            func save() {
                guard let dir else { return }
                do {
                    let t0 = Date()
                    let bytes = try dir.save(exp)
                    try dir.writeMetrics(config: cfg, data: exp.data, results: results + [SeedResult(exp, heldOutRows: false)])
                    if !announced {
                        log(String(format: "[seed %llu] saved %@ (%.1f MB, %.2f s; again after every epoch)", s,
                                   dir.checkpointPath(seed: s), Double(bytes) / 1_048_576, Date().timeIntervalSince(t0)))
                        announced = true
                    }
                    lastSaveError = nil
                } catch {
                    lastSaveError = error.description
                    FileHandle.standardError.write(Data("warning: \(error.description)\n".utf8))
                }
            }
            save()
            // Epoch by epoch, every method that is behind: the order does not change any number
            // (each method's randomness is its own), so a resumed run matches an uninterrupted one.
            while true {
                let behind = cfg.methods.filter { $0.trains && exp.epochs(of: $0) < cfg.epochs && exp.failure(of: $0) == nil }
                guard let m = behind.min(by: { exp.epochs(of: $0) < exp.epochs(of: $1) }) else { break }
                guard let e = exp.step(m, cancelled: interrupted) else { interruptExit(dir) }
                log(line(e, seed: s, elapsed: Date().timeIntervalSince(start)))
                if let f = exp.failure(of: m) { log("seed \(s) \(m.rawValue) FAILED: \(f); the other methods go on") }
                if showSamples { for g in e.samples.prefix(3) { log("    sample (g* \(g.score)): \(g.text)") } }
                save()
            }
            results.append(SeedResult(exp))
            if firstData == nil { firstData = exp.data }
        }
        log(String(format: "done in %.1f s", Date().timeIntervalSince(start)))
        if let report, let data = firstData {
            let writer = ReportWriter(config: cfg, data: data, results: results)
            do { try writer.write(to: report) } catch {
                throw CLIError(error.description + (dir.map { " The run itself is saved: write the report later with cpo-tui run --resume \($0.path) --report DIR." } ?? ""))
            }
            log("report written to \(report)/ (report.md, summary.json, metrics.jsonl, rows-*.csv)")
        }
        if let lastSaveError { throw CLIError("the run finished but its last save failed: \(lastSaveError)") }
    }

    /// Fails before hours of work if `path` cannot hold output files: creates it and writes
    /// and removes a probe file.
    static func checkWritable(_ path: String, flag: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue {
            throw CLIError("\(flag) \(path) is a file; pass a directory")
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let probe = path + "/.cpo-tui-write-probe"
            try AtomicFile.write([0], to: probe)
            try FileManager.default.removeItem(atPath: probe)
        } catch let e as FileWriteError {
            throw CLIError("\(flag) \(path) is not writable: \(e.description)")
        } catch {
            throw CLIError("\(flag) \(path) cannot be created: \((error as NSError).localizedDescription). Pass a writable directory.")
        }
    }

    /// Ctrl-C or SIGTERM: stop at the next training step and exit 130, keeping the last save.
    /// A second signal ends the program at once (the last save is intact either way).
    private static func installInterruptHandler() {
        var a = sigaction()
        a.__sigaction_handler.sa_handler = { _ in
            if stopRequested.load(ordering: .relaxed) { _exit(130) }
            stopRequested.store(true, ordering: .relaxed)
        }
        sigemptyset(&a.sa_mask)
        sigaction(SIGINT, &a, nil)
        sigaction(SIGTERM, &a, nil)
    }

    private static func interrupted() -> Bool { stopRequested.load(ordering: .relaxed) }

    private static func interruptExit(_ dir: RunDirectory?) -> Never {
        let hint = dir.map { " The run is saved up to its last completed epoch; continue it with: cpo-tui run --resume \($0.path)" } ?? ""
        FileHandle.standardError.write(Data("interrupted.\(hint)\n".utf8))
        exit(130)
    }

    private static func line(_ e: EpochMetrics, seed: UInt64, elapsed: Double) -> String {
        var s = "seed \(seed) " + e.method.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0) + "epoch \(e.epoch)"
        if let l = e.trainLoss { s += String(format: "  loss %8.3f", l) } else { s += "  loss        -" }
        s += String(format: "  V_DR %7.3f ± %5.3f", e.estimates[.dr].value, 1.96 * e.estimates[.dr].standardError)
        if let t = e.trueValue { s += String(format: "  true %7.3f ± %5.3f", t.value, 1.96 * t.standardError) }
        if let g = e.normalizedGain { s += String(format: "  gain %+.3f", g) }
        if let r = e.invalidRate { s += String(format: "  invalid %.2f", r) }
        s += String(format: "  win %.3f  ESS %.2f  KL %.3f  %.1fs", e.winRateVsFT.value, e.weights.essFraction, e.klToFT.value, elapsed)
        return s
    }

    private static func log(_ s: String) {
        FileHandle.standardOutput.write(Data((s + "\n").utf8))
    }
}
