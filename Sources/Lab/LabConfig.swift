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
    /// Worlds only: each row's text's probability averaged over readers, Σ_c P(C = c)·P(x | c),
    /// under the design it was drawn from: what a log that never recorded the reader trait would
    /// hold (the hidden-trait study). Exact for randomized rows.
    case marginal
}

/// Everything that defines a run; recorded in every output, and one seed fixes the rest.
public struct LabConfig: Sendable, Hashable, Codable {
    public var source: DataSource
    /// Worlds: design of the training rows, and how many.
    public var design: WorldDesign
    public var rows: Int
    /// Worlds: held-out rows for the estimators, drawn from `evalDesign`.
    public var evalRows: Int
    /// Worlds: the design the held-out rows are drawn from: randomized (the default), or
    /// observational, so the estimators see the log's confounding (the hidden-trait study).
    public var evalDesign: WorldDesign
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

    /// Worlds: rows sampled from `design` (like the training rows) that decide when FT stops;
    /// never used for estimation. 0: no validation rows (FT trains `ftMaxEpochs` epochs).
    public var validationRows: Int
    /// User data: the share of all rows held out as validation rows (when the split column names
    /// none); the evaluation rows stay `DataSplit`'s 20%. 0: no validation rows.
    public var validationFraction: Double

    /// The model's shape. With `fitContext` its `contextLength` is only the most the fitted
    /// context may be, and with `fitVocabulary` its `vocabSize` the most the tokenizer learns.
    public var model: ModelConfig
    /// The context follows the training texts (`ModelFit`): the longest training text with BOS
    /// and EOS, rounded up to a multiple of 16, at most `model.contextLength`. Off: exactly
    /// `model.contextLength` (`--context N`).
    public var fitContext: Bool
    /// The model's vocabulary is the tokenizer's: `model.vocabSize`, or fewer ids when the
    /// training texts have too few repeated pairs to fill it. Off: `model.vocabSize` ids.
    public var fitVocabulary: Bool
    /// FT: at most this many epochs, stopping when the validation loss stops improving
    /// (`FineTuning`).
    public var ftMaxEpochs: Int
    /// FT stops after this many epochs in a row without improving its validation loss.
    public var ftPatience: Int
    public var ftLearningRate: Float
    /// The causal methods' learning rate (lr × steps is what matters: CausalPO.docc/Methods.md, "Learning rate and the number of steps").
    public var learningRate: Float
    public var batchSize: Int
    /// f0 samples per training row (m = ratio × n).
    public var f0Ratio: Int
    /// Draw f0 samples from scratch (BOS; the default, whose importance ratio is exact) instead
    /// of continuing truncated training texts (the paper's choice, whose ratio is approximate).
    public var f0FromScratch: Bool
    public var folds: Int
    public var objective: ObjectiveOptions
    /// Texts sampled from each trained model for its true value (worlds) and KL.
    public var evalSamples: Int
    /// Prompts (truncated held-out texts) for the win rates against FT.
    public var winRatePrompts: Int
    public var threads: Int

