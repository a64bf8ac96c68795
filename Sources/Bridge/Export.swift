import CausalPO
import CPOSupport
import Foundation
import Lab
import OutcomeData

/// Why an export or a scoring could not be done; each says what to do.
public struct BridgeError: Error, CustomStringConvertible, Equatable {
    public var description: String

    public init(_ description: String) { self.description = description }
    public init(_ error: InputError) { description = error.description }
    public init(_ error: LabError) { description = error.description }
}

/// Where an export's rows come from (config.json's "source").
public struct ExportSource: Sendable, Equatable {
    public enum Kind: String, Sendable { case world, data, run }
    public var kind: Kind
    /// The world's name or file, the data file, or the run directory.
    public var name: String

    public init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }
}

/// What a GPU job needs to run the lab's experiment with an external trainer (README "Scaling
/// out"): the prepared rows with the out-of-fold ĝ, the f0 prompts, the configuration, ĝ in
/// its portable form and the association baselines in TRL's formats. Everything but the
/// tiny-transformer FT, which the external trainer does itself.
///
/// Note the name clash: TRL's `CPOTrainer` is *Contrastive* Preference Optimization, a
/// different method from the causal CPO exported here.
public struct Export: Sendable {
    /// config.json's "format" and "version".
    public static let format = "cpo-tui-export"
    public static let version = 1
    /// config.json's "cpo_tui_version": the version of the export's writer.
    public static let writerVersion = "0.1.0"

    public static let configName = "config.json"
    public static let ghatName = "ghat.json"
    public static let trainerName = "train_cpo.py"

    /// Every file of an export and what it holds (config.json's "files").
    public static let fileDescriptions: [(name: String, holds: String)] = [
        ("train.jsonl", "training rows: id, text, outcome (as in the data, not oriented), split, fold (ĝ's cross-fitting fold, null when ĝ was fit on other rows), ghat (out-of-fold; ĝ predicts the ORIENTED outcome, larger is better, see outcome.orientation), log_propensity (when known), trait (when known), true_value (worlds)"),
        ("validation.jsonl", "validation rows (FT's early stopping only, never estimation); same keys, fold null, ghat the mean of the fold models"),
        ("eval.jsonl", "held-out rows for the estimators; same keys, fold null, ghat the mean of the fold models"),
        ("f0_prompts.jsonl", "one line per f0 sample to draw from FT: id, split (train or eval), prompt (\"\" = from BOS)"),
        (configName, "this file: the run's configuration, the method settings and the objective's options"),
        (ghatName, "the fitted outcome model ĝ in portable form (format cpo-tui-ghat); cpo-tui ghat score applies it"),
        ("dpo.jsonl", "TRL DPO pairs (prompt, chosen, rejected): outcome-ranked pairs of training rows within the Swift core's first-epoch batches"),
        ("kto.jsonl", "TRL KTO rows (prompt, completion, label): label = oriented outcome above the training median"),
        ("sft.jsonl", "TRL SFT rows (text): filtered-SFT's top filter_quantile of training rows by oriented outcome"),
        (trainerName, "the reference trainer (transformers + accelerate) for OO-RLHF, CPO and DR-CPO; not TRL's CPOTrainer, which is Contrastive Preference Optimization, a different method"),
    ]

    public let config: LabConfig
    public let seed: UInt64
    public let source: ExportSource
    public let data: PreparedData
    public let ghat: CrossFittedOutcomeModel

    public init(config: LabConfig, seed: UInt64, source: ExportSource, data: PreparedData, ghat: CrossFittedOutcomeModel) {
        self.config = config
        self.seed = seed
        self.source = source
        self.data = data
        self.ghat = ghat
    }

