import CausalPO
import CPOSupport
import Foundation
import Testing
import TinyLM
@testable import Lab

/// The support terms in training: where the KL term is measured, how its coefficient moves,
/// that resuming keeps it exact, and what the default objective does to the invalid-text rate.
@Suite("support terms in training")
struct SupportTermsTrainingTests {
    /// Every support term on, at settings the tiny model reacts to within an epoch.
    static func supportConfig(methods: [Method] = [.ft, .ooRLHF, .cpo, .drCPO], seed: UInt64 = 3) -> LabConfig {
        var cfg = tinyConfig(methods: methods, seed: seed)
        cfg.objective = ObjectiveOptions(klTarget: 0.5, klSamples: 4, klInitialCoefficient: 0.2, klHorizon: 2, anchor: 1, htClip: 3)
        return cfg
    }

    /// Each step's KL is the mean token-level KL to FT of texts the policy itself drew from BOS
    /// (with the step's own seed, before the step changed it), not of the training rows; and β
    /// follows the controller from the KLs measured.
    @Test(arguments: [Method.ooRLHF, .cpo, .drCPO])
    func theKLIsMeasuredOnThePolicysOwnSamples(_ method: Method) throws {
        let cfg = Self.supportConfig(methods: [.ft, method])
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        try exp.prepare()
        let inputs = try #require(exp.inputs), ft = try #require(exp.ft), run = try #require(exp.runs[method])
        var before = [run.model.copy()]
        var records: [StepRecord] = []
        exp.step(method, onStep: { rec in
            records.append(rec)
            before.append(run.model.copy())
        })
        #expect(records.count >= 3)
        let opts = cfg.objective
        var controller = AdaptiveKLController(target: opts.klTarget, horizon: opts.klHorizon, coefficient: opts.klInitialCoefficient,
                                              bounds: AdaptiveKLController.bounds(around: opts.klInitialCoefficient))
        for (s, rec) in records.enumerated() {
            let policy = before[s]
            let own = policy.sample(prompts: [[Int32]](repeating: [BPETokenizer.bos], count: opts.klSamples),
                                    options: SamplingOptions(temperature: 1, maxNewTokens: cfg.model.contextLength),
                                    seed: SeededRandom.derivedSeed(SeededRandom.derivedSeed(exp.seed, "train"),
                                                                   "\(method.rawValue)-kl-samples-epoch-1-step-\(s)"))
            let kl = try #require(policy.forward(own.map(\.sequence), reference: ft).klSums)
            let measured = try #require(rec.klOwnSamples, "step \(s) has no KL")
            #expect(abs(measured - kl.reduce(0, +) / Double(kl.count)) < 1e-9, "step \(s)")
            // The training rows under the same policy give another number.
            let rowKL = try #require(policy.forward(Array(inputs.rowSeqs.prefix(16)), reference: ft).klSums)
            if s > 0 { #expect(abs(measured - rowKL.reduce(0, +) / 16) > 1e-6, "step \(s): the rows' KL") }
            #expect(rec.klCoefficient == controller.coefficient, "step \(s): β")
            controller.update(measuredKL: measured)
        }
        #expect(records[0].klOwnSamples == 0, "at FT the policy's own texts are FT's: KL 0")
        #expect(records.dropFirst().allSatisfy { ($0.klOwnSamples ?? 0) > 0 })
        #expect(run.klCoefficient == controller.coefficient)
    }

    /// The paper's objective draws nothing for the KL term and records no KL.
    @Test func thePaperObjectiveHasNoKLTerm() throws {
        var cfg = tinyConfig(methods: [.ft, .cpo])
        cfg.objective = .paper
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        try exp.prepare()
        exp.step(.cpo)
        #expect(exp.steps[.cpo]!.allSatisfy { $0.klOwnSamples == nil && $0.klCoefficient == nil })
        #expect(exp.runs[.cpo]!.klCoefficient == nil)
    }

    /// OO-RLHF reads no rows for its objective, but with the anchor on it forwards the same
    /// row batches as CPO and is pulled toward them: its training changes.
    @Test func theAnchorReachesOORLHF() throws {
        func steps(anchor: Double) throws -> [StepRecord] {
            var cfg = tinyConfig(methods: [.ft, .ooRLHF])
            cfg.objective = ObjectiveOptions(anchor: anchor)
            let exp = try Experiment(config: cfg, seed: cfg.seed)
            try exp.prepare()
            exp.step(.ooRLHF)
            return exp.steps[.ooRLHF]!
        }
        let off = try steps(anchor: 0), on = try steps(anchor: 2)
        #expect(off.count == on.count)
        // The loss adds λ·sd·(mean per-token NLL of the rows) > 0 from the first step.
        #expect(on[0].loss > off[0].loss)
        #expect(on.last!.gradNorm != off.last!.gradNorm)
    }

    /// Interrupted after an epoch and resumed, a run with every support term on (the KL
    /// controller's β among the saved state) equals an uninterrupted one bit for bit.
    @Test func resumeIsExactWithTheKLController() throws {
        var cfg = Self.supportConfig()
        cfg.epochs = 3
        let (straight, resumed) = try expectExactResume(cfg, label: "resume-kl") { first, restored in
            for m in cfg.methods where m.trains {
                let saved = try #require(first.runs[m]?.klCoefficient, "\(m) has a β after an epoch")
                #expect(restored.runs[m]?.klCoefficient?.bitPattern == saved.bitPattern, "\(m): β restored")
                #expect(saved != cfg.objective.klInitialCoefficient, "\(m): β moved during the epoch")
            }
        }
        for m in cfg.methods where m.trains {
            #expect(straight.runs[m]?.klCoefficient?.bitPattern == resumed.runs[m]?.klCoefficient?.bitPattern, "\(m) β differs")
        }
    }

    // MARK: The default objective and the invalid-text rate

    /// `tinyConfig` with a model fitted to the texts: there (vocabulary 300, context 48) almost
    /// every text is cut and FT's own texts are all invalid, so no method could raise the rate.
    /// Here FT writes mostly valid texts, and the methods' learning rate (tinyConfig's 1e-3) is
    /// high enough for the paper's objective to leave the support within an epoch.
    static func fittedTinyConfig(seed: UInt64, objective: ObjectiveOptions) -> LabConfig {
        var cfg = tinyConfig(methods: [.ft, .ooRLHF, .cpo, .drCPO], seed: seed)
        cfg.rows = 512
        cfg.model = ModelConfig(vocabSize: 512, contextLength: 64, dModel: 32, heads: 2, layers: 1)
        cfg.ftMaxEpochs = 10
        cfg.ftLearningRate = 1e-2
        cfg.evalSamples = 128
        cfg.objective = objective
        return cfg
    }

    /// Invalid-text rate of each policy-gradient method after one epoch, minus FT's, on `seed`.
    static func invalidRateIncrease(seed: UInt64, objective: ObjectiveOptions) throws -> [Double] {
        let cfg = fittedTinyConfig(seed: seed, objective: objective)
        let exp = try Experiment(config: cfg, seed: seed)
        try exp.prepare()
        let ft = try #require(exp.ftMetrics?.invalidRate)
        #expect(ft < 0.6, "seed \(seed): FT's own texts should be mostly valid here (\(ft))")
        return try cfg.methods.filter(\.trains).map { m in try #require(exp.step(m)?.invalidRate) - ft }
    }

    static let invalidRateSeeds: [UInt64] = [3, 4, 5]

    /// Training with the default objective leaves far less of its mass on invalid texts than the
    /// paper's objective. Here the methods train at 50 times the default learning rate (one epoch
    /// of the tiny run must show the drift), where the paper's objective raises the invalid-text
    /// rate by 0.32 on average over three fixed seeds and the three policy-gradient methods (128
    /// texts per evaluation) and the default objective by 0.10. The check: the paper's rise is
    /// real (above 0.2), and the default's is at most 0.12 and at most half the paper's. At the
    /// real scale and learning rate the default keeps the rate within 0.03 of FT's (README,
    /// "Training defaults"); that is measured by scripts/results.sh, not here.
    @Test func theDefaultObjectiveKeepsFarMoreMassOnValidTexts() throws {
        var paper: [Double] = [], chosen: [Double] = []
        for seed in Self.invalidRateSeeds {
            paper += try Self.invalidRateIncrease(seed: seed, objective: .paper)
            chosen += try Self.invalidRateIncrease(seed: seed, objective: LabConfig.defaultObjective)
        }
        let (p, d) = (paper.reduce(0, +) / Double(paper.count), chosen.reduce(0, +) / Double(chosen.count))
        #expect(p > 0.2, "the paper objective's mean increase \(p): \(paper)")
        #expect(d <= 0.12 && d <= p / 2, "the default objective's mean increase \(d) (paper's \(p)): \(chosen)")
    }
}
