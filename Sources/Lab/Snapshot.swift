import CausalPO
import Foundation
import OutcomeData

// The interface between `Lab` and `Dashboard`: a session publishes `LabSnapshot`s and accepts
// `LabCommand`s; the dashboard draws snapshots and sends commands, and reads nothing else of
// `Lab`. Every type here is plain data with a public memberwise initializer, so a test in any
// module can build a snapshot by hand.

/// What a method is doing.
public enum MethodState: Sendable, Hashable {
    /// Not prepared yet.
    case waiting
    case training
    /// Ready for a command (FT, the reference, stays so).
    case idle
    /// Stopped for good: the reason (steps kept failing), naming what to change.
    case failed(String)
}

/// One method's part of a snapshot.
public struct MethodSnapshot: Sendable, Hashable {
    public var method: Method
    public var state: MethodState
    /// Epochs trained (0: still FT).
    public var epoch: Int
    public var steps: [StepRecord]
    /// Evaluations, epoch 0 (FT) first.
    public var epochs: [EpochMetrics]
    public var skippedSteps: Int
    /// Log importance weights (relative to uniform) of the last training epoch's batches.
    public var lastEpochLogWeights: [Double]
    /// Every text the last evaluation sampled (`LabConfig.evalSamples`), judged as the first
    /// few kept in `epochs.last.samples` are; empty when unknown (a resumed run before its
    /// next evaluation, a watched run): the Generations panel then lists those few.
    public var evaluationTexts: [GeneratedText]

    public init(method: Method, state: MethodState = .waiting, epoch: Int = 0, steps: [StepRecord] = [],
                epochs: [EpochMetrics] = [], skippedSteps: Int = 0, lastEpochLogWeights: [Double] = [],
                evaluationTexts: [GeneratedText] = []) {
        self.method = method
        self.state = state
        self.epoch = epoch
        self.steps = steps
        self.epochs = epochs
        self.skippedSteps = skippedSteps
        self.lastEpochLogWeights = lastEpochLogWeights
        self.evaluationTexts = evaluationTexts
    }
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

/// The outcome of the latest save of a run (after preparation, after an epoch, or on request),
/// or, until the first save of a resumed run, when the run on disk was saved.
public struct SaveStatus: Sendable, Hashable {
    /// False when the save failed; the training state in memory is kept, and the previous
    /// complete save on disk is untouched.
    public var succeeded: Bool
    /// "saved after CPO epoch 2 (1.1 MB, 0.12 s)" or the error, naming the file and what to do.
    public var message: String
    public var time: Date

    public init(succeeded: Bool, message: String, time: Date = Date()) {
        self.succeeded = succeeded
        self.message = message
        self.time = time
    }
}

/// Samples drawn on request (`LabCommand.generate`) from one method's current model.
public struct RequestedSamples: Sendable, Hashable {
    /// The prompt prefix the samples continue ("" : drawn from scratch).
    public var prefix: String
    public var texts: [GeneratedText]

    public init(prefix: String, texts: [GeneratedText]) {
        self.prefix = prefix
        self.texts = texts
    }
}

/// An immutable picture of a session, safe to hand to any thread (the dashboard draws it).
public struct LabSnapshot: Sendable, Hashable {
    /// How many log lines a snapshot keeps (the newest).
    public static let messageLimit = 200

    public var config: LabConfig
    public var seed: UInt64
    public var phase: LabPhase
    /// Increases with every change, so a reader can skip redrawing an unchanged picture.
    public var version: Int
    /// Log lines, oldest first, at most `messageLimit`.
    public var messages: [String]
    /// "world:NAME" or "csv:FILE"; empty until the rows are loaded.
    public var sourceLabel: String
    public var trainRows: Int
    public var evalRows: Int
    public var worldName: String?
    public var attributeNames: [String]
    public var vStar: Double?
    /// Worlds whose estimated propensities hide the reader trait (the hidden-trait study): the Λ
    /// the trait implies (`World.hiddenTraitLambda`), at which the sensitivity bounds must cover
    /// the truth; nil otherwise.
    public var hiddenTraitLambda: Double?
    public var ghatQuality: OutcomeModelQuality?
    public var ghatQualityVersusOutcomes: OutcomeModelQuality?
    public var attributeEffects: [AttributeEffect]
    public var traitImbalance: [Double]
    /// How well the user-data judge of the win rates tells texts apart (nil in worlds, where
    /// the oracle judges); when it cannot (`informative` false), win rates are not evidence.
    public var judge: JudgeAssessment?
    public var ftHistory: [FTEpoch]
    /// FT's training steps (the Loss panel draws them while FT trains); empty for a resumed
    /// run, whose checkpoint keeps FT's epochs only.
    public var ftSteps: [StepRecord]
    /// The training rows' outcomes (oriented), for the data view's histogram.
    public var trainOutcomes: [Double]
    /// How the outcomes are measured; nil until the rows are loaded.
    public var outcomeKind: OutcomeKind?
    public var split: DataSplit.Record?
    /// Every training row, for the data view's list (shares its storage with the session's rows).
    public var dataPreview: [OutcomeRow]
    /// Attribute, trait and outcome correlations over every training row.
    public var dataCorrelations: DataCorrelations?
    /// Where the run is saved (nil: not saved), and how the last save went.
    public var runDirectory: String?
    public var lastSave: SaveStatus?
    public var methods: [MethodSnapshot]
    /// Samples drawn on request, the latest per method.
    public var generations: [Method: RequestedSamples]
    /// Saved runs side by side (`cpo-tui compare`), which the compare view then draws.
    public var comparison: RunComparison?