    /// train_cpo.py mirrors the lab's objectives except the robust one: an export that named it
    /// would train something else in Python.
    static func refuseWhatThePythonTrainerLacks(_ config: LabConfig) throws(BridgeError) {
        if config.objective.robustLambda != 1 {
            throw BridgeError("--robust-lambda \(config.objective.robustLambda): the Python reference trainer (train_cpo.py) has no "
                              + "robust objective; export a configuration without --robust-lambda")
        }
    }

    /// Prepares `config`'s rows for `seed` and fits ĝ exactly as the lab's preparation does,
    /// without training the tokenizer or FT. `progress` gets a line per long step.
    public static func prepare(config: LabConfig, seed: UInt64, source: ExportSource,
                               progress: (String) -> Void = { _ in }) throws(BridgeError) -> Export {
        try refuseWhatThePythonTrainerLacks(config)
        do {
            try config.validate()
            try config.checkIdentification()
            let t0 = Date()
            let data = try PreparedData.make(config, seed: seed)
            progress("\(data.sourceLabel): \(data.train.count) training, \(data.validation.count) validation, \(data.eval.count) held-out rows")
            for w in data.warnings { progress("warning: " + w) }
            progress("fitting ĝ (\(data.outcomeModelKind.rawValue)) on \(data.ghatRows.count) rows, \(config.folds) cross-fitting folds, λ chosen by cross-fitted quality")
            let ghat = try data.fitOutcomeModel(config, seed: seed)
            progress(String(format: "ĝ: held-out %@ %.3f (λ %g), %.1f s", ghat.quality.metric.rawValue, ghat.quality.value, ghat.lambda,
                            Date().timeIntervalSince(t0)))
            return Export(config: config, seed: seed, source: source, data: data, ghat: ghat)
        } catch {
            throw BridgeError(error)
        }
    }

    /// The export of a saved run: its configuration, its rows (checked against the run's own
    /// by the checkpoint's fingerprint) and the ĝ its preparation fitted. A run saved before
    /// its first checkpoint is prepared from its configuration.
    public static func fromRun(_ path: String, progress: (String) -> Void = { _ in }) throws(BridgeError) -> Export {
        let source = ExportSource(kind: .run, name: path)
        do {
            let (dir, config) = try RunDirectory.open(path)
            try refuseWhatThePythonTrainerLacks(config)
            guard dir.hasCheckpoint(seed: config.seed) else {
                progress("\(path) has no checkpoint of seed \(config.seed) yet: preparing from its configuration")
                return try prepare(config: config, seed: config.seed, source: source, progress: progress)
            }
            progress("reading \(dir.checkpointPath(seed: config.seed))")
            let (experiment, _) = try dir.restore(seed: config.seed, config: config)
            guard let ghat = experiment.outcomeModel else {
                throw BridgeError("\(dir.checkpointPath(seed: config.seed)) holds no ĝ; resume the run once (cpo-tui run --resume \(path)) or export from its configuration")
            }
            return Export(config: config, seed: config.seed, source: source, data: experiment.data, ghat: ghat)
        } catch let e as RunStoreError {
            throw BridgeError(e.description)
        } catch let e as BridgeError {
            throw e
        } catch {
            throw BridgeError("\(path): \(error)")
        }
    }

    // MARK: - the files

    /// ĝ(X_i) of the training rows as the lab's training reads them (out-of-fold when
    /// cross-fitted).
    public var trainingGhat: [Double] { data.trainingRowsGhat(ghat) }

    /// An outcome as the data has it (`PreparedData` holds them oriented, larger is better).
    func dataOutcome(_ oriented: Double) -> Double {
        if data.higherIsBetter { return oriented }
        return data.outcomeKind == .binary ? 1 - oriented : -oriented
    }

