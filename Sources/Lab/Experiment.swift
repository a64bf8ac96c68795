import CausalPO
import CPOSupport
import Foundation
import OutcomeData
import TinyLM

/// Preparation milestones, for progress displays.
public enum PrepStage: String, Sendable, Codable, CaseIterable {
    case data, tokenizer, ft, ghat, f0, baseline, ready
}

/// Held-out inputs for the estimators (`texts`: the held-out rows and their own f0 samples),
/// and the win-rate prompts with FT's judged continuations.
@dynamicMemberLookup
struct EvalInputs: Sendable {
    let texts: ScoredTexts
    let winPrompts: [[Int32]]
    /// The judge's score of FT's continuation of each prompt.
    let ftWinScores: [Double]

    subscript<T>(dynamicMember path: KeyPath<ScoredTexts, T>) -> T { texts[keyPath: path] }
}

/// The judge of win rates on a user's data (in worlds the oracle judges).
enum UserDataJudge: Sendable {
    /// k nearest neighbours on character n-grams, fitted on the held-out rows only.
    case neighbors(NearestNeighborJudge)
    /// A ridge on ĝ's features fitted on the held-out rows: what runs saved before the
    /// neighbour judge used, kept so that they resume exactly.
    case ridge(OutcomeModel)

    func predict(_ texts: [String]) -> [Double] {
        switch self {
        case .neighbors(let j): return j.predict(texts)
        case .ridge(let m): return m.predict(texts)
        }
    }

    var neighbors: NearestNeighborJudge? { if case .neighbors(let j) = self { j } else { nil } }
    var ridge: OutcomeModel? { if case .ridge(let m) = self { m } else { nil } }
}

/// One seed's whole experiment: the data, the tokenizer, FT, ĝ, the f0 samples and one
/// `MethodRun` per method. Used from one thread at a time (the session's worker, or a
/// headless run).
public final class Experiment: @unchecked Sendable {
    public let config: LabConfig
    public let seed: UInt64
    public let data: PreparedData
    public private(set) var stage: PrepStage = .data
    /// The model every method trains: `config.model` with the context and vocabulary fitted to
    /// the training texts once the tokenizer is trained (`ModelFit`).
    public private(set) var modelShape: ModelConfig
    /// How the model fits the data: the chosen shape and the texts its context cuts.
    public private(set) var fit: ModelFit?
    public private(set) var ftHistory: [FTEpoch] = []
    /// FT's training steps (loss per step, epoch), as preparation trained it; empty in an
    /// experiment restored from a checkpoint (saved runs keep FT's epochs, not its steps).
    public private(set) var ftSteps: [StepRecord] = []
    public private(set) var ghatQuality: OutcomeModelQuality?
    /// ĝ's quality against the true outcomes (differs from `ghatQuality` for a negated ĝ).
    public private(set) var ghatQualityVersusOutcomes: OutcomeModelQuality?
    public private(set) var attributeEffects: [AttributeEffect] = []
    /// Standardized mean differences of the attributes between trait groups in the training rows.
    public private(set) var traitImbalance: [Double] = []
    public private(set) var metrics: [Method: [EpochMetrics]] = [:]
    public private(set) var steps: [Method: [StepRecord]] = [:]
    public private(set) var ftMetrics: EpochMetrics?
    /// Each method's latest judged scores of its continuations of the win-rate prompts (FT's
    /// included), so any two methods can be compared prompt by prompt.
    public private(set) var winScores: [Method: [Double]] = [:]
    /// V(FT) as the oracle sees it (worlds).
    public private(set) var ftTrueValue: Double?
    /// Every text of each method's last evaluation, judged (the Generations panel lists them;
    /// `EpochMetrics.samples` keeps the first `shownSamples`). Not saved: a resumed run has
    /// none until its next evaluation.
    public private(set) var evaluationTexts: [Method: [GeneratedText]] = [:]

