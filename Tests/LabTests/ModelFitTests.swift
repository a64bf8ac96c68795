import CausalPO
import Foundation
import OutcomeData
import Testing
import TinyLM
@testable import Lab

@Suite("the model fitted to the data")
struct ModelFitTests {
    /// The context holds BOS, the text and EOS (the model reads all but the last), rounded up to
    /// a multiple, at most the cap.
    @Test func contextCoversTheLongestTextWithinTheCap() {
        #expect(TextCodec.contextLength(covering: 47, multiple: 16, cap: 256) == 48)
        #expect(TextCodec.contextLength(covering: 48, multiple: 16, cap: 256) == 64)
        #expect(TextCodec.contextLength(covering: 0, multiple: 16, cap: 256) == 16)
        #expect(TextCodec.contextLength(covering: 300, multiple: 16, cap: 256) == 256)
        #expect(TextCodec.contextLength(covering: 30, multiple: 16, cap: 20) == 20)
        // The covered text is kept whole (with EOS); one token more is cut.
        let tokenizer = BPETokenizer()   // bytes only: one token per ASCII character
        let codec = TextCodec(tokenizer: tokenizer, contextLength: TextCodec.contextLength(covering: 31, multiple: 16, cap: 256))
        let whole = codec.sequence(for: String(repeating: "a", count: 31))
        #expect(whole.count == 33 && whole.last == BPETokenizer.eos && !codec.cuts(textTokens: 31))
        #expect(codec.cuts(textTokens: 32) && codec.sequence(for: String(repeating: "a", count: 32)).last != BPETokenizer.eos)
    }

    /// Fitted: the context from the longest training text, the vocabulary what the tokenizer
    /// learned (a tiny corpus cannot fill 512 ids). Not fitted: the configuration's shape.
    @Test func shapeFollowsTheTrainingTexts() throws {
        let texts = ["the river is clean", "the river is wide and the river is long", "clean the river"]
        let tokenizer = try BPETokenizer.train(corpus: texts, vocabSize: 512)
        #expect(tokenizer.vocabSize < 512)
        var cfg = tinyConfig()
        cfg.model.vocabSize = 512
        cfg.model.contextLength = 256
        let longest = texts.map { tokenizer.encode($0).count }.max()!
        let fitted = ModelFit.shape(cfg, tokenizer: tokenizer, trainingTexts: texts)
        #expect(fitted.vocabSize == tokenizer.vocabSize)
        #expect(fitted.contextLength == TextCodec.contextLength(covering: longest, multiple: ModelFit.contextMultiple, cap: 256))
        #expect(fitted.contextLength < 256 && fitted.dModel == cfg.model.dModel)
        cfg.fitContext = false
        cfg.fitVocabulary = false
        #expect(ModelFit.shape(cfg, tokenizer: tokenizer, trainingTexts: texts) == cfg.model)
    }

    /// A run whose cap is below its texts' length says how many were cut: in the progress line,
    /// as warnings (the session's messages, which the dashboard shows) and in report.md.
    @Test func aTinyRunSaysHowManyTextsWereCut() throws {
        var cfg = tinyConfig(methods: [.ft, .cpo])
        cfg.epochs = 0
        cfg.model.contextLength = 16
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        var messages: [String] = []
        try exp.prepare(progress: { stage, _, message in if stage == .tokenizer { messages.append(message) } })
        let fit = try #require(exp.fit)
        #expect(exp.modelShape.contextLength == 16 && fit.longestTrainingTokens > 15)
        let training = try #require(fit.cuts.first)
        #expect(training.part == "training" && training.count == 64 && training.cut > 0)
        #expect(fit.cuts.map(\.part) == ["training", "validation", "held-out"])
        #expect(messages.contains { $0.contains("cut by the context: training \(training.cut) of 64") }, "\(messages)")
        #expect(exp.warnings.contains { $0.hasPrefix("\(training.cut) of 64 training texts") }, "\(exp.warnings)")

        let md = ReportWriter(config: cfg, data: exp.data, results: [SeedResult(exp, heldOutRows: false)]).markdown()
        #expect(md.contains("## Warnings") && md.contains("\(training.cut) of 64 training texts"))

        let session = LabSession(config: cfg)
        session.start()
        let ready = try #require(waitFor(session) { $0.phase == .idle })
        session.send(.cancel)
        session.waitUntilFinished()
        #expect(ready.messages.contains { $0.hasPrefix("WARNING: \(training.cut) of 64 training texts") }, "\(ready.messages)")
    }