    /// The rows of one split as JSON objects, in the prepared order.
    public func rows(_ split: String) -> [JSONText] {
        let rows: [OutcomeRow]
        let ghats: [Double]
        var folds: [Int]? = nil
        switch split {
        case "train":
            rows = data.train
            ghats = trainingGhat
            if data.ghatIsCrossFitted { folds = ghat.folds }
        case "validation":
            rows = data.validation
            ghats = ghat.predict(rows.map(\.text))
        default:
            rows = data.eval
            ghats = ghat.predict(rows.map(\.text))
        }
        return rows.indices.map { i in
            let r = rows[i]
            var fields: [(String, JSONText)] = [
                ("id", .string("\(split)-\(i)")), ("text", .string(r.text)), ("outcome", .number(dataOutcome(r.outcome))),
                ("split", .string(split)), ("fold", folds.map { .int($0[i]) } ?? .null), ("ghat", .number(ghats[i])),
            ]
            if let lp = r.logPropensity { fields.append(("log_propensity", .number(lp))) }
            if let t = r.trait { fields.append(("trait", .number(t))) }
            if let v = r.trueValue { fields.append(("true_value", .number(v))) }
            return .object(fields)
        }
    }

    /// One line per f0 sample the Swift core draws: ratio × rows of each split. From scratch
    /// the prompt is empty (BOS). From prefixes (both splits' prompts come from the training
    /// texts, as in the core), a training text cut after a random number of words (the core
    /// cuts tokens; a GPU model's tokenizer is another), seeded by the split.
    public func f0Prompts() -> [JSONText] {
        var out: [JSONText] = []
        for (split, count) in [("train", config.f0Ratio * data.train.count), ("eval", config.f0Ratio * data.eval.count)] {
            var rng = SeededRandom(seed: SeededRandom.derivedSeed(seed, "f0-\(split)-prompts"))
            for i in 0..<count {
                var prompt = ""
                if !config.f0FromScratch, !data.train.isEmpty {
                    prompt = Self.wordPrefix(data.train[rng.int(below: data.train.count)].text, rng: &rng)
                }
                out.append(.object([("id", .string("f0-\(split)-\(i)")), ("split", .string(split)), ("prompt", .string(prompt))]))
            }
        }
        return out
    }

    /// `text` up to the end of its c-th word, c drawn uniformly from 1...max(1, words − 1): at
    /// least one word, never the whole text when it has two or more.
    static func wordPrefix(_ text: String, rng: inout SeededRandom) -> String {
        var ends: [String.Index] = []
        var inWord = false
        for i in text.indices {
            let space = text[i].isWhitespace
            if inWord && space { ends.append(i) }
            inWord = !space
        }
        if inWord { ends.append(text.endIndex) }
        let cut = 1 + rng.int(below: max(1, ends.count - 1))
        guard !ends.isEmpty else { return "" }
        return String(text[..<ends[min(cut, ends.count) - 1]])
    }

    /// The training outcomes, oriented (larger is better), as every method reads them.
    var orientedTrainingOutcomes: [Double] { data.train.map(\.outcome) }

    /// TRL's DPO pairs: `BaselineRows.dpoPairs`, the lab's DPO pairs of its first epoch.
    public func dpo() -> [JSONText] {
        BaselineRows.dpoPairs(outcomes: orientedTrainingOutcomes, batchSize: config.batchSize, seed: seed).map { p in
            .object([("prompt", .string("")), ("chosen", .string(data.train[p.chosen].text)),
                     ("rejected", .string(data.train[p.rejected].text))])
        }
    }