    private(set) var codec: TextCodec?
    private(set) var ft: Transformer?
    private(set) var inputs: TrainingInputs?
    private(set) var evalInputs: EvalInputs?
    private(set) var ghatModel: CrossFittedOutcomeModel?
    /// ĝ as preparation fitted it (nil before preparation).
    public var outcomeModel: CrossFittedOutcomeModel? { ghatModel }
    private(set) var judge: UserDataJudge?
    private(set) var runs: [Method: MethodRun] = [:]
    /// log P^f of the held-out rows and f0 samples under each method's model as its last
    /// evaluation computed them, until the method trains again: `heldOutRows` and
    /// `heldOutF0Samples` (the report) read them instead of running the model over them again.
    private var lastHeldOutLogProbs: [Method: (rows: [Double], f0: [Double])] = [:]
    let compute: Compute

    public convenience init(config: LabConfig, seed: UInt64) throws(LabError) {
        try config.validate()
        try config.checkIdentification()
        self.init(config: config, seed: seed, data: try PreparedData.make(config, seed: seed))
    }

    /// An experiment on rows made elsewhere (tests: the same run with some rows changed).
    init(config: LabConfig, seed: UInt64, data: PreparedData) {
        self.config = config
        self.seed = seed
        self.data = data
        self.compute = Compute(threads: config.threads)
        modelShape = config.model
    }

    /// An experiment as a checkpoint left it: prepared, each method at its saved epoch. Every
    /// random stream is derived from the seed and a label (epoch numbers included), so the
    /// saved counters are the whole random state, and training goes on exactly as it would have.
    init(restoring r: RestoredExperiment) {
        config = r.config
        seed = r.seed
        data = r.data
        compute = r.compute
        modelShape = r.ft.config
        stage = .ready
        ftHistory = r.prep.ftHistory
        ghatQuality = r.prep.ghatQuality
        ghatQualityVersusOutcomes = r.prep.ghatQualityVersusOutcomes
        attributeEffects = r.prep.attributeEffects
        traitImbalance = r.prep.traitImbalance
        ftMetrics = r.prep.ftMetrics
        ftTrueValue = r.ftTrueValue
        codec = r.codec
        ft = r.ft
        var fit = ModelFit(r.config, model: r.ft.config, codec: r.codec, parts: Self.fitParts(r.data))
        fit.countF0(r.inputs.f0Seqs + r.evalInputs.f0Seqs)
        self.fit = fit
        inputs = r.inputs
        evalInputs = r.evalInputs
        ghatModel = r.prep.ghat
        judge = r.prep.neighborJudge.map(UserDataJudge.neighbors) ?? r.prep.judge.map(UserDataJudge.ridge)
        winScores[.reference] = r.evalInputs.ftWinScores
        for m in r.methods {
            // Every model of the run is used one at a time: they keep their activations in one place.
            m.run.model.shareWorkspace(with: r.ft)
            runs[m.run.method] = m.run
            metrics[m.run.method] = m.metrics
            steps[m.run.method] = m.steps
            if let w = m.winScores { winScores[m.run.method] = w }
        }
    }

    /// A prepared experiment from the preparation cache (`PreparationCache`): the prepared state
    /// of a checkpoint written without methods, plus what a checkpoint does not keep (FT's steps
    /// and the texts of FT's evaluation), with a fresh run per method: as `prepare` leaves it.
    convenience init(cached r: RestoredExperiment, ftSteps: [StepRecord], ftTexts: [GeneratedText]) {
        self.init(restoring: r)
        self.ftSteps = ftSteps
        evaluationTexts[.reference] = ftTexts
        if let ft, let base = ftMetrics { startMethods(ft, base: base) }
    }

    private func derived(_ label: String) -> UInt64 { SeededRandom.derivedSeed(seed, label) }

    /// The seed every method's training draws from (batches, f0 cycles, KL samples).
    static func trainingSeed(_ seed: UInt64) -> UInt64 { SeededRandom.derivedSeed(seed, "train") }

    /// What the user must know before trusting this run: the data's warnings (identification,
    /// propensities, rows left out) and the texts the context cuts.
    public var warnings: [String] { data.warnings + (fit?.warnings ?? []) }

    // MARK: - preparation

    /// Where the f0 stage's progress stands when it starts sampling the training and the
    /// held-out f0 texts (scoring the rows under FT comes first).
    static let f0TrainSamplingProgress = 0.2
    static let f0EvalSamplingProgress = 0.7
    /// FT's progress message names a new step every this many steps (the progress itself, with
    /// FT's steps for the Loss panel, comes every step).
    static let ftProgressInterval = 10
    /// How many of a model's texts an evaluation keeps in its metrics (`EpochMetrics.samples`,
    /// saved with the run), and how many a request draws (`generate`). The live snapshot
    /// carries every text of the last evaluation (`evaluationTexts`).
    public static let shownSamples = 8

