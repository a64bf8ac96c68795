import CausalPO
import CPOSupport
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
    /// Every method trains and is evaluated, and what each evaluation reports is what its
    /// definition says, recomputed here from the evaluated model.
    @Test func everyMethodTrainsAndIsEvaluated() throws {
        let cfg = tinyConfig()
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        var stages: [PrepStage] = []
        try exp.prepare(progress: { stage, _, _ in if stages.last != stage { stages.append(stage) } })
        #expect(stages == [.tokenizer, .ft, .ghat, .f0, .baseline, .ready])
        let ft = try #require(exp.ftMetrics)
        let ftModel = try #require(exp.ft)
        // FT's own evaluation substitutes FT's scores for the reference's (every weight 1, KL 0,
        // win rate ½, gain 0 by construction), so its values check nothing. Evaluated instead
        // the way a trained method is, its log-probabilities recomputed by full forward passes
        // on the held-out rows and f0 samples and its own texts rescored under FT, it must give
        // what the substitution claims: this fails if P^R, the f0 samples' log P^{f0} or the
        // sampler's log-probabilities disagree with the model they come from.
        let asTrained = exp.evaluate(ftModel, method: .cpo, epoch: 0, trainLoss: nil)
        #expect(abs(asTrained.weights.essFraction - 1) < 1e-9, "held-out rows: \(asTrained.weights.essFraction)")
        let f0ESS = try #require(asTrained.f0Weights)
        #expect(abs(f0ESS.ess / Double(f0ESS.count) - 1) < 1e-9, "f0 samples: \(f0ESS.ess) of \(f0ESS.count)")
        #expect(abs(asTrained.klToFT.value) < 1e-5, "KL of FT to itself: \(asTrained.klToFT.value)")
        for e in Estimator.allCases {
            #expect(abs(asTrained.estimates[e].value - ft.estimates[e].value) < 1e-6, "\(e)")
        }
        try expectOwnTexts(ft, of: ftModel, label: "FT", exp)
        for m in cfg.methods {
            let e = try #require(exp.step(m))
            #expect(e.epoch == 1 && e.method == m)
            try expectEstimatesOfTheHeldOutRows(e, m, exp)
            if !m.trains {
                #expect(exp.steps[m]!.isEmpty)
            } else {
                #expect(!exp.steps[m]!.isEmpty, "\(m) took no steps")
                #expect(exp.failure(of: m) == nil)
                // Training moved the model away from FT.
                #expect(e.klToFT.value != 0, "\(m)")
                let model = try #require(exp.runs[m]?.model)
                try expectOwnTexts(e, of: model, label: "\(m.rawValue)-1", exp)
                // The win rate is the share of prompts whose continuation the judge scores above
                // FT's, ties counting half.
                let mine = try #require(exp.winScores[m]), theirs = try #require(exp.winScores[.ft])
                #expect(mine.count == cfg.winRatePrompts && theirs.count == cfg.winRatePrompts)
                let wins = zip(mine, theirs).map { $0 > $1 ? 1.0 : $0 == $1 ? 0.5 : 0 }.reduce(0, +) / Double(mine.count)
                #expect(abs(e.winRateVsFT.value - wins) < 1e-12, "\(m): \(e.winRateVsFT.value) vs \(wins)")
            }
            #expect(exp.metrics[m]!.count == 2)   // epoch 0 (FT) and epoch 1
        }
    }

    /// The true value, invalid rate and KL to FT are the oracle's mean over the model's own
    /// texts, their share with an invalid segment and the mean log-ratio to FT: recomputed
    /// from the same texts (the evaluation's stream, "eval-samples-LABEL").
    private func expectOwnTexts(_ e: EpochMetrics, of model: Transformer, label: String, _ exp: Experiment) throws {
        let world = try #require(exp.data.world), codec = try #require(exp.codec), ft = try #require(exp.ft)
        let own = model.sample(prompts: [[Int32]](repeating: [BPETokenizer.bos], count: exp.config.evalSamples),
                               options: SamplingOptions(temperature: 1, maxNewTokens: exp.modelShape.contextLength),
                               seed: SeededRandom.derivedSeed(exp.seed, "eval-samples-" + label))
        let judged = own.map { world.oracle(codec.text($0.sequence)) }
        let n = Double(own.count)
        #expect(abs(try #require(e.trueValue).value - judged.map(\.value).reduce(0, +) / n) < 1e-9, "\(label): true value")
        #expect(try #require(e.invalidRate) == Double(judged.filter { !$0.invalidSegments.isEmpty }.count) / n, "\(label)")
        let kl = zip(own.map(\.logProb), Batches.logProbs(ft, own.map(\.sequence))).map { $0 - $1 }.reduce(0, +) / n
        // FT reports 0 by substitution; recomputed, the sampler's and the forward pass's Float
        // log-probabilities differ by ~1e-7 nats a text.
        #expect(abs(e.klToFT.value - kl) < 1e-5, "\(label): KL \(e.klToFT.value) vs \(kl)")
    }

    /// V_IPW, V_SNIPW, V_OUT and V_DR (its residual term normalized as configured) by their
    /// formulas from the held-out rows and f0 samples as exported for the reports.
    private func expectEstimatesOfTheHeldOutRows(_ e: EpochMetrics, _ m: Method, _ exp: Experiment) throws {
        let rows = exp.heldOutRows(m), f0 = exp.heldOutF0Samples(m)
        let ratios: [Double] = rows.map { Foundation.exp($0.logPF - $0.logPR) }
        let f0Ratios: [Double] = f0.map { Foundation.exp($0.logPF - $0.logP0) }
        func weighted(_ r: [Double], _ v: [Double]) -> Double { zip(r, v).map { $0 * $1 }.reduce(0, +) }
        let y = rows.map(\.outcome), residuals = rows.map { $0.outcome - $0.ghat }
        let ipw = weighted(ratios, y) / Double(rows.count)
        let snipw = weighted(ratios, y) / ratios.reduce(0, +)
        let out = weighted(f0Ratios, f0.map(\.ghat)) / f0Ratios.reduce(0, +)
        let hajek = exp.config.objective.normalization == .hajek
        let residual = weighted(ratios, residuals) / (hajek ? ratios.reduce(0, +) : Double(rows.count))
        let expected: [(Estimator, Double)] = [(.ipw, ipw), (.snipw, snipw), (.out, out), (.drResidual, residual), (.dr, residual + out)]
        for (estimator, value) in expected {
            #expect(abs(e.estimates[estimator].value - value) < 1e-9 * max(1, abs(value)), "\(m) \(estimator): \(e.estimates[estimator].value) vs \(value)")
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
            #expect(comparable(m.epochs) == comparable(exp.metrics[m.method] ?? []), "\(m.method): the snapshot shows its evaluations")
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