    /// Runs saved before fitting existed read as they were made: the context and vocabulary as
    /// configured, no validation rows, FT stopping at its first epoch without improvement.
    @Test func configurationsFromBeforeReadAsTheyWereMade() throws {
        let old = try Data(contentsOf: URL(fileURLWithPath: CheckpointFixtureTests.fixture + "/config.json"))
        let cfg = try JSONDecoder().decode(LabConfig.self, from: old)
        #expect(!cfg.fitContext && !cfg.fitVocabulary && cfg.validationRows == 0 && cfg.validationFraction == 0)
        #expect(cfg.ftPatience == 1 && cfg.ftMaxEpochs == 2 && cfg.model.contextLength == 48)
        let now = tinyConfig()
        #expect(try JSONDecoder().decode(LabConfig.self, from: JSONEncoder().encode(now)) == now)
    }
}

@Suite("FT stops on its validation rows")
struct FTValidationTests {
    func prepared(_ cfg: LabConfig, _ data: PreparedData) throws -> Experiment {
        let exp = Experiment(config: cfg, seed: cfg.seed, data: data)
        try exp.prepare()
        return exp
    }

    /// FT's epochs without their wall-clock seconds.
    func losses(_ exp: Experiment) -> [[Double]] { exp.ftHistory.map { [Double($0.epoch), $0.trainLoss, $0.evalLoss] } }

    func weights(_ exp: Experiment) throws -> [Float] {
        let ft = try #require(exp.ft)
        return Array(UnsafeBufferPointer(start: ft.params.pointer, count: ft.parameterCount))
    }

    /// The estimation (held-out) rows never reach FT: changing every one of them leaves FT's
    /// epochs and weights exactly as they were; changing the validation rows does not.
    @Test func theEstimationRowsNeverReachFT() throws {
        var cfg = tinyConfig(methods: [.ft])
        cfg.ftMaxEpochs = 4
        let data = try PreparedData.make(cfg, seed: cfg.seed)
        let base = try prepared(cfg, data)

        var otherEval = data
        otherEval.eval = data.eval.reversed().map { var r = $0; r.text = "Nothing like the others. " + r.text; r.outcome = -r.outcome; return r }
        let a = try prepared(cfg, otherEval)
        #expect(losses(a) == losses(base))
        #expect(try weights(a) == weights(base))

        var otherValidation = data
        otherValidation.validation = data.validation.map { var r = $0; r.text = "Nothing like the others. " + r.text; return r }
        let b = try prepared(cfg, otherValidation)
        #expect(b.ftHistory.map(\.evalLoss) != base.ftHistory.map(\.evalLoss), "the validation rows decide FT's stopping")
    }

    /// FT trains until `ftPatience` epochs in a row fail to improve the best validation loss
    /// (or `ftMaxEpochs`), and keeps the best epoch's weights.
    @Test func ftStopsWhenTheValidationLossStopsImprovingAndKeepsTheBest() throws {
        var cfg = tinyConfig(methods: [.ft])
        cfg.ftMaxEpochs = 30
        cfg.ftPatience = 1
        cfg.ftLearningRate = 3e-2   // large: the validation loss soon stops improving
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        try exp.prepare()
        let h = exp.ftHistory
        #expect(h.count < cfg.ftMaxEpochs, "FT did not stop: \(h.map(\.evalLoss))")
        let bestBefore = h.dropLast().map(\.evalLoss).min()!
        #expect(h.last!.evalLoss >= bestBefore * (1 - FineTuning.minRelativeImprovement), "the last epoch improved")
        let kept = try #require(FineTuning.keptEpoch(h))
        let ft = try #require(exp.ft), codec = try #require(exp.codec)
        let validation = exp.data.validation.map { codec.sequence(for: $0.text) }
        #expect(Batches.meanTokenLoss(ft, validation) == kept.evalLoss, "FT holds the best epoch's weights")
    }

    /// Without validation rows FT trains exactly `ftMaxEpochs` epochs.
    @Test func withoutValidationRowsFTTrainsEveryEpoch() throws {
        var cfg = tinyConfig(methods: [.ft])
        cfg.validationRows = 0
        cfg.ftMaxEpochs = 3
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        try exp.prepare()
        #expect(exp.data.validation.isEmpty && exp.ftHistory.count == 3 && exp.ftHistory.allSatisfy { $0.evalLoss.isNaN })
    }
}