    /// Tokenizer (and the model's shape), FT (until its validation loss stops improving), ĝ, f0
    /// samples and FT's own evaluation. `progress` gets each stage with a fraction in [0, 1] of
    /// that stage.
    public func prepare(progress: (PrepStage, Double, String) -> Void = { _, _, _ in },
                        cancelled: () -> Bool = { false }) throws(LabError) {
        let codec = try trainTokenizer(progress)
        let trainSeqs = data.train.map { codec.sequence(for: $0.text) }
        let evalSeqs = data.eval.map { codec.sequence(for: $0.text) }
        let ft = try trainFT(train: trainSeqs, validation: data.validation.map { codec.sequence(for: $0.text) }, progress,
                             cancelled: cancelled)
        let ghat = try fitGhat(progress)
        try fitJudge(progress)
        prepareInputs(codec: codec, ft: ft, ghat: ghat, train: trainSeqs, progress)
        prepareEvalInputs(codec: codec, ft: ft, ghat: ghat, eval: evalSeqs, promptSource: trainSeqs, progress)
        if let inputs, let evalInputs, var fit {
            fit.countF0(inputs.f0Seqs + evalInputs.f0Seqs)
            if let c = fit.f0Cut { progress(.f0, 1, "FT's f0 texts cut by the \(modelShape.contextLength)-token context: \(c.cut) of \(c.count)") }
            self.fit = fit
        }
        evaluateBaseline(ft, progress)
    }

    /// The parts of the data whose texts the context may cut, training first.
    static func fitParts(_ data: PreparedData) -> [(name: String, texts: [String])] {
        [("training", data.train.map(\.text)), ("validation", data.validation.map(\.text)), ("held-out", data.eval.map(\.text))]
    }

    /// The tokenizer, trained on the training texts, and the model's shape fitted to them.
    private func trainTokenizer(_ progress: (PrepStage, Double, String) -> Void) throws(LabError) -> TextCodec {
        stage = .tokenizer
        progress(.tokenizer, 0, "training the tokenizer on \(data.train.count) texts")
        let tokenizer: BPETokenizer
        do {
            tokenizer = try BPETokenizer.train(corpus: data.train.map(\.text), vocabSize: config.model.vocabSize)
        } catch {
            throw .failed("tokenizer: \(error)")
        }
        modelShape = ModelFit.shape(config, tokenizer: tokenizer, trainingTexts: data.train.map(\.text))
        let codec = TextCodec(tokenizer: tokenizer, contextLength: modelShape.contextLength)
        let fit = ModelFit(config, model: modelShape, codec: codec, parts: Self.fitParts(data))
        progress(.tokenizer, 1, fit.summary)
        self.fit = fit
        self.codec = codec
        return codec
    }

    /// FT: next-token training on the training texts, stopped by the validation rows (`FineTuning`).
    private func trainFT(train: [[Int32]], validation: [[Int32]], _ progress: (PrepStage, Double, String) -> Void,
                         cancelled: () -> Bool) throws(LabError) -> Transformer {
        let cfg = config
        stage = .ft
        let ft: Transformer
        do {
            ft = try Transformer(config: modelShape, seed: derived("ft-init"), compute: compute)
        } catch {
            throw .invalidConfig(error.description)
        }
        let stepsPerEpoch = (train.count + cfg.batchSize - 1) / cfg.batchSize
        var message = "FT training"
        ftSteps = []
        ftHistory = FineTuning.train(
            ft, train: train, validation: validation, config: cfg, seed: derived("ft"),
            onEpoch: { e in progress(.ft, Double(e.epoch) / Double(cfg.ftMaxEpochs),
                                     String(format: "FT epoch %d: train loss %.3f, validation loss %.3f (%.1f s)", e.epoch, e.trainLoss, e.evalLoss, e.seconds)) },
            onStep: { s, epoch, loss in
                // Every step reaches the progress (the Loss panel draws FT's steps live); the
                // message changes every `ftProgressInterval` steps, so it can be read.
                ftSteps.append(StepRecord(step: s, epoch: epoch, loss: loss, batchESSFraction: nil, clippedShare: 0,
                                          gradNorm: .nan, skipped: !loss.isFinite))
                if s % Self.ftProgressInterval == 0 || s == 1 { message = String(format: "FT step %d, loss %.3f", s, loss) }
                progress(.ft, Double(s) / Double(stepsPerEpoch * cfg.ftMaxEpochs), message)
            }, cancelled: cancelled)
        self.ft = ft
        if cancelled() { throw .failed("cancelled") }
        progress(.ft, 1, FineTuning.outcome(ftHistory, config: cfg))
        return ft
    }