    public init(config: LabConfig, seed: UInt64, phase: LabPhase = .preparing(stage: .data, fraction: 0, message: "starting"),
                version: Int = 0, messages: [String] = [], sourceLabel: String = "", trainRows: Int = 0, evalRows: Int = 0,
                worldName: String? = nil, attributeNames: [String] = [], vStar: Double? = nil,
                ghatQuality: OutcomeModelQuality? = nil, ghatQualityVersusOutcomes: OutcomeModelQuality? = nil,
                attributeEffects: [AttributeEffect] = [], traitImbalance: [Double] = [], judge: JudgeAssessment? = nil,
                ftHistory: [FTEpoch] = [], ftSteps: [StepRecord] = [],
                trainOutcomes: [Double] = [], outcomeKind: OutcomeKind? = nil, split: DataSplit.Record? = nil,
                dataPreview: [OutcomeRow] = [], dataCorrelations: DataCorrelations? = nil, runDirectory: String? = nil,
                lastSave: SaveStatus? = nil, methods: [MethodSnapshot]? = nil, generations: [Method: RequestedSamples] = [:]) {
        self.config = config
        self.seed = seed
        self.phase = phase
        self.version = version
        self.messages = messages
        self.sourceLabel = sourceLabel
        self.trainRows = trainRows
        self.evalRows = evalRows
        self.worldName = worldName
        self.attributeNames = attributeNames
        self.vStar = vStar
        self.ghatQuality = ghatQuality
        self.ghatQualityVersusOutcomes = ghatQualityVersusOutcomes
        self.attributeEffects = attributeEffects
        self.traitImbalance = traitImbalance
        self.judge = judge
        self.ftHistory = ftHistory
        self.ftSteps = ftSteps
        self.trainOutcomes = trainOutcomes
        self.outcomeKind = outcomeKind
        self.split = split
        self.dataPreview = dataPreview
        self.dataCorrelations = dataCorrelations
        self.runDirectory = runDirectory
        self.lastSave = lastSave
        self.methods = methods ?? config.methods.map { MethodSnapshot(method: $0) }
        self.generations = generations
    }

    public func method(_ m: Method) -> MethodSnapshot? { methods.first { $0.method == m } }

    /// Adds a log line, keeping the newest `messageLimit`.
    mutating func appendMessage(_ line: String) {
        messages.append(line)
        if messages.count > Self.messageLimit { messages.removeFirst(messages.count - Self.messageLimit) }
    }

    /// Changes the part of method `m` (nothing when `m` is not in the run).
    mutating func setMethod(_ m: Method, _ change: (inout MethodSnapshot) -> Void) {
        guard let i = methods.firstIndex(where: { $0.method == m }) else { return }
        change(&methods[i])
    }

    /// What is known once the run is prepared (or resumed): ĝ, the confounding diagnostics,
    /// FT's epochs and where every method stands.
    mutating func showPrepared(_ exp: Experiment) {
        ghatQuality = exp.ghatQuality
        ghatQualityVersusOutcomes = exp.ghatQualityVersusOutcomes
        attributeEffects = exp.attributeEffects
        traitImbalance = exp.traitImbalance
        judge = exp.judgeAssessment
        ftHistory = exp.ftHistory
        ftSteps = exp.ftSteps
        methods = config.methods.map { exp.snapshot(of: $0) }
    }

    /// What the data view shows, known once the rows are loaded.
    mutating func showData(_ data: PreparedData) {
        sourceLabel = data.sourceLabel
        trainRows = data.train.count
        evalRows = data.eval.count
        worldName = data.world?.name
        attributeNames = data.attributeNames
        vStar = data.world?.bestValue
        hiddenTraitLambda = data.hiddenTraitLambda
        trainOutcomes = data.train.map(\.outcome)
        outcomeKind = data.outcomeKind
        split = data.split
        dataPreview = data.train
        dataCorrelations = DataCorrelations.of(data.train, attributeNames: data.attributeNames)
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