    public init(source: DataSource = .world(ShippedWorlds.defaultName), design: WorldDesign = .randomized,
                rows: Int = 2000, evalRows: Int = 500, logRows: Int = 4000, validationRows: Int = 250,
                validationFraction: Double = 0.1, ghatFrom: GhatSource = .same,
                propensity: PropensitySource = .model, evalDesign: WorldDesign = .randomized, methods: [Method] = [.ft, .ooRLHF, .cpo, .drCPO],
                epochs: Int = 3, seed: UInt64 = 0, seeds: Int = 1,
                model: ModelConfig = LabConfig.defaultModel, fitContext: Bool = true, fitVocabulary: Bool = true,
                ftMaxEpochs: Int = 30, ftPatience: Int = 2, ftLearningRate: Float = 3e-3,
                learningRate: Float = 2e-5, batchSize: Int = 32, f0Ratio: Int = 4, f0FromScratch: Bool = true,
                folds: Int = 5, objective: ObjectiveOptions = LabConfig.defaultObjective, evalSamples: Int = 500,
                winRatePrompts: Int = 200, threads: Int = Compute.defaultThreads) {
        self.source = source
        self.design = design
        self.rows = rows
        self.evalRows = evalRows
        self.logRows = logRows
        self.validationRows = validationRows
        self.validationFraction = validationFraction
        self.ghatFrom = ghatFrom
        self.propensity = propensity
        self.evalDesign = evalDesign
        self.methods = methods
        self.epochs = epochs
        self.seed = seed
        self.seeds = seeds
        self.model = model
        self.fitContext = fitContext
        self.fitVocabulary = fitVocabulary
        self.ftMaxEpochs = ftMaxEpochs
        self.ftPatience = ftPatience
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

    /// What ĝ is fit on unless told otherwise. In a world, the confounded observational log: an
    /// outcome model usually comes from logged data, and there OO-RLHF inherits its confounding
    /// while DR-CPO's residual term on the randomized rows corrects it, which is what the
    /// comparison is for. User data has no separate log, so ĝ is cross-fit on the training rows.
    public static func defaultGhatSource(world: Bool) -> GhatSource { world ? .observational : .same }

    /// The objective a run trains with unless told otherwise (`--paper-objective` selects
    /// `ObjectiveOptions.paper`): the paper's, plus the anchor likelihood λ = 1 on the
    /// randomized rows for OO-RLHF, CPO and DR-CPO alike. Chosen by a rule fixed before the runs
    /// and blind to the world's truth (README, "Training defaults"): among six candidates on the
    /// default world (seeds 100 and 101, 6 epochs), the highest held-out V_DR with every
    /// policy-gradient method's KL to FT at most 1.5 nats and invalid-text rate at most FT's
    /// + 0.03. The anchor alone and the anchor with a KL target of 1 nat passed; the anchor's
    /// V_DR was higher.
    public static let defaultObjective = ObjectiveOptions(anchor: 1)

    /// The lab's default model: small enough that the default comparison runs in about a minute.
    /// Its context (`maxFittedContext`) and vocabulary are the most that fitting may choose.
    public static let defaultModel = ModelConfig(vocabSize: 512, contextLength: maxFittedContext, dModel: 96, heads: 4, layers: 2)
    /// The most context a fitted model gets by default: longer training texts are cut (and the
    /// run says how many).
    public static let maxFittedContext = 256
    /// The most `validationFraction` may be (the evaluation rows take 20%).
    public static let maxValidationFraction = 0.5

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
        if ftPatience < 1 { throw bad("--ft-patience must be at least 1 (got \(ftPatience))") }
        if validationRows != 0 && validationRows < 10 {
            throw bad("--validation-rows must be 0 (no validation rows) or at least 10 (got \(validationRows))")
        }
        if !(validationFraction >= 0 && validationFraction <= Self.maxValidationFraction) {
            throw bad("--validation-fraction must be in [0, \(Self.maxValidationFraction)] (got \(validationFraction))")
        }
        if !(learningRate > 0) || !(ftLearningRate > 0) { throw bad("learning rates (--lr, --ft-lr) must be positive") }
        if evalSamples < 10 || winRatePrompts < 10 { throw bad("--eval-samples and --win-prompts must be at least 10") }
        if let problem = objective.problem { throw bad(problem) }
        if logRows < 20 { throw bad("--log-rows must be at least 20") }
        do { try model.validate() } catch { throw bad(error.description) }
        if case .file = source {
            if ghatFrom == .observational {
                throw bad("--ghat-from observational needs a world (it samples a separate observational log); use same or negated with --data")
            }
            if propensity == .marginal {
                throw bad("--propensity marginal needs a world (it averages each text's probability over the world's readers); use logged or model with --data")
            }
            if evalDesign != .randomized {
                throw bad("--eval-design \(evalDesign.rawValue) needs a world (it samples the held-out rows); with --data the held-out rows are a part of the file's split")
            }
        }
    }

    /// Refuses a new run that cannot identify what one of its methods optimizes (kept out of
    /// `validate`, so a run saved before the check existed still opens; it then warns).
    public func checkIdentification() throws(LabError) {
        if let problem = identificationProblem { throw .invalidConfig(problem) }
    }

    /// Worlds: training on the observational log with FT as P^R, whose weights cannot remove the
    /// confounding (refused for the methods that weight rows by P^R, warned about otherwise).
    var modelPropensityOnTheLog: Bool {
        guard case .world = source else { return false }
        return design == .observational && propensity == .model
    }

    /// Why a method of this run would optimize something the data cannot identify, if one would.
    var identificationProblem: String? {
        let weighting = methods.filter(\.weightsRowsByPR)
        guard modelPropensityOnTheLog, let m = weighting.first else { return nil }
        return """
            --design observational with --propensity model cannot identify what \(m.rawValue) optimizes: the FT model \
            learns the log's marginal P(x), not each reader's P(x | C), so its importance weights leave the confounding \
            in. Use --propensity logged (the log's P(x | C)), or train on the randomized design (--design randomized), \
            or leave \(weighting.map(\.rawValue).joined(separator: " and ")) out of --methods.
            """
    }

    /// What a run with this configuration cannot identify, as warnings.
    public var identificationWarnings: [String] {
        guard modelPropensityOnTheLog else {
            guard case .world = source, evalDesign == .observational, propensity == .model else { return [] }
            return ["""
                the held-out rows come from the observational log (--eval-design observational) but P^R is the FT model \
                (--propensity model): the held-out V_IPW, V_SNIPW and V_DR of every method weight by it and are not \
                identified. Pass --propensity logged (each reader's P(x | C)) or marginal (the hidden-trait study).
                """]
        }
        return [identificationProblem ?? """
            P^R is the FT model fit on the observational log (--design observational --propensity model): the held-out \
            V_IPW, V_SNIPW and V_DR of every method weight by it and are not identified. Judge the methods by their \
            true values, or pass --propensity logged.
            """]
    }

