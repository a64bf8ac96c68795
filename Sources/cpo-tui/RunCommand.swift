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

    @Option(help: "A world file or shipped world name (default: the config file's world, else \(ShippedWorlds.defaultName)); ignored with --data.")
    var world: String?

    /// --data FILE and its column flags (the same as `cpo-tui data check`).
    @OptionGroup(title: "Your own data (instead of a world)") var data: DataOptions

    @Option(help: "Comma-separated methods.") var methods = MethodList(RunOptions.defaults.methods)
    @Option(help: "Epochs per method after FT (default \(RunOptions.defaults.epochs)). With --resume: train up to this many.")
    var epochs: Int?
    @Option(help: "Training rows (worlds).") var rows = RunOptions.defaults.rows
    @Option(help: "Held-out rows (worlds; drawn from --eval-design): the estimation rows.") var evalRows = RunOptions.defaults.evalRows
    @Option(help: "Validation rows (worlds; sampled like the training rows): FT stops when its loss on them stops improving. Never used for estimation. 0: none, FT trains --ft-epochs epochs.")
    var validationRows = RunOptions.defaults.validationRows
    @Option(help: "Share of the rows held out for validation (--data; unless the split column names validation rows). 0: none.")
    var validationFraction = RunOptions.defaults.validationFraction
    @Option(help: "Seed.") var seed = RunOptions.defaults.seed
    @Option(help: "Seeds: base..base+K-1.") var seeds = RunOptions.defaults.seeds
    @Option(help: "Which world data the methods train on.") var design = RunOptions.defaults.design
    @Option(help: "What ĝ is fit on (default: \(LabConfig.defaultGhatSource(world: true).rawValue) in worlds, \(LabConfig.defaultGhatSource(world: false).rawValue) with --data).")
    var ghatFrom: GhatSource?
    @Option(help: "P^R from the FT model, the logged propensities, or (worlds) marginal: each text's probability averaged over readers, as a log that never recorded the reader trait would hold it (the hidden-trait study).")
    var propensity = RunOptions.defaults.propensity
    @Option(help: "Which world design the held-out rows come from: randomized, or observational so the estimators see the log's confounding (worlds).")
    var evalDesign = RunOptions.defaults.evalDesign
    @Option(help: "Learning rate of the methods.") var lr = RunOptions.defaults.learningRate
    @Option(help: "Batch size.") var batchSize = RunOptions.defaults.batchSize
    @Flag(help: "Train with the paper's exact objective: Hajek weights, no clipping, no KL, anchor or other regularizer. Flags given with it add their term back.")
    var paperObjective = false
    @Option(help: "KL(f‖FT) budget in nats for OO-RLHF, CPO and DR-CPO, measured on texts the policy draws itself each step; an adaptive coefficient holds it (0 = off; default \(RunOptions.defaults.objective.klTarget)).")
    var klTarget: Double?
    @Option(help: "Texts drawn from the policy per step for --kl-target (default \(RunOptions.defaults.objective.klSamples)).")
    var klSamples: Int?
    @Option(help: "Starting KL coefficient β of --kl-target, in outcome standard deviations per nat (default \(RunOptions.defaults.objective.klInitialCoefficient)).")
    var klCoef: Double?
    @Option(help: "Horizon of the KL controller in steps: β moves by at most a factor 1 ± 0.2/horizon per step (default \(RunOptions.defaults.objective.klHorizon)).")
    var klHorizon: Double?
    @Option(help: "Anchor weight λ for OO-RLHF, CPO and DR-CPO: λ·sd(Y)·mean per-token NLL of the step's randomized rows (0 = off; default \(RunOptions.defaults.objective.anchor)).")
    var anchor: Double?
    @Option(help: "Horvitz-Thompson training weights with an absolute ratio clip to [1/M, M] for OO-RLHF, CPO and DR-CPO (0 = off; default \(RunOptions.defaults.objective.htClip)).")
    var htClip: Double?
    @Option(help: "Robust CPO: CPO (DR-CPO: its residual term) trains on the worst case of its value when each row's weight may be off by a factor in [1/Λ, Λ] (1 = off; default \(RunOptions.defaults.objective.robustLambda)). Not with --clip or --ht-clip.")
    var robustLambda: Double?
    @Option(help: "KL-to-FT penalty weight on the step's own rows and f0 samples (0 = off; not in the paper).")
    var klToFt = RunOptions.defaults.objective.klToFT
    @Option(help: "Entropy bonus weight (0 = off).") var entropyBonus = RunOptions.defaults.objective.entropyBonus
    @Option(help: "PPO-style ratio clipping ε (off by default).") var clip: Double?
    @Flag(help: "Horvitz-Thompson (un-normalized) weights instead of Hajek (self-normalized), in CPO, DR-CPO's residual and the DR estimate.") var horvitzThompson = false
    @Option(help: "filtered-SFT keeps the top q fraction of outcomes.") var filterQuantile = RunOptions.defaults.objective.filterQuantile
    @Option(help: "RWR temperature, in outcome standard deviations.") var rwrTemperature = RunOptions.defaults.objective.rwrTemperature
    @Option(help: "DPO's β.") var dpoBeta = RunOptions.defaults.objective.dpoBeta
    @Option(help: "f0 samples per training row (m = ratio × n).") var f0Ratio = RunOptions.defaults.f0Ratio
    @Flag var f0Start: F0Start = RunOptions.defaults.f0FromScratch ? .f0FromScratch : .f0FromPrefixes
    @Option(help: "Cross-fitting folds for ĝ.") var folds = RunOptions.defaults.folds
    @Option(help: "Samples from each model for its true value and KL.") var evalSamples = RunOptions.defaults.evalSamples
    @Option(help: "Truncated held-out prompts for the win rates.") var winPrompts = RunOptions.defaults.winRatePrompts
    @Option(help: "Rows of the separate observational log (--ghat-from observational).") var logRows = RunOptions.defaults.logRows
    @Option(help: "At most this many FT epochs. FT stops when its validation loss stops improving (--ft-patience epochs in a row without, each cutting the learning rate), keeping the best epoch.")
    var ftEpochs = RunOptions.defaults.ftMaxEpochs
    @Option(help: "FT stops after this many epochs in a row without improving its validation loss.")
    var ftPatience = RunOptions.defaults.ftPatience
    @Option(help: "FT learning rate.") var ftLr = RunOptions.defaults.ftLearningRate
    @Option(help: "Model width (d_model).") var dModel = RunOptions.defaults.model.dModel
    @Option(help: "Transformer layers.") var layers = RunOptions.defaults.model.layers
    @Option(help: "Attention heads.") var heads = RunOptions.defaults.model.heads
    @Option(help: "Context length in tokens. Default: fitted to the data, the longest training text with BOS and EOS rounded up to \(ModelFit.contextMultiple), at most \(LabConfig.maxFittedContext). Longer texts are cut, the same way for every model, and the run says how many.")
    var context: Int?
    @Option(help: "Tokenizer vocabulary size, at most: the model gets the ids the tokenizer learns, fewer when the training texts cannot fill it.")
    var vocab = RunOptions.defaults.model.vocabSize

    /// The objective: the lab's default, or with --paper-objective the paper's, with every flag
    /// given on top.
    func makeObjective() -> ObjectiveOptions {
        var o = paperObjective ? ObjectiveOptions.paper : Self.defaults.objective
        if horvitzThompson { o.normalization = .horvitzThompson }
        if let clip { o.clip = clip }
        o.entropyBonus = entropyBonus
        o.klToFT = klToFt
        o.filterQuantile = filterQuantile
        o.rwrTemperature = rwrTemperature
        o.dpoBeta = dpoBeta
        if let klTarget { o.klTarget = klTarget }
        if let klSamples { o.klSamples = klSamples }
        if let klCoef { o.klInitialCoefficient = klCoef }
        if let klHorizon { o.klHorizon = klHorizon }
        if let anchor { o.anchor = anchor }
        if let htClip { o.htClip = htClip }
        if let robustLambda { o.robustLambda = robustLambda }
        return o
    }

    /// The configuration these flags describe, validated.
    func makeConfig() throws -> LabConfig {
        var model = Self.defaults.model
        model.dModel = dModel
        model.layers = layers
        model.heads = heads
        model.vocabSize = vocab
        model.contextLength = context ?? LabConfig.maxFittedContext
        let objective = makeObjective()
        let source: DataSource = data.path.map { .file(path: $0, options: data.loadOptions) }
            ?? .world(world ?? ShippedWorlds.defaultName)
        let cfg = LabConfig(
            source: source, design: design, rows: rows, evalRows: evalRows, logRows: logRows, validationRows: validationRows,
            validationFraction: validationFraction, ghatFrom: ghatFrom ?? LabConfig.defaultGhatSource(world: data.path == nil),
            propensity: propensity, evalDesign: evalDesign, methods: methods.methods, epochs: epochs ?? Self.defaults.epochs, seed: seed,
            seeds: seeds, model: model, fitContext: context == nil, ftMaxEpochs: ftEpochs, ftPatience: ftPatience,
            ftLearningRate: ftLr, learningRate: lr,
            batchSize: batchSize, f0Ratio: f0Ratio, f0FromScratch: f0Start == .f0FromScratch, folds: folds, objective: objective,
            evalSamples: evalSamples, winRatePrompts: winPrompts, threads: Self.defaults.threads)
        do {
            try cfg.validate()
            try cfg.checkIdentification()
        } catch {
            throw CLIError(error.description)
        }
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
    /// --epochs, if given, as the new target), or `options`' with a new directory. Either is
    /// locked for this process (refused while another writes it) before anything is written.
    func plan(_ options: RunOptions) throws -> (LabConfig, RunDirectory?) {
        let (cfg, dir) = try planUnannounced(options)
        if let warning = dir?.lockWarning { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        return (cfg, dir)
    }

    private func planUnannounced(_ options: RunOptions) throws -> (LabConfig, RunDirectory?) {
        do {
            if let resume {
                var (dir, cfg) = try RunDirectory.openForWriting(resume)
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
                do { try DatasetLoader.checkFile(path) } catch { throw CLIError(error) }
            }
            return (cfg, try RunDirectory.create(runDir ?? RunDirectory.defaultPath(for: cfg), config: cfg))
        } catch let e as RunStoreError {
            throw CLIError(e.description)
        }
    }
}

/// Whether preparations are taken from and kept in the preparation cache; shared by `run`
/// and the dashboard (README, "The preparation cache").
struct CacheOptions: ParsableArguments {
    @Flag(help: "Neither reuse nor keep the preparation (tokenizer, FT, ĝ, f0 samples) in the preparation cache ($XDG_CACHE_HOME/cpo-tui/prepared, else ~/.cache/cpo-tui/prepared; bounded by \(PreparationCache.maxMegabytesVariable), default \(PreparationCache.defaultMaxBytes >> 20)).")
    var noCache = false

    /// The cache to use (nil with --no-cache or when it is turned off); a note about its
    /// settings goes to standard error.
    func cache() -> PreparationCache? {
        guard !noCache else { return nil }
        let (cache, note) = PreparationCache.standard()
        if let note { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        return cache
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the full comparison headless: FT, ĝ, f0 samples, then each method for E epochs with evaluations.")

    @OptionGroup var options: RunOptions
    @OptionGroup(title: "Saving and resuming") var saving: SaveOptions
    @OptionGroup var caching: CacheOptions
    @Flag(help: "Print a few samples of each model after its evaluation.") var showSamples = false
    @Option(help: "Write metrics.jsonl, rows-*.csv, f0-*.csv, summary.json, report.md and report.html (charts, opens offline) into this directory.") var report: String?
    @OptionGroup var configFile: ConfigOption

    func run() throws {
        var options = self.options
        options.useDefaultWorld(configFile.loadOrWarn().world)
        let (cfg, dir) = try saving.plan(options)
        try HeadlessRun.run(config: cfg, runDirectory: dir, report: report, showSamples: showSamples, cache: caching.cache())
    }
}

/// The headless comparison: `cpo-tui run`, and the dashboard's fallback without a terminal.
/// Each seed runs through `SeedRun`, the driver the dashboard's session uses too; this prints
/// its events as lines.
enum HeadlessRun {
    static func run(config cfg: LabConfig, runDirectory dir: RunDirectory?, report: String?, showSamples: Bool,
                    cache: PreparationCache?) throws {
        if let report { try checkWritable(report, flag: "--report") }
        // The run directory's lock is held to the end, the report included.
        defer { withExtendedLifetime(dir) {} }
        installInterruptHandler()
        let printer = HeadlessPrinter(showSamples: showSamples)
        if let dir { printer.printLine("saving the run in \(dir.path)/ (resume with: cpo-tui run --resume \(dir.path))") }
        var results: [SeedResult] = []
        var firstData: PreparedData?
        for k in 0..<cfg.seeds {
            let seed = cfg.seed + UInt64(k)
            printer.seed = seed
            let run: SeedRun
            do {
                run = try SeedRun.start(config: cfg, seed: seed, runDirectory: dir, earlierSeeds: results, cache: cache,
                                        cancelled: interrupted, events: printer.show)
            } catch {
                if interrupted() { interruptExit(dir) }
                throw CLIError(error.description)
            }
            guard run.runToEnd() else { interruptExit(dir) }
            results.append(SeedResult(run.experiment))
            if firstData == nil { firstData = run.experiment.data }
        }
        printer.printLine(String(format: "done in %.1f s", printer.elapsed))
        // A failed save does not stop training; but a run whose final state is not on disk, or
        // whose report could not be written, exits non-zero so that a script notices.
        var problems: [String] = []
        if let report, let data = firstData {
            // "Write it later from the saved run" only while the save is complete.
            let saved = printer.unsavedSeeds.isEmpty ? dir : nil
            do { try writeReport(report, config: cfg, data: data, results: results, runDirectory: saved) } catch {
                problems.append("\(error)")
            }
        }
        if let dir, !printer.unsavedSeeds.isEmpty {
            let seeds = printer.unsavedSeeds.sorted { $0.key < $1.key }
            let which = cfg.seeds == 1 ? "" : " (seed\(seeds.count == 1 ? "" : "s") \(seeds.map { "\($0.key)" }.joined(separator: ", ")))"
            problems.append("the run finished but its last save failed\(which): \(seeds[0].value)\n"
                            + "\(dir.path) holds the last complete save; once the problem is fixed, continue with "
                            + "cpo-tui run --resume \(dir.path) (the epochs since are trained again, to the same results).")
        }
        if !problems.isEmpty { throw CLIError(problems.joined(separator: "\n")) }
    }

    private static func writeReport(_ report: String, config: LabConfig, data: PreparedData, results: [SeedResult],
                                    runDirectory dir: RunDirectory?) throws {
        do { try ReportWriter(config: config, data: data, results: results).write(to: report) } catch {
            throw CLIError(error.description + (dir.map { " The run itself is saved: write the report later with cpo-tui run --resume \($0.path) --report DIR." } ?? ""))
        }
        HeadlessPrinter.write("report written to \(report)/ (report.md, report.html, summary.json, metrics.jsonl, rows-*.csv, f0-*.csv)")
    }

    /// Fails before hours of work if `path` cannot hold output files: creates it and writes
    /// and removes a probe file.
    static func checkWritable(_ path: String, flag: String) throws {
        do {
            try OutputDirectory.make(path)
        } catch .notADirectory(let at, let what) where at == path {
            throw CLIError("\(flag) \(path) is \(what); pass a directory")
        } catch {
            throw CLIError("\(flag) \(path) cannot be created: \(error.reason). Pass a writable directory.")
        }
        let probe = path + "/.cpo-tui-write-probe"
        do { try AtomicFile.write([0], to: probe) } catch {
            throw CLIError("\(flag) \(path) is not writable: \(error.description)")
        }
        unlink(probe)
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
}

/// Prints a seed's run as lines on standard output: preparation milestones with the seconds
/// since the start, FT's evaluation, one line per method per epoch, the first save of each
/// seed, and failures (save failures as warnings on standard error).
final class HeadlessPrinter {
    /// Samples printed per method and epoch with --show-samples (FT's evaluation: all it keeps).
    static let samplesPerEpoch = 3
    /// Width of the method column.
    static let methodColumn = 13
    /// The "±" of the printed intervals: 1.96 standard errors (two decimals of z_0.975, as the
    /// lines have always shown them).
    static let intervalZ = 1.96

    let showSamples: Bool
    let start = Date()
    /// The seed whose events come next.
    var seed: UInt64 = 0 { didSet { announcedSave = false } }
    /// Each seed whose latest save failed, with its error (until a save of it succeeds again).
    private(set) var unsavedSeeds: [UInt64: String] = [:]
    private var announcedSave = false
    /// Whether this seed's judge can tell texts apart (the oracle always can); if not, the
    /// lines show no win rate.
    private var winRatesAreEvidence = true

    init(showSamples: Bool) { self.showSamples = showSamples }

    var elapsed: Double { Date().timeIntervalSince(start) }

    func show(_ event: RunEvent) {
        switch event {
        case .preparing(let p) where p.isMilestone:
            printLine(String(format: "[seed %llu %5.1fs] ", seed, elapsed) + p.message)
        case .ready(let exp):
            ready(exp)
        case .log(let line):
            printLine("[seed \(seed)] " + line)
        case let .epochEnded(method, metrics?):
            printLine(line(metrics, method.method))
            if let why = metrics.reliability.reason { printLine("    ! " + why) }
            if showSamples { for g in metrics.samples.prefix(Self.samplesPerEpoch) { printLine("    sample (g* \(g.score)): \(Self.oneLine(g.text))") } }
        case .saved(let status):
            saved(status)
        case .dataLoaded, .preparing, .epochStarted, .step, .epochEnded:
            break
        }
    }

    /// ĝ's quality, and FT's evaluation while no method has trained yet.
    private func ready(_ exp: Experiment) {
        if let q = exp.ghatQuality { printLine("[seed \(seed)] ĝ held-out \(q.metric.rawValue) \(String(format: "%.3f", q.value))") }
        winRatesAreEvidence = exp.data.world != nil || exp.judgeAssessment?.informative == true
        if exp.data.world == nil {
            let verdict = exp.judgeAssessment?.verdict ?? "the judge of this saved run was never checked against chance"
            printLine("[seed \(seed)] win rates: " + verdict + (winRatesAreEvidence ? "" : "; the lines show none"))
        }
        guard let ft = exp.ftMetrics, exp.config.methods.allSatisfy({ exp.epochs(of: $0) == 0 }) else { return }
        printLine(line(ft, .ft))
        if showSamples { for g in ft.samples { printLine("    FT sample (g* \(g.score)): \(Self.oneLine(g.text))  invalid: \(g.invalidSegments)") } }
    }

    /// The first save of each seed is announced (where, and that it recurs); a failed one is a
    /// warning, and the run fails at its end unless a later save succeeds.
    private func saved(_ status: SaveStatus) {
        guard status.succeeded else {
            unsavedSeeds[seed] = status.message
            FileHandle.standardError.write(Data("warning: \(status.message)\n".utf8))
            return
        }
        unsavedSeeds[seed] = nil
        if !announcedSave {
            printLine("[seed \(seed)] \(status.message); again after every epoch")
            announcedSave = true
        }
    }

    private func line(_ e: EpochMetrics, _ method: Method) -> String {
        var s = "seed \(seed) " + method.rawValue.padding(toLength: Self.methodColumn, withPad: " ", startingAt: 0) + "epoch \(e.epoch)"
        if let l = e.trainLoss { s += String(format: "  loss %8.3f", l) } else { s += "  loss        -" }
        let dr = e.estimates[.dr]
        s += String(format: "  V_DR %7.3f ± %5.3f", dr.value, Self.intervalZ * dr.standardError)
        if !e.reliability.isReliable(.dr) { s += " (unreliable)" }
        if let t = e.trueValue { s += String(format: "  true %7.3f ± %5.3f", t.value, Self.intervalZ * t.standardError) }
        if let g = e.normalizedGain { s += String(format: "  gain %+.3f", g) }
        if let r = e.invalidRate { s += String(format: "  invalid %.2f", r) }
        s += winRatesAreEvidence ? String(format: "  win %.3f", e.winRateVsFT.value) : "  win     –"
        s += String(format: "  ESS %.2f  KL %.3f  %.1fs", e.weights.essFraction, e.klToFT.value, elapsed)
        return s
    }

    func printLine(_ line: String) { Self.write(line) }

    /// A generated text on one line: its line breaks shown as `^J` (and the rest escaped).
    static func oneLine(_ text: String) -> String { TerminalText.escaped(text, keepingNewlines: false) }

    /// Writes `line` (escaped for the terminal: samples and log lines can hold anything).
    static func write(_ line: String) {
        FileHandle.standardOutput.write(Data((TerminalText.escaped(line) + "\n").utf8))
    }
}
