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
        source: .world(worlds), rows: 64, evalRows: 24, logRows: 64, validationRows: 16, methods: methods, epochs: 1, seed: seed,
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
            #expect(e.epoch == 1 && e.method == m)
            #expect(e.estimates[.dr].value.isFinite && e.estimates[.ipw].value.isFinite && e.trueValue!.value.isFinite)
            #expect((0...1).contains(e.winRateVsFT.value))
            if !m.trains {
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

    /// Every method, from its description alone, trains one step and reaches every place a
    /// method is shown: the report files, a checkpoint (saved and restored), and the session's
    /// snapshot whose methods the dashboard's compare view lists. A new `Method` case must pass
    /// this without any other file naming it.
    @Test func everyMethodReachesReportsCheckpointsAndTheSnapshot() throws {
        var cfg = tinyConfig()
        cfg.rows = 32
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        try exp.prepare()
        for m in Method.allCases {
            exp.step(m)
            #expect(exp.epochs(of: m) == 1 && exp.failure(of: m) == nil, "\(m)")
            #expect(exp.steps[m]!.isEmpty != m.trains, "\(m): steps only when it trains")
            #expect(exp.metrics[m]!.last!.method == m)
        }

        // The report files.
        let report = temporaryRunPath("every-method-report")
        defer { try? FileManager.default.removeItem(atPath: report) }
        try ReportWriter(config: cfg, data: exp.data, results: [SeedResult(exp)]).write(to: report)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report + "/summary.json"))) as! [String: Any]
        let listed = (summary["methods"] as! [[String: Any]])
        #expect(listed.map { $0["name"] as! String } == Method.allCases.map(\.rawValue))
        for o in listed {
            for e in Estimator.allCases { #expect(o[e.summaryKey] is [String: Any], "\(o["name"]!): \(e.summaryKey)") }
        }
        let lines = try String(contentsOfFile: report + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let md = try String(contentsOfFile: report + "/report.md", encoding: .utf8)
        for m in Method.allCases {
            let epochs = lines.filter { $0["type"] as? String == "epoch" && $0["method_name"] as? String == m.rawValue }
            #expect(epochs.count == 2, "\(m) in metrics.jsonl")
            for e in Estimator.allCases { #expect(epochs.allSatisfy { $0[e.metricsKey] is [String: Any] }, "\(m): \(e.metricsKey)") }
            #expect(md.contains("| \(m.rawValue) |"), "\(m) in report.md")
            #expect(FileManager.default.fileExists(atPath: report + "/rows-\(m.rawValue)-seed\(cfg.seed).csv"))
        }

        // A checkpoint: saved and restored, every method as it was.
        let path = temporaryRunPath("every-method")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let dir = try RunDirectory.create(path, config: cfg)
        try dir.save(exp)
        let (restored, _) = try dir.restore(seed: cfg.seed, config: cfg)
        for m in Method.allCases {
            #expect(restored.epochs(of: m) == 1, "\(m)")
            #expect(comparable(restored.metrics[m] ?? []) == comparable(exp.metrics[m] ?? []), "\(m) metrics")
            #expect(restored.steps[m] == exp.steps[m], "\(m) steps")
        }

        // The snapshot a session publishes from that checkpoint: what the compare view lists.
        let session = LabSession(config: cfg, runDirectory: dir)
        session.start()
        let snapshot = try #require(waitFor(session) { $0.phase == .idle })
        session.send(.cancel)
        session.waitUntilFinished()
        #expect(snapshot.methods.map(\.method) == Method.allCases)
        for m in snapshot.methods {
            #expect(m.epoch == 1 && m.state == .idle, "\(m.method)")
            let last = try #require(m.epochs.last, "\(m.method) has no evaluation")
            #expect(Estimator.allCases.allSatisfy { last.estimates[$0].value.isFinite }, "\(m.method)")
        }
    }

    @Test func oneSeedFixesEverything() throws {
        func run(_ seed: UInt64) throws -> [Double] {
            let cfg = tinyConfig(methods: [.cpo, .drCPO], seed: seed)
            let exp = try Experiment(config: cfg, seed: seed)
            try exp.prepare()
            return [.cpo, .drCPO].flatMap { (m: Method) -> [Double] in
                let e = exp.step(m)!
                return [e.estimates[.dr].value, e.trueValue!.value, e.klToFT.value, e.winRateVsFT.value] + exp.steps[m]!.map(\.loss)
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
