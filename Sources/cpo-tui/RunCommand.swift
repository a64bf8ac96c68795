import ArgumentParser
import CausalPO
import Foundation
import Lab
import OutcomeData
import TinyLM

/// The flags that define an experiment; shared by `cpo-tui run` and the dashboard.
struct RunOptions: ParsableArguments {
    @Option(help: "A world file or shipped world name (default: \(ShippedWorlds.defaultName)); ignored with --data.")
    var world: String?

    /// --data FILE and its column flags (the same as `cpo-tui data check`).
    @OptionGroup(title: "Your own data (instead of a world)") var data: DataOptions

    @Option(help: "Comma-separated methods: FT, OO-RLHF, CPO, DR-CPO, filtered-SFT, RWR, DPO.")
    var methods: String = "FT,OO-RLHF,CPO,DR-CPO"
    @Option(help: "Epochs per method after FT.") var epochs: Int = 3
    @Option(help: "Training rows (worlds).") var rows: Int = 2000
    @Option(help: "Held-out randomized rows (worlds).") var evalRows: Int = 500
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Option(help: "Seeds: base..base+K-1.") var seeds: Int = 1
    @Option(help: "randomized or observational: which world data the methods train on.") var design: String = "randomized"
    @Option(help: "What ĝ is fit on: same, observational or negated.") var ghatFrom: String = "same"
    @Option(help: "P^R from the FT model or the logged propensities: model or logged.") var propensity: String = "model"
    @Option(help: "Learning rate of the methods.") var lr: Float = 2e-5
    @Option(help: "Batch size.") var batchSize: Int = 32
    @Option(help: "KL-to-FT penalty weight (0 = off; not in the paper, keeps the policy near the data).") var klToFt: Double = 0
    @Option(help: "Entropy bonus weight (0 = off).") var entropyBonus: Double = 0
    @Option(help: "PPO-style ratio clipping ε (off by default).") var clip: Double?
    @Flag(help: "Horvitz-Thompson (un-normalized) weights instead of Hajek (self-normalized).") var horvitzThompson = false
    @Option(help: "filtered-SFT keeps the top q fraction of outcomes.") var filterQuantile: Double = 0.25
    @Option(help: "RWR temperature, in outcome standard deviations.") var rwrTemperature: Double = 1
    @Option(help: "DPO's β.") var dpoBeta: Double = 0.1
    @Option(help: "f0 samples per training row (m = ratio × n).") var f0Ratio: Int = 4
    @Flag(help: "Draw f0 samples from scratch instead of continuing truncated training texts.") var f0FromScratch = false
    @Option(help: "Cross-fitting folds for ĝ.") var folds: Int = 5
    @Option(help: "Samples from each model for its true value and KL.") var evalSamples: Int = 500
    @Option(help: "Truncated held-out prompts for the win rates.") var winPrompts: Int = 200
    @Option(help: "Rows of the separate observational log (--ghat-from observational).") var logRows: Int = 4000
    @Option(help: "FT epochs (cosine schedule; stops early if the held-out loss rises).") var ftEpochs: Int = LabConfig().ftMaxEpochs
    @Option(help: "FT learning rate.") var ftLr: Float = 3e-3
    @Option(help: "Model width (d_model).") var dModel: Int = LabConfig.defaultModel.dModel
    @Option(help: "Transformer layers.") var layers: Int = LabConfig.defaultModel.layers
    @Option(help: "Attention heads.") var heads: Int = LabConfig.defaultModel.heads
    @Option(help: "Context length in tokens (longer texts are cut, the same way for every model).") var context: Int?
    @Option(help: "Tokenizer vocabulary size.") var vocab: Int = LabConfig.defaultModel.vocabSize