    /// Worlds, `--propensity marginal` with observational held-out rows: the estimates weight by
    /// propensities that hide the reader trait, so its confounding stays in them.
    var hiddenTraitConfoundsEstimates: Bool {
        guard case .world = source else { return false }
        return propensity == .marginal && evalDesign == .observational
    }

    /// The hidden-trait study's warnings (`--propensity marginal` on observational rows), given
    /// the Λ the world's hidden trait implies: allowed, but the confounding stays in the weights.
    /// None when the trait confounds nothing (Λ = 1) or every row is randomized.
    func hiddenTraitWarnings(lambda: Double) -> [String] {
        guard case .world = source, propensity == .marginal, lambda > 1 else { return [] }
        let weighting = methods.filter(\.weightsRowsByPR).map(\.rawValue)
        let inTraining = design == .observational && !weighting.isEmpty
        guard inTraining || evalDesign == .observational else { return [] }
        let places = (inTraining ? ["\(weighting.joined(separator: " and "))'s training weights"] : [])
            + (evalDesign == .observational ? ["the held-out V_IPW, V_SNIPW and V_DR"] : [])
        let advice = evalDesign == .observational
            ? String(format: "the hidden trait implies Λ = %.2f: read the sensitivity bounds at that Λ.", lambda)
            : String(format: "the hidden trait implies Λ = %.2f (the held-out rows are randomized, so the estimates are exact).", lambda)
        return ["""
            --propensity marginal hides the reader trait: P^R is each text's probability averaged over readers, so the \
            log's confounding by the trait stays in \(places.joined(separator: " and ")); \(advice)
            """]
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

extension Method {
    /// The causal methods that read logged rows weight them by P^f/P^R (CPO, DR-CPO): what they
    /// optimize is identified only when P^R is the probability each row's text had.
    var weightsRowsByPR: Bool { spec.readsRows && !spec.treatsOutcomesAsCausal }
}

extension LabConfig {
    /// Reads every configuration written so far: settings added later take the value that
    /// reproduces how runs saved before them were made (no validation rows, the context and
    /// vocabulary as configured, FT stopping at its first epoch without improvement).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            source: try c.decode(DataSource.self, forKey: .source), design: try c.decode(WorldDesign.self, forKey: .design),
            rows: try c.decode(Int.self, forKey: .rows), evalRows: try c.decode(Int.self, forKey: .evalRows),
            logRows: try c.decode(Int.self, forKey: .logRows),
            validationRows: try c.decodeIfPresent(Int.self, forKey: .validationRows) ?? 0,
            validationFraction: try c.decodeIfPresent(Double.self, forKey: .validationFraction) ?? 0,
            ghatFrom: try c.decode(GhatSource.self, forKey: .ghatFrom),
            propensity: try c.decode(PropensitySource.self, forKey: .propensity),
            evalDesign: try c.decodeIfPresent(WorldDesign.self, forKey: .evalDesign) ?? .randomized,
            methods: try c.decode([Method].self, forKey: .methods), epochs: try c.decode(Int.self, forKey: .epochs),
            seed: try c.decode(UInt64.self, forKey: .seed), seeds: try c.decode(Int.self, forKey: .seeds),
            model: try c.decode(ModelConfig.self, forKey: .model),
            fitContext: try c.decodeIfPresent(Bool.self, forKey: .fitContext) ?? false,
            fitVocabulary: try c.decodeIfPresent(Bool.self, forKey: .fitVocabulary) ?? false,
            ftMaxEpochs: try c.decode(Int.self, forKey: .ftMaxEpochs),
            ftPatience: try c.decodeIfPresent(Int.self, forKey: .ftPatience) ?? 1,
            ftLearningRate: try c.decode(Float.self, forKey: .ftLearningRate),
            learningRate: try c.decode(Float.self, forKey: .learningRate), batchSize: try c.decode(Int.self, forKey: .batchSize),
            f0Ratio: try c.decode(Int.self, forKey: .f0Ratio), f0FromScratch: try c.decode(Bool.self, forKey: .f0FromScratch),
            folds: try c.decode(Int.self, forKey: .folds), objective: try c.decode(ObjectiveOptions.self, forKey: .objective),
            evalSamples: try c.decode(Int.self, forKey: .evalSamples), winRatePrompts: try c.decode(Int.self, forKey: .winRatePrompts),
            threads: try c.decode(Int.self, forKey: .threads))
    }
}