    /// ĝ cross-fitted on the training rows (or fit on a separate log), and its diagnostics
    /// against the training rows.
    private func fitGhat(_ progress: (PrepStage, Double, String) -> Void) throws(LabError) -> CrossFittedOutcomeModel {
        stage = .ghat
        progress(.ghat, 0, "fitting ĝ on \(data.ghatRows.count) rows")
        let kind = data.outcomeModelKind
        let ghatModel = try data.fitOutcomeModel(config, seed: seed)
        self.ghatModel = ghatModel
        ghatQuality = ghatModel.quality
        let trainGhat = data.trainingRowsGhat(ghatModel)
        ghatQualityVersusOutcomes = OutcomeModelQuality.of(kind: kind, predictions: trainGhat, targets: data.train.map(\.outcome))
        if !data.attributeNames.isEmpty {
            attributeEffects = Diagnostics.attributeEffects(
                attributes: data.train.map(\.attributes), outcomes: data.train.map(\.outcome), predictions: trainGhat,
                trueEffects: data.world?.attributes.map(\.effect))
        }
        if data.train.allSatisfy({ $0.trait != nil }) && !data.attributeNames.isEmpty {
            traitImbalance = Diagnostics.standardizedMeanDifferences(attributes: data.train.map(\.attributes),
                                                                     trait: data.train.map { ($0.trait ?? 0) > 0 ? 1 : -1 })
        }
        return ghatModel
    }

    /// For user data, the judge of the win rates: a different model on different features from
    /// ĝ's, fitted on the held-out rows only (`NearestNeighborJudge`), with its cross-validated
    /// quality and whether it can tell texts apart at all (`judgeAssessment`).
    private func fitJudge(_ progress: (PrepStage, Double, String) -> Void) throws(LabError) {
        guard data.world == nil else { return }
        progress(.ghat, 0.5, "fitting the judge on \(data.eval.count) held-out rows")
        do {
            judge = .neighbors(try NearestNeighborJudge.fit(
                texts: data.eval.map(\.text), outcomes: data.eval.map(\.outcome),
                kind: data.outcomeKind == .binary ? .logistic : .ridge, seed: derived("judge")))
        } catch {
            throw .failed("the judge: \(error)")
        }
    }

    /// How well the user-data judge tells texts apart (nil in worlds, where the oracle judges,
    /// and for runs saved before the judge was assessed).
    public var judgeAssessment: JudgeAssessment? { judge?.neighbors?.assessment }

    /// P^R of `rows`: the rows' propensities (logged, or in worlds with `--propensity marginal`
    /// averaged over readers: `PreparedData` put them on the rows), or the FT model's log-probs `model`.
    private func logPR(_ rows: [OutcomeRow], model: [Double]) -> [Double] {
        config.propensity == .model ? model : rows.map { $0.logPropensity ?? -.infinity }
    }