    /// The configuration these flags describe, validated.
    func makeConfig() throws -> LabConfig {
        var cfg = LabConfig()
        if let dataPath = data.path {
            cfg.source = .file(path: dataPath, options: data.loadOptions)
        } else {
            cfg.source = .world(world ?? ShippedWorlds.defaultName)
        }
        var ms: [Method] = []
        for name in methods.split(separator: ",") {
            guard let m = Method(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("unknown method '\(name)'; use \(Method.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            ms.append(m)
        }
        guard let d = WorldDesign(rawValue: design) else { throw ValidationError("--design must be randomized or observational") }
        guard let g = GhatSource(rawValue: ghatFrom) else { throw ValidationError("--ghat-from must be same, observational or negated") }
        guard let p = PropensitySource(rawValue: propensity) else { throw ValidationError("--propensity must be model or logged") }
        cfg.methods = ms
        cfg.epochs = epochs
        cfg.rows = rows
        cfg.evalRows = evalRows
        cfg.seed = seed
        cfg.seeds = seeds
        cfg.design = d
        cfg.ghatFrom = g
        cfg.propensity = p
        cfg.learningRate = lr
        cfg.batchSize = batchSize
        cfg.objective.klToFT = klToFt
        cfg.objective.entropyBonus = entropyBonus
        cfg.objective.clip = clip
        cfg.objective.normalization = horvitzThompson ? .horvitzThompson : .hajek
        cfg.objective.filterQuantile = filterQuantile
        cfg.objective.rwrTemperature = rwrTemperature
        cfg.objective.dpoBeta = dpoBeta
        cfg.f0Ratio = f0Ratio
        cfg.f0FromScratch = f0FromScratch
        cfg.folds = folds
        cfg.evalSamples = evalSamples
        cfg.winRatePrompts = winPrompts
        cfg.logRows = logRows
        cfg.ftMaxEpochs = ftEpochs
        cfg.ftLearningRate = ftLr
        cfg.model.dModel = dModel
        cfg.model.layers = layers
        cfg.model.heads = heads
        cfg.model.vocabSize = vocab
        // User texts are often longer than world texts: default to a 128-token context there.
        cfg.model.contextLength = context ?? (data.path != nil ? 128 : LabConfig.defaultModel.contextLength)
        do { try cfg.validate() } catch { throw CLIError(error.description) }
        return cfg
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the full comparison headless: FT, ĝ, f0 samples, then each method for E epochs with evaluations.")

    @OptionGroup var options: RunOptions
    @Flag(help: "Print a few samples of each model after its evaluation.") var showSamples = false
    @Option(help: "Write metrics.jsonl, rows-*.csv, summary.json and report.md into this directory.") var report: String?

    func run() throws {
        try HeadlessRun.run(config: try options.makeConfig(), report: report, showSamples: showSamples)
    }
}

/// The headless comparison: `cpo-tui run`, and the dashboard's fallback without a terminal.
enum HeadlessRun {
    static func run(config cfg: LabConfig, report: String?, showSamples: Bool) throws {
        if let report {
            // Fail before hours of work if the report cannot be written.
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: report, isDirectory: &isDir) && !isDir.boolValue {
                throw CLIError("--report \(report) is a file; pass a directory")
            }
        }
        let start = Date()
        var results: [SeedResult] = []
        var firstData: PreparedData?
        for k in 0..<cfg.seeds {
            let s = cfg.seed + UInt64(k)
            let exp: Experiment
            do {
                exp = try Experiment(config: cfg, seed: s)
                try exp.prepare(progress: { stage, _, msg in
                    if stage != .ft || msg.hasPrefix("FT epoch") { log(String(format: "[seed %llu %5.1fs] ", s, Date().timeIntervalSince(start)) + msg) }
                })
            } catch {
                throw CLIError(error.description)
            }
            if let q = exp.ghatQuality { log("[seed \(s)] ĝ held-out \(q.metric.rawValue) \(String(format: "%.3f", q.value))") }
            if let ft = exp.ftMetrics {
                log(line(ft, seed: s, elapsed: Date().timeIntervalSince(start)))
                if showSamples { for g in ft.samples { log("    FT sample (g* \(g.score)): \(g.text)  invalid: \(g.invalidSegments)") } }
            }
            for _ in 0..<cfg.epochs {
                for m in cfg.methods where m != .ft {
                    if let e = exp.step(m) {
                        log(line(e, seed: s, elapsed: Date().timeIntervalSince(start)))
                        if showSamples { for g in e.samples.prefix(3) { log("    sample (g* \(g.score)): \(g.text)") } }
                    }
                }
            }
            results.append(SeedResult(exp))
            if firstData == nil { firstData = exp.data }
        }
        log(String(format: "done in %.1f s", Date().timeIntervalSince(start)))
        if let report, let data = firstData {
            let writer = ReportWriter(config: cfg, data: data, results: results)
            do { try writer.write(to: report) } catch { throw CLIError(error.description) }
            log("report written to \(report)/ (report.md, summary.json, metrics.jsonl, rows-*.csv)")
        }
    }

    private static func line(_ e: EpochMetrics, seed: UInt64, elapsed: Double) -> String {
        var s = "seed \(seed) " + e.method.padding(toLength: 13, withPad: " ", startingAt: 0) + "epoch \(e.epoch)"
        if let l = e.trainLoss { s += String(format: "  loss %8.3f", l) } else { s += "  loss        -" }
        s += String(format: "  V_DR %7.3f ± %5.3f", e.vDR.value, 1.96 * e.vDR.standardError)
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
