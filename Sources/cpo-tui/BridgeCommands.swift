import ArgumentParser
import Bridge
import Foundation
import Lab
import OutcomeData

/// `cpo-tui export`: what a GPU job needs to run the comparison with an external trainer.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the prepared experiment for an external trainer (PyTorch + transformers + accelerate): rows with the cross-fitted ĝ, f0 prompts, configuration, ĝ, TRL baselines and train_cpo.py.",
        discussion: """
            The source is a world (--world, default: the config file's world, else \(ShippedWorlds.defaultName)) or your data (--data) with the same options as \
            `cpo-tui run`, or a saved run (--run DIR: its configuration, rows and fitted ĝ). The export prepares the \
            rows and fits ĝ exactly as the lab does, but trains no model: the external trainer does FT itself.

            Files written into --to DIR (JSON Lines files load with datasets.load_dataset("json", data_files=...)):
              train.jsonl, validation.jsonl, eval.jsonl  id, text, outcome (as in the data), split, fold, ghat
                  (out-of-fold for training rows; ĝ predicts the oriented outcome, larger is better),
                  log_propensity and trait when known, true_value (worlds)
              f0_prompts.jsonl  one line per f0 sample to draw (id, split, prompt; "" = from BOS)
              config.json       the configuration, method settings and the objective's options
              ghat.json         ĝ in portable form (apply it with `cpo-tui ghat score`)
              dpo.jsonl, kto.jsonl, sft.jsonl  the association baselines in TRL's formats
              train_cpo.py      the reference trainer: accelerate launch train_cpo.py --export DIR ...

            Not TRL's CPOTrainer: that is Contrastive Preference Optimization, a different method.
            One seed is exported: --seed (with --run, the run's first seed). The same options and seed give
            byte-identical files.
            """)

    @OptionGroup var options: RunOptions
    @Option(name: .customLong("run"), help: "Export a saved run (its configuration, rows and ĝ) instead of --world or --data.")
    var savedRun: String?
    @Option(help: "Directory to write the export into (created if missing).") var to: String
    @Flag(help: "Write into a non-empty directory that holds no earlier export.") var force = false
    @OptionGroup var configFile: ConfigOption

    func validate() throws {
        if savedRun != nil && (options.world != nil || options.data.path != nil) {
            throw ValidationError("--run exports a saved run: drop --world and --data")
        }
    }

    func run() throws {
        let progress: (String) -> Void = { FileHandle.standardError.write(Data(("export: " + $0 + "\n").utf8)) }
        do {
            try Export.checkDestination(to, force: force)
            let trainer = try Export.referenceTrainer()
            let export: Export
            if let savedRun {
                export = try Export.fromRun(savedRun, progress: progress)
            } else {
                var options = self.options
                options.useDefaultWorld(configFile.loadOrWarn().world)
                let cfg = try options.makeConfig()
                let source: ExportSource
                switch cfg.source {
                case .world(let w): source = ExportSource(kind: .world, name: w)
                case .file(let path, _): source = ExportSource(kind: .data, name: path)
                }
                export = try Export.prepare(config: cfg, seed: cfg.seed, source: source, progress: progress)
            }
            let files = try export.files(trainer: trainer)
            try Export.write(files, to: to, force: force)
            progress("wrote \(files.map(\.name).joined(separator: ", ")) into \(to)/")
        } catch let e as BridgeError {
            throw CLIError(e.description)
        }
    }
}

/// `cpo-tui ghat`: the exported outcome model.
struct GhatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ghat",
        abstract: "The exported outcome model ĝ (ghat.json of cpo-tui export).",
        subcommands: [GhatScore.self])
}

struct GhatScore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Add ĝ's prediction (\"ghat\") to each object of a JSON Lines file, e.g. the f0 samples a GPU job drew.",
        discussion: """
            Reads --in (one JSON object per line), scores the text under --text-key with the ĝ of --model, and \
            writes each object to --out with "ghat" set, its other keys and values unchanged. The predictions equal \
            the lab's to the bit (the mean of the K fold models; probabilities for binary outcomes). --out is written \
            atomically and may not be the input. A malformed line is reported as FILE:LINE:COLUMN and nothing is written.
            """)

    @Option(help: "The ghat.json an export wrote.") var model: String
    @Option(name: .customLong("in"), help: "JSON Lines file to score.") var input: String
    @Option(name: .customLong("out"), help: "Where to write the scored lines (not the input file).") var output: String
    @Option(help: "The key holding each object's text.") var textKey = "text"

    func run() throws {
        do throws(BridgeError) {
            let m = try GhatScoring.loadModel(model)
            let n = try GhatScoring.score(model: m, input: input, output: output, textKey: textKey)
            FileHandle.standardError.write(Data("scored \(n) text\(n == 1 ? "" : "s") into \(output)\n".utf8))
        } catch {
            throw CLIError(error.description)
        }
    }
}