    /// The training inputs: the rows under FT and P^R, and the f0 samples with ĝ.
    private func prepareInputs(codec: TextCodec, ft: Transformer, ghat: CrossFittedOutcomeModel, train: [[Int32]],
                               _ progress: (PrepStage, Double, String) -> Void) {
        let cfg = config
        stage = .f0
        progress(.f0, 0, "scoring the rows under FT")
        let trainLogPFT = Batches.logProbs(ft, train)
        progress(.f0, Self.f0TrainSamplingProgress, "sampling \(cfg.f0Ratio * train.count) f0 texts")
        let trainF0 = f0Samples(from: train, count: cfg.f0Ratio * train.count, label: "f0-train")
        let outcomes = data.train.map(\.outcome)
        let mean = outcomes.reduce(0, +) / Double(outcomes.count)
        let sd = (outcomes.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, outcomes.count - 1))).squareRoot()
        inputs = TrainingInputs(
            texts: ScoredTexts(
                rowSeqs: train, outcomes: outcomes, logPR: logPR(data.train, model: trainLogPFT), ghat: data.trainingRowsGhat(ghat),
                f0Seqs: trainF0.map(\.sequence), f0LogP0: trainF0.map(\.sequenceLogProb),
                f0Ghat: ghat.predict(trainF0.map { codec.text($0.sequence) })),
            logPFT: trainLogPFT, outcomeSD: sd, ft: ft)
    }

    /// The held-out inputs with their own f0 samples, and the win-rate prompts (held-out texts
    /// cut at a random token) with FT's judged continuations. The f0 samples never come from the
    /// held-out rows (`f0Samples`): drawn from scratch, or continuing prompts cut from
    /// `promptSource`, the training texts, so V_DR's two terms stay independent.
    private func prepareEvalInputs(codec: TextCodec, ft: Transformer, ghat: CrossFittedOutcomeModel, eval: [[Int32]],
                                   promptSource: [[Int32]], _ progress: (PrepStage, Double, String) -> Void) {
        let cfg = config
        progress(.f0, Self.f0EvalSamplingProgress, "sampling held-out f0 texts")
        let f0 = f0Samples(from: promptSource, count: cfg.f0Ratio * eval.count, label: "f0-eval")
        let evalLogPFT = Batches.logProbs(ft, eval)
        var rng = SeededRandom(seed: derived("win-prompts"))
        var promptRows = Array(eval.indices)
        rng.shuffle(&promptRows)
        let prompts: [[Int32]] = promptRows.prefix(cfg.winRatePrompts).map { i in
            let s = eval[i]
            let cut = 1 + rng.int(below: max(1, s.count - 2))
            return Array(s.prefix(min(cut, modelShape.contextLength)))
        }
        let ftCont = ft.sample(prompts: prompts, options: SamplingOptions(temperature: 1, maxNewTokens: modelShape.contextLength),
                               seed: derived("win-ft"))
        evalInputs = EvalInputs(
            texts: ScoredTexts(
                rowSeqs: eval, outcomes: data.eval.map(\.outcome), logPR: logPR(data.eval, model: evalLogPFT),
                ghat: ghat.predict(data.eval.map(\.text)), f0Seqs: f0.map(\.sequence), f0LogP0: f0.map(\.sequenceLogProb),
                f0Ghat: ghat.predict(f0.map { codec.text($0.sequence) })),
            winPrompts: prompts, ftWinScores: ftCont.map { judgeScore(codec.text($0.sequence)) })
    }

    /// FT's own evaluation, the baseline every method starts from (each method's epoch 0), and a
    /// fresh run per method.
    private func evaluateBaseline(_ ft: Transformer, _ progress: (PrepStage, Double, String) -> Void) {
        stage = .baseline
        progress(.baseline, 0, "evaluating FT")
        let base = evaluate(ft, method: .reference, epoch: 0, trainLoss: nil)
        ftMetrics = base
        ftTrueValue = base.trueValue?.value
        winScores[.reference] = evalInputs?.ftWinScores
        startMethods(ft, base: base)
        stage = .ready
        progress(.ready, 1, "ready")
    }

    /// A fresh run per method, each at epoch 0 with FT's evaluation `base` (and its texts).
    private func startMethods(_ ft: Transformer, base: EpochMetrics) {
        let ftTexts = evaluationTexts[.reference]
        for m in config.methods {
            evaluationTexts[m] = ftTexts
            let run = MethodRun(method: m, ft: ft, learningRate: config.learningRate)
            // Every model of the run is used one at a time: they keep their activations in one place.
            run.model.shareWorkspace(with: ft)
            runs[m] = run
            var epoch0 = base
            epoch0.method = m
            metrics[m] = [epoch0]
            steps[m] = []
        }
    }

    /// f0 samples, drawn from FT: from BOS (`f0FromScratch`, the default), or continuing `seqs`
    /// cut after a random token (the paper's choice).
    ///
    /// Only from scratch is the importance ratio P^f/P^{f0} exact: a continuation of a prompt cut
    /// from row i after c tokens has the density q(x) = Σ_i Σ_c π_ic 1[x_<c = s_i,<c] P^FT(x)/P^FT(x_<c)
    /// (π_ic the chance of row i and cut c), a mixture over the rows' prefixes, not P^FT(x),
    /// which is what `Sample.sequenceLogProb` gives. With P^FT(x) the f0 terms estimate the
    /// value of f tilted toward the rows' prefixes. The exact q needs FT's probability of every
    /// prefix the sample shares with a row, and its weights fall on the samples whose prompts
    /// were short (a long prompt's own probability under f is tiny), so it wastes most samples:
    /// drawing from scratch is exact, cheaper and keeps every sample (CausalPO.docc/ValueEstimation.md,
    /// "Where the f0 samples come from").
    private func f0Samples(from seqs: [[Int32]], count: Int, label: String) -> [Sample] {
        guard let ft else { return [] }
        var rng = SeededRandom(seed: derived(label + "-prompts"))
        let prompts: [[Int32]] = (0..<count).map { _ in
            if config.f0FromScratch { return [BPETokenizer.bos] }
            let s = seqs[rng.int(below: seqs.count)]
            let cut = 1 + rng.int(below: max(1, s.count - 2))
            return Array(s.prefix(min(cut, modelShape.contextLength)))
        }
        return ft.sample(prompts: prompts, options: SamplingOptions(temperature: 1, maxNewTokens: modelShape.contextLength),
                         seed: derived(label))
    }

    /// The judge: the world's oracle, or for user data `judge`, fitted on the held-out rows only.
    private func judgeScore(_ text: String) -> Double {
        if let w = data.world { return w.oracle(text).value }
        return judge?.predict([text]).first ?? .nan
    }

    // MARK: - training and evaluation

    /// Trains `method` for one more epoch and evaluates it. Returns the new metrics, or nil when
    /// `cancelled` cut the epoch short (the experiment is then mid-epoch and must not be saved).
    @discardableResult
    public func step(_ method: Method, onStep: (StepRecord) -> Void = { _ in }, cancelled: () -> Bool = { false }) -> EpochMetrics? {
        guard let run = runs[method], let inputs else { return nil }
        let t0 = Date()
        lastHeldOutLogProbs[method] = nil
        var losses: [Double] = []
        run.trainEpoch(inputs, config: config, seed: Self.trainingSeed(seed), onStep: { rec in
            self.steps[method, default: []].append(rec)
            if rec.loss.isFinite { losses.append(rec.loss) }
            onStep(rec)
        }, cancelled: cancelled)
        // An epoch cut short is not evaluated: the experiment is being abandoned.
        if cancelled() { return nil }
        let trainLoss = losses.isEmpty ? nil : losses.reduce(0, +) / Double(losses.count)
        var m = evaluate(run.model, method: method, epoch: run.epoch, trainLoss: trainLoss)
        m.seconds = Date().timeIntervalSince(t0)
        metrics[method, default: []].append(m)
        return m
    }

    public func epochs(of method: Method) -> Int { runs[method]?.epoch ?? 0 }
    public func failure(of method: Method) -> String? { runs[method]?.failed }
    public func skippedSteps(of method: Method) -> Int { runs[method]?.skippedSteps ?? 0 }
    /// The log importance weights (relative to uniform) of the method's last training epoch.
    public func lastEpochLogWeights(of method: Method) -> [Double] { runs[method]?.lastEpochLogWeights ?? [] }

    /// Every estimate for `model` on the held-out data, and what its own texts show. The
    /// reference is evaluated as itself: every weight 1, KL 0, win rate ½, gain 0.
    func evaluate(_ model: Transformer, method: Method, epoch: Int, trainLoss: Double?) -> EpochMetrics {
        let t0 = Date()
        guard let ev = evalInputs, let ft, let codec else { preconditionFailure("evaluate before prepare") }
        let isReference = method.role == .reference
        let rowLogP = heldOutRowLogProbs(model, isReference: isReference, ev)
        let f0LogP = heldOutF0LogProbs(model, isReference: isReference, ev)
        lastHeldOutLogProbs[method] = (rowLogP, f0LogP)
        let inputs = EstimatorInputs(
            logP: rowLogP, logPR: ev.logPR, outcomes: ev.outcomes, ghat: ev.ghat, sampleLogP: f0LogP,
            sampleLogP0: ev.f0LogP0, sampleGhat: ev.f0Ghat, normalization: config.objective.normalization)
        let heldOut = HeldOutEvaluation(inputs, batchSize: config.batchSize)
        // How much hidden confounding each estimate survives, against FT's estimate (FT's own: Λ* = 1).
        let sensitivity = Sensitivity.estimators.compactMap { e in
            Sensitivity.analyze(inputs, estimator: e, reference: isReference ? heldOut.estimates[e].value : ftMetrics?.estimates[e].value,
                                seed: derived("sensitivity-\(method.rawValue)-\(epoch)"))
        }

        // The model's own texts: true value, invalid rate, attribute shares, KL to FT.
        let label = "\(method.rawValue)-\(epoch)"
        let own = model.sample(prompts: [[Int32]](repeating: [BPETokenizer.bos], count: config.evalSamples),
                               options: SamplingOptions(temperature: 1, maxNewTokens: modelShape.contextLength),
                               seed: derived("eval-samples-" + (isReference ? method.rawValue : label)))
        let ftLogP = isReference ? own.map(\.logProb) : Batches.logProbs(ft, own.map(\.sequence))
        let texts = own.map { codec.text($0.sequence) }
        let judged = judgeOwnTexts(texts, logRatiosToFT: zip(own, ftLogP).map { $0.logProb - $1 }, isReference: isReference)
        evaluationTexts[method] = judged.all

        // Win rate against FT on continuations of the held-out prompts.
        let winRate: Estimate
        if isReference {
            winRate = Estimate(value: 0.5, standardError: 0)
        } else {
            let cont = model.sample(prompts: ev.winPrompts, options: SamplingOptions(temperature: 1, maxNewTokens: modelShape.contextLength),
                                    seed: derived("win-" + label))
            let scores = cont.map { judgeScore(codec.text($0.sequence)) }
            winScores[method] = scores
            winRate = WinRate.estimate(scoresA: scores, scoresB: ev.ftWinScores)
        }
        return EpochMetrics(
            method: method, epoch: epoch, trainLoss: trainLoss, estimates: heldOut.estimates, trueValue: judged.trueValue,
            normalizedGain: judged.gain, invalidRate: judged.invalidRate, attributeShares: judged.shares, winRateVsFT: winRate,
            klToFT: Diagnostics.klDivergence(logPF: own.map(\.logProb), logPFT: ftLogP), weights: heldOut.weights,
            samples: Array(judged.all.prefix(Self.shownSamples)), seconds: Date().timeIntervalSince(t0), f0Weights: heldOut.f0Weights,
            sensitivity: sensitivity)
    }

    /// log P^f of the held-out rows, as every estimate reads them. Under P^R = FT the
    /// reference's are the P^R values themselves (every weight 1).
    private func heldOutRowLogProbs(_ model: Transformer, isReference: Bool, _ ev: EvalInputs) -> [Double] {
        isReference && config.propensity == .model ? ev.logPR : Batches.logProbs(model, ev.rowSeqs)
    }

    /// log P^f of the held-out f0 samples, as every estimate reads them (the reference's are
    /// the f0 log-probabilities themselves: f0 is FT).
    private func heldOutF0LogProbs(_ model: Transformer, isReference: Bool, _ ev: EvalInputs) -> [Double] {
        isReference ? ev.f0LogP0 : Batches.logProbs(model, ev.f0Seqs)
    }

    /// A model's own texts as the judge sees them: in worlds the oracle's true value, the
    /// normalized gain over FT, the invalid rate and the attribute shares; every text judged,
    /// for display (the oracle's value and matches in worlds, the judge's score otherwise).
    private func judgeOwnTexts(_ texts: [String], logRatiosToFT: [Double], isReference: Bool)
        -> (trueValue: Estimate?, gain: Double?, invalidRate: Double?, shares: [String: Double]?, all: [GeneratedText])
    {
        guard let w = data.world else {
            let scores = judge?.predict(texts) ?? []
            return (nil, nil, nil, nil, texts.indices.map { i in
                GeneratedText(text: texts[i], score: i < scores.count ? scores[i] : .nan, attributes: [], invalidSegments: [],
                              logRatioToFT: logRatiosToFT[i])
            })
        }
        let results = texts.map { w.oracle($0) }
        let values = results.map(\.value)
        let trueValue = Diagnostics.meanEstimate(values)
        let invalidRate = Double(results.filter { !$0.invalidSegments.isEmpty }.count) / Double(max(1, results.count))
        var counts = [Int](repeating: 0, count: w.attributes.count)
        for r in results { for a in Set(r.matches.map(\.attribute)) { counts[a] += 1 } }
        let shares = Dictionary(uniqueKeysWithValues: w.attributes.enumerated().map { ($1.name, Double(counts[$0]) / Double(max(1, results.count))) })
        // The gain is relative to FT's true value (the reference's own, when evaluating it).
        var gain: Double? = isReference ? 0 : nil
        if let base = isReference ? trueValue.value : ftTrueValue {
            let room = w.bestValue - base
            if room > 1e-12 { gain = (trueValue.value - base) / room }
        }
        return (trueValue, gain, invalidRate, shares, texts.indices.map { i in
            GeneratedText(text: texts[i], score: values[i], attributes: results[i].matches.map { w.attributes[$0.attribute].name },
                          invalidSegments: results[i].invalidSegments, logRatioToFT: logRatiosToFT[i])
        })
    }

    /// Fresh samples from `method`'s current model, continuing `prefix` (empty: from scratch),
    /// scored by the judge and, in worlds, parsed by the oracle.
    public func generate(_ method: Method, prefix: String, count: Int, seed: UInt64) -> [GeneratedText] {
        guard let codec, let ft, let model = runs[method]?.model ?? (method.role == .reference ? ft : nil) else { return [] }
        let prompt = codec.prompt(for: prefix)
        let samples = model.sample(prompts: [[Int32]](repeating: prompt, count: count),
                                   options: SamplingOptions(temperature: 1, maxNewTokens: modelShape.contextLength),
                                   seed: derived("generate-\(seed)"))
        let ftLogP = Batches.logProbs(ft, samples.map(\.sequence))
        return samples.enumerated().map { i, s in
            let text = codec.text(s.sequence)
            var g = GeneratedText(text: text, score: judgeScore(text), attributes: [], invalidSegments: [],
                                  logRatioToFT: s.sequenceLogProb - ftLogP[i])
            if let w = data.world {
                let o = w.oracle(text)
                g.attributes = o.matches.map { w.attributes[$0.attribute].name }
                g.invalidSegments = o.invalidSegments
            }
            return g
        }
    }

    /// The held-out rows under `method`'s current model: what the estimators used, so anyone
    /// can recompute them (rows.csv).
    public func heldOutRows(_ method: Method) -> [HeldOutRow] {
        guard let ev = evalInputs, let model = runs[method]?.model ?? ft else { return [] }
        let logP = lastHeldOutLogProbs[method]?.rows ?? heldOutRowLogProbs(model, isReference: method.role == .reference, ev)
        let w = softmax(Estimators.logRatios(logP, ev.logPR))
        return data.eval.indices.map { i in
            HeldOutRow(text: data.eval[i].text, outcome: ev.outcomes[i], logPF: logP[i], logPR: ev.logPR[i],
                       ghat: ev.ghat[i], weight: w[i])
        }
    }

    /// The held-out f0 samples under `method`'s current model: with `heldOutRows`, everything
    /// V_OUT and V_DR are computed from (f0-METHOD-seedK.csv).
    public func heldOutF0Samples(_ method: Method) -> [HeldOutF0Sample] {
        guard let ev = evalInputs, let codec, let model = runs[method]?.model ?? ft else { return [] }
        let logP = lastHeldOutLogProbs[method]?.f0 ?? heldOutF0LogProbs(model, isReference: method.role == .reference, ev)
        let w = softmax(Estimators.logRatios(logP, ev.f0LogP0))
        return ev.f0Seqs.indices.map { j in
            HeldOutF0Sample(text: codec.text(ev.f0Seqs[j]), logP0: ev.f0LogP0[j], logPF: logP[j], ghat: ev.f0Ghat[j], weight: w[j])
        }
    }
}
