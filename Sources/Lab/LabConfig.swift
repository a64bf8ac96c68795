import CausalPO
import OutcomeData
import TinyLM

/// Where the texts and outcomes come from.
public enum DataSource: Sendable, Hashable, Codable {
    /// A simulated world (path or shipped name): training rows sampled from `design`.
    case world(String)
    /// A user's dataset file with its load options.
    case file(path: String, options: LoadOptions)
}

/// What ĝ is fit on (the paper's settings and its "Confounded" study).
public enum GhatSource: String, Sendable, Hashable, Codable, CaseIterable {
    /// The training rows, cross-fitted.
    case same
    /// A separate observational log of `logRows` rows from the same world (worlds only).
    case observational
    /// The training rows with negated outcomes: a ĝ that believes the opposite.
    case negated
}

/// Where P^R comes from.
public enum PropensitySource: String, Sendable, Hashable, Codable, CaseIterable {
    /// The FT model's sequence log-probabilities (the paper's choice).
    case model
    /// The dataset's propensity column (worlds: the exact design propensity).
    case logged
}

/// Everything that defines a run; recorded in every output, and one seed fixes the rest.
public struct LabConfig: Sendable, Hashable, Codable {
    public var source: DataSource
    /// Worlds: design of the training rows, and how many.
    public var design: WorldDesign
    public var rows: Int
    /// Worlds: held-out randomized rows for the estimators.
    public var evalRows: Int
    /// Worlds: rows of the separate observational log (ĝ from `observational`).
    public var logRows: Int
    public var ghatFrom: GhatSource
    public var propensity: PropensitySource
    public var methods: [Method]
    /// Epochs of each method's training after FT.
    public var epochs: Int
    public var seed: UInt64
    /// Seeds base..base+K-1 (results as mean and 95% CI over seeds).
    public var seeds: Int

    public var model: ModelConfig
    /// FT: at most this many epochs, stopping when the evaluation loss stops improving.
    public var ftMaxEpochs: Int
    public var ftLearningRate: Float
    /// The causal methods' learning rate (lr × steps is what matters: CausalPO.docc/Methods.md, "Learning rate and the number of steps").
    public var learningRate: Float
    public var batchSize: Int
    /// f0 samples per training row (m = ratio × n).
    public var f0Ratio: Int
    /// Draw f0 samples from scratch (BOS) instead of continuing truncated training texts.
    public var f0FromScratch: Bool
    public var folds: Int
    public var objective: ObjectiveOptions
    /// Texts sampled from each trained model for its true value (worlds) and KL.
    public var evalSamples: Int
    /// Prompts (truncated held-out texts) for the win rates against FT.
    public var winRatePrompts: Int
    public var threads: Int

    public init(source: DataSource = .world(ShippedWorlds.defaultName), design: WorldDesign = .randomized,
                rows: Int = 2000, evalRows: Int = 500, logRows: Int = 4000, ghatFrom: GhatSource = .same,
                propensity: PropensitySource = .model, methods: [Method] = [.ft, .ooRLHF, .cpo, .drCPO],
                epochs: Int = 3, seed: UInt64 = 0, seeds: Int = 1,
                model: ModelConfig = LabConfig.defaultModel, ftMaxEpochs: Int = 6, ftLearningRate: Float = 3e-3,
                learningRate: Float = 2e-5, batchSize: Int = 32, f0Ratio: Int = 4, f0FromScratch: Bool = false,
                folds: Int = 5, objective: ObjectiveOptions = LabConfig.defaultObjective, evalSamples: Int = 500,
                winRatePrompts: Int = 200, threads: Int = Compute.defaultThreads) {
        self.source = source
        self.design = design
        self.rows = rows
        self.evalRows = evalRows
        self.logRows = logRows
        self.ghatFrom = ghatFrom
        self.propensity = propensity
        self.methods = methods
        self.epochs = epochs
        self.seed = seed
        self.seeds = seeds
        self.model = model
        self.ftMaxEpochs = ftMaxEpochs
        self.ftLearningRate = ftLearningRate
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.f0Ratio = f0Ratio
        self.f0FromScratch = f0FromScratch
        self.folds = folds
        self.objective = objective
        self.evalSamples = evalSamples
        self.winRatePrompts = winRatePrompts
        self.threads = threads
    }

    /// The objective a run trains with unless told otherwise (`--paper-objective` selects
    /// `ObjectiveOptions.paper`). To be chosen from evidence (README, "Training defaults").
    public static let defaultObjective = ObjectiveOptions.paper

    /// The lab's default model: small enough that the default comparison runs in under a minute.
    public static let defaultModel = ModelConfig(vocabSize: 512, contextLength: 64, dModel: 96, heads: 4, layers: 2)

    /// Refuses settings that cannot work, before any work starts; the message names the flag.
    public func validate() throws(LabError) {
        func bad(_ s: String) -> LabError { .invalidConfig(s) }
        if rows < 20 { throw bad("--rows must be at least 20 (got \(rows))") }
        if evalRows < 10 { throw bad("--eval-rows must be at least 10 (got \(evalRows))") }
        if epochs < 0 { throw bad("--epochs must not be negative (got \(epochs))") }
        if seeds < 1 { throw bad("--seeds must be at least 1 (got \(seeds))") }
        if methods.isEmpty { throw bad("--methods must name at least one method") }
        if batchSize < 2 { throw bad("--batch-size must be at least 2: a self-normalized objective has zero gradient at 1 (got \(batchSize))") }
        if f0Ratio < 1 { throw bad("--f0-ratio must be at least 1 (got \(f0Ratio))") }
        if folds < 2 { throw bad("--folds must be at least 2 for cross-fitting (got \(folds))") }
        if ftMaxEpochs < 1 { throw bad("--ft-epochs must be at least 1 (got \(ftMaxEpochs))") }
        if !(learningRate > 0) || !(ftLearningRate > 0) { throw bad("learning rates (--lr, --ft-lr) must be positive") }
        if evalSamples < 10 || winRatePrompts < 10 { throw bad("--eval-samples and --win-prompts must be at least 10") }
        if let problem = objective.problem { throw bad(problem) }
        if logRows < 20 { throw bad("--log-rows must be at least 20") }
        do { try model.validate() } catch { throw bad(error.description) }
        if case .file = source {
            if ghatFrom == .observational {
                throw bad("--ghat-from observational needs a world (it samples a separate observational log); use same or negated with --data")
            }
        }
    }
}

/// Why a run could not start or go on.
public enum LabError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case input(InputError)
    case failed(String)

    public var description: String {
        switch self {
        case .invalidConfig(let s): return s
        case .input(let e): return e.description
        case .failed(let s): return s
        }
    }
}