    /// The training median of the oriented outcomes (the mean of the middle two for an even count).
    var trainingMedian: Double {
        let s = orientedTrainingOutcomes.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// TRL's KTO rows: every training row, desirable when its oriented outcome is above the median.
    public func kto() -> [JSONText] {
        let median = trainingMedian
        return data.train.map { r in
            .object([("prompt", .string("")), ("completion", .string(r.text)), ("label", .bool(r.outcome > median))])
        }
    }

    /// TRL's SFT rows: filtered-SFT's selection (`Objectives.topQuantileSelection`).
    public func sft() -> [JSONText] {
        let selected = Objectives.topQuantileSelection(outcomes: orientedTrainingOutcomes, quantile: config.objective.filterQuantile)
        return data.train.indices.filter { selected[$0] }.map { .object([("text", .string(data.train[$0].text))]) }
    }

    /// config.json.
    public func configJSON() -> JSONText {
        let outcomes = orientedTrainingOutcomes
        let mean = outcomes.reduce(0, +) / Double(max(1, outcomes.count))
        let sd = (outcomes.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, outcomes.count - 1))).squareRoot()
        let o = config.objective
        let labConfig: JSONText
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if let d = try? encoder.encode(config) { labConfig = .raw(String(decoding: d, as: UTF8.self)) } else { labConfig = .null }
        let quality: JSONText = .object([
            ("metric", .string(ghat.quality.metric == .r2 ? "r2" : "auc")), ("value", .number(ghat.quality.value)),
            ("value_versus_outcomes", .number(ghat.qualityVersusOutcomes.value)), ("lambda", .number(ghat.lambda)),
        ])
        return .object([
            ("format", .string(Self.format)), ("version", .int(Self.version)), ("cpo_tui_version", .string(Self.writerVersion)),
            ("source", .object([("kind", .string(source.kind.rawValue)), ("name", .string(source.name)),
                                ("label", .string(data.sourceLabel))])),
            ("seed", .raw(String(seed))),
            ("methods", .array(config.methods.map { .string($0.rawValue) })),
            ("epochs", .int(config.epochs)), ("lr", .float(config.learningRate)), ("batch_size", .int(config.batchSize)),
            ("ft", .object([("max_epochs", .int(config.ftMaxEpochs)), ("patience", .int(config.ftPatience)),
                            ("lr", .float(config.ftLearningRate))])),
            ("rows", .object([("train", .int(data.train.count)), ("validation", .int(data.validation.count)),
                              ("eval", .int(data.eval.count))])),
            ("outcome", .object([
                ("kind", .string(data.outcomeKind.rawValue)), ("lower_is_better", .bool(!data.higherIsBetter)),
                ("orientation", .int(data.higherIsBetter ? 1 : -1)), ("sd", .number(sd)), ("min", .optional(outcomes.min())),
            ])),
            ("propensity", .string(config.propensity.rawValue)),
            ("ghat", .object([("from", .string(config.ghatFrom.rawValue)), ("folds", .int(config.folds)),
                              ("cross_fitted", .bool(data.ghatIsCrossFitted)), ("file", .string(Self.ghatName)), ("quality", quality)])),
            ("f0", .object([("from", .string(config.f0FromScratch ? "scratch" : "prefixes")), ("ratio", .int(config.f0Ratio))])),
            ("objective", .object([
                ("normalization", .string(o.normalization.rawValue)), ("clip", .optional(o.clip)),
                ("entropy_bonus", .number(o.entropyBonus)), ("kl_to_ft", .number(o.klToFT)),
                ("filter_quantile", .number(o.filterQuantile)), ("rwr_temperature", .number(o.rwrTemperature)),
                ("dpo_beta", .number(o.dpoBeta)), ("kl_target", .number(o.klTarget)), ("kl_samples", .int(o.klSamples)),
                ("kl_initial_coefficient", .number(o.klInitialCoefficient)), ("kl_horizon", .number(o.klHorizon)),
                ("anchor", .number(o.anchor)), ("ht_clip", .number(o.htClip)),
            ])),
            ("context_tokens", .int(config.model.contextLength)),
            ("eval_samples", .int(config.evalSamples)),
            ("warnings", .array(data.warnings.map(JSONText.string))),
            ("files", .object(Self.fileDescriptions.map { ($0.name, .string($0.holds)) })),
            ("lab_config", labConfig),
        ])
    }

    /// ghat.json.
    public func ghatJSON() throws(BridgeError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(PortableOutcomeModel(ghat))) + [0x0A]
        } catch {
            throw BridgeError("cannot encode ĝ: \(error)")
        }
    }

    /// Every file of the export with its bytes, in `fileDescriptions`' order; `trainer` is
    /// train_cpo.py's text.
    public func files(trainer: [UInt8]) throws(BridgeError) -> [(name: String, bytes: [UInt8])] {
        [
            ("train.jsonl", JSONText.lines(rows("train"))),
            ("validation.jsonl", JSONText.lines(rows("validation"))),
            ("eval.jsonl", JSONText.lines(rows("eval"))),
            ("f0_prompts.jsonl", JSONText.lines(f0Prompts())),
            (Self.configName, Array((configJSON().rendered(pretty: true) + "\n").utf8)),
            (Self.ghatName, try ghatJSON()),
            ("dpo.jsonl", JSONText.lines(dpo())),
            ("kto.jsonl", JSONText.lines(kto())),
            ("sft.jsonl", JSONText.lines(sft())),
            (Self.trainerName, trainer),
        ]
    }

    /// train_cpo.py from the resource bundle.
    public static func referenceTrainer() throws(BridgeError) -> [UInt8] {
        guard let url = Bridge.referenceTrainerURL() else {
            throw BridgeError("""
                train_cpo.py is not beside this cpo-tui binary (its resource bundle cpo-tui_Bridge.resources is missing). \
                Run the cpo-tui of the build folder (.build/release/cpo-tui), or copy cpo-tui_Bridge.resources next to the binary.
                """)
        }
        do { return try BoundedFile.read(path: url.path, maxBytes: 1 << 24) } catch {
            throw BridgeError("reading the reference trainer: \(error.description)")
        }
    }

    // MARK: - the directory

    /// Writes `files` into `dir` (created if needed), together: every file is written in full
    /// before any replaces its old version, so a failure (a full disk) leaves an earlier export
    /// there as it was. Refuses anything but a directory at `dir` (a file, a named pipe, a
    /// looping link), and a non-empty directory that holds no earlier export (a config.json of
    /// format cpo-tui-export) unless `force`.
    public static func write(_ files: [(name: String, bytes: [UInt8])], to dir: String, force: Bool) throws(BridgeError) {
        try checkDestination(dir, force: force)
        do { try OutputDirectory.make(dir) } catch {
            throw BridgeError("--to \(dir) cannot be created: \(error.reason). Pass a writable directory.")
        }
        let batch = AtomicFile.Batch()
        do {
            for f in files { try batch.add(f.bytes, to: dir + "/" + f.name) }
            try batch.commit()
        } catch {
            let after = if case .renameFailed = error { "files before it are new, the rest old: export again" }
                else { "an earlier export there is as it was (no file of it was replaced)" }
            throw BridgeError("writing the export failed at \(error.path): \(error.reason); \(after).")
        }
    }

    /// Whether `write` would take `dir`, before the work of an export: the refusals of `write`
    /// that depend on what is at `dir` now.
    public static func checkDestination(_ dir: String, force: Bool) throws(BridgeError) {
        var st = stat()
        let found = stat(dir, &st) == 0
        let loops = !found && errno == ELOOP
        if found || loops {
            let kind = FileKind(mode: st.st_mode)
            guard found && kind == .directory else {
                throw BridgeError("--to \(dir) is \(loops ? FileKind.loopingLink : kind.noun); pass a directory (it is created if missing)")
            }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            if !names.isEmpty && !force && !holdsAnExport(dir) {
                throw BridgeError("""
                    --to \(dir) is not empty and holds no earlier export (no config.json of format \(format)). \
                    Pass a new or empty directory, or --force to write the export's files into it anyway.
                    """)
            }
        }
    }

    /// Whether `dir` holds an export's config.json.
    public static func holdsAnExport(_ dir: String) -> Bool {
        guard let bytes = try? BoundedFile.read(path: dir + "/" + configName, maxBytes: 1 << 24),
              let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return false }
        return object["format"] as? String == format
    }
}
