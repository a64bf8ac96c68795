import CausalPO
import Foundation
import OutcomeData
import Testing
import TinyLM
@testable import Lab

/// A run small enough for a debug build: the whole pipeline, every method, one epoch.
func tinyConfig(methods: [Method] = Method.allCases, seed: UInt64 = 3) -> LabConfig {
    let worlds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("sample-data/worlds/river-cleanup.toml").path
    return LabConfig(
        source: .world(worlds), rows: 64, evalRows: 24, logRows: 64, methods: methods, epochs: 1, seed: seed,
        model: ModelConfig(vocabSize: 300, contextLength: 48, dModel: 32, heads: 2, layers: 1),
        ftMaxEpochs: 2, learningRate: 1e-3, batchSize: 8, f0Ratio: 1, folds: 2, evalSamples: 16, winRatePrompts: 12, threads: 2)
}

@Suite("the lab pipeline")
struct ExperimentTests {
    @Test func everyMethodTrainsAndIsEvaluated() throws {
        let cfg = tinyConfig()
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        var stages: [PrepStage] = []
        try exp.prepare(progress: { stage, _, _ in if stages.last != stage { stages.append(stage) } })
        #expect(stages == [.tokenizer, .ft, .ghat, .f0, .baseline, .ready])
        let ft = try #require(exp.ftMetrics)
        // At FT itself every importance weight is 1: ESS is the whole held-out set.
        #expect(abs(ft.weights.essFraction - 1) < 1e-9)
        #expect(ft.winRateVsFT.value == 0.5 && ft.normalizedGain == 0)
        #expect(abs(ft.klToFT.value) < 1e-9)
        #expect(ft.trueValue!.value.isFinite && ft.invalidRate! >= 0)
        for m in cfg.methods {
            let e = try #require(exp.step(m))
            #expect(e.epoch == 1 && e.method == m.rawValue)
            #expect(e.vDR.value.isFinite && e.vIPW.value.isFinite && e.trueValue!.value.isFinite)
            #expect((0...1).contains(e.winRateVsFT.value))
            if m == .ft {
                #expect(exp.steps[m]!.isEmpty)
            } else {
                #expect(!exp.steps[m]!.isEmpty, "\(m) took no steps")
                #expect(exp.failure(of: m) == nil)
                // Training moved the model away from FT.
                #expect(e.klToFT.value != 0, "\(m)")
            }
            #expect(exp.metrics[m]!.count == 2)   // epoch 0 (FT) and epoch 1
        }
    }

    @Test func oneSeedFixesEverything() throws {
        func run(_ seed: UInt64) throws -> [Double] {
            let cfg = tinyConfig(methods: [.cpo, .drCPO], seed: seed)
            let exp = try Experiment(config: cfg, seed: seed)
            try exp.prepare()
            return [.cpo, .drCPO].flatMap { (m: Method) -> [Double] in
                let e = exp.step(m)!
                return [e.vDR.value, e.trueValue!.value, e.klToFT.value, e.winRateVsFT.value] + exp.steps[m]!.map(\.loss)
            }
        }
        let a = try run(5), b = try run(5), c = try run(6)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func studiesChangeWhatGhatSees() throws {
        var cfg = tinyConfig(methods: [.drCPO])
        cfg.ghatFrom = .negated
        let negated = try PreparedData.make(cfg, seed: 1)
        cfg.ghatFrom = .same
        let same = try PreparedData.make(cfg, seed: 1)
        #expect(zip(negated.ghatRows, same.ghatRows).allSatisfy { $0.outcome == -$1.outcome && $0.text == $1.text })
        cfg.ghatFrom = .observational
        let obs = try PreparedData.make(cfg, seed: 1)
        #expect(obs.ghatRows.count == cfg.logRows && !obs.ghatIsCrossFitted)
        #expect(obs.ghatRows.map(\.text) != same.train.map(\.text))
        cfg.design = .observational
        let log = try PreparedData.make(cfg, seed: 1)
        #expect(log.eval.map(\.text) == same.eval.map(\.text))   // held-out rows stay randomized
    }

    @Test func invalidSettingsAreRefusedBeforeAnyWork() {
        var cfg = tinyConfig()
        cfg.epochs = -1
        #expect(throws: LabError.self) { try Experiment(config: cfg, seed: 0) }
        cfg = tinyConfig()
        cfg.batchSize = 1
        #expect(throws: LabError.self) { try cfg.validate() }
        cfg = tinyConfig()
        cfg.model.vocabSize = 100
        #expect(throws: LabError.self) { try cfg.validate() }
        cfg = tinyConfig()
        cfg.source = .world("no-such-world")
        #expect(throws: LabError.self) { try Experiment(config: cfg, seed: 0) }
    }
}