@Suite("identification checks")
struct IdentificationTests {
    /// Training on the confounded log with FT as P^R is refused for the methods that weight
    /// rows by P^R, and warned about for the others; the log's own propensities are fine.
    @Test func modelPropensitiesOnTheObservationalLog() throws {
        var cfg = tinyConfig(methods: [.ft, .cpo])
        cfg.design = .observational
        cfg.propensity = .model
        #expect(throws: LabError.self) { try cfg.checkIdentification() }
        #expect(throws: LabError.self) { try Experiment(config: cfg, seed: 0) }
        do { try cfg.checkIdentification() } catch {
            #expect(error.description.contains("--propensity logged") && error.description.contains("CPO"))
        }
        // A run saved before the check existed still opens, and warns.
        try cfg.validate()
        #expect(cfg.identificationWarnings.count == 1 && cfg.identificationWarnings[0].contains("cannot identify"))
        cfg.methods = [.ft, .drCPO, .filteredSFT]
        #expect(throws: LabError.self) { try cfg.checkIdentification() }
        cfg.methods = [.ft, .filteredSFT, .rwr, .dpo, .ooRLHF]
        try cfg.checkIdentification()
        #expect(cfg.identificationWarnings.count == 1 && cfg.identificationWarnings[0].contains("not identified"))
        #expect(try PreparedData.make(cfg, seed: 1).warnings == cfg.identificationWarnings)
        cfg.methods = [.ft, .cpo, .drCPO]
        cfg.propensity = .logged
        try cfg.checkIdentification()
        #expect(cfg.identificationWarnings.isEmpty)
        cfg.design = .randomized
        cfg.propensity = .model
        try cfg.checkIdentification()
        #expect(cfg.identificationWarnings.isEmpty)
    }

    func rows(_ texts: [String], _ propensities: [Double]) -> [OutcomeRow] {
        zip(texts, propensities).map { OutcomeRow(text: $0, outcome: 1, logPropensity: log($1)) }
    }

    @Test func propensitiesThatCannotBeProbabilities() {
        // Distinct texts whose probabilities sum above 1.
        #expect(PropensityCheck(rows(["a", "b", "c"], [0.5, 0.4, 0.3])) != .plausible)
        if case .impossible(let s) = PropensityCheck(rows(["a", "b", "c"], [0.5, 0.4, 0.3])) {
            #expect(s.contains("sum to 1.2"))
        } else {
            Issue.record("a sum of 1.2 over distinct texts is impossible")
        }
        // A text shown to two kinds of readers with different propensities: the smaller counts.
        #expect(PropensityCheck(rows(["a", "a", "b"], [0.9, 0.5, 0.5])) == .plausible)
        // One randomization over 4 texts, each seen often: the sum should be near 1.
        let texts = (0..<400).map { "text \($0 % 4)" }
        #expect(PropensityCheck(rows(texts, [Double](repeating: 0.25, count: 400))) == .plausible)
        guard case .doubtful(let s) = PropensityCheck(rows(texts, [Double](repeating: 0.025, count: 400))) else {
            Issue.record("propensities 10 times too small went unnoticed")
            return
        }
        #expect(s.contains("mis-scaled"))
        // Texts that almost never repeat tell nothing about the scale.
        #expect(PropensityCheck(rows((0..<400).map { "text \($0)" }, [Double](repeating: 1e-6, count: 400))) == .plausible)
    }

    /// The shipped samples' propensities (exact, from the worlds) pass.
    @Test func theShippedSamplesArePlausible() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for name in ["river-cleanup-randomized", "river-cleanup-observational", "newsletter-clicks-randomized",
                     "newsletter-clicks-observational", "seawall-survey-randomized"] {
            let ds = try DatasetLoader.load(path: root.appendingPathComponent("sample-data/\(name).csv").path,
                                            options: LoadOptions(columns: DatasetColumns(propensity: "propensity")))
            #expect(PropensityCheck(ds.rows) == .plausible, "\(name)")
        }
    }

    /// A run that would weight by an impossible propensity column is refused; one that does
    /// not use it warns.
    @Test func runsRefuseOrWarnAboutAnImpossiblePropensityColumn() throws {
        var csv = "text,outcome,propensity\n"
        for i in 0..<60 { csv += "text number \(i % 30),\(i % 7),0.2\n" }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cpo-propensity-\(getpid()).csv").path
        try csv.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var cfg = tinyConfig(methods: [.ft, .cpo])
        cfg.source = .file(path: path, options: LoadOptions(columns: DatasetColumns(propensity: "propensity")))
        cfg.propensity = .logged
        #expect(throws: LabError.self) { try PreparedData.make(cfg, seed: 0) }
        do { _ = try PreparedData.make(cfg, seed: 0) } catch {
            #expect(error.description.contains("sum to 6") && error.description.contains("--propensity model"), "\(error)")
        }
        cfg.propensity = .model
        let data = try PreparedData.make(cfg, seed: 0)
        #expect(data.warnings.count == 1 && data.warnings[0].contains("it is not used"))
    }
}
