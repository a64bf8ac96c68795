import CausalPO
import Foundation
import OutcomeData
import Testing
import TinyLM
@testable import Lab

/// The tiny world run the report tests share: two seeds (3 and 4) of FT, OO-RLHF, CPO and
/// DR-CPO, one epoch each, trained once per test process.
struct TinyReportRun: Sendable {
    var config: LabConfig
    var data: PreparedData
    var results: [SeedResult]

    static let shared = Result { () throws -> TinyReportRun in
        var cfg = tinyConfig(methods: [.ft, .ooRLHF, .cpo, .drCPO])
        cfg.seeds = 2
        var results: [SeedResult] = []
        var data: PreparedData?
        for k in 0..<2 {
            let exp = try Experiment(config: cfg, seed: cfg.seed + UInt64(k))
            try exp.prepare()
            for m in cfg.methods { exp.step(m) }
            results.append(SeedResult(exp))
            data = data ?? exp.data
        }
        guard let data else { throw LabError.failed("no seed ran") }
        return TinyReportRun(config: cfg, data: data, results: results)
    }

    var writer: ReportWriter { ReportWriter(config: config, data: data, results: results) }
}

@Suite("reports and the direction of learning")
struct ReportTests {
    @Test func reportFilesFollowTheContract() throws {
        let run = try TinyReportRun.shared.get()
        let results = run.results
        let dir = NSTemporaryDirectory() + "cpo-report-\(getpid())"
        try run.writer.write(to: dir)
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        for f in ["metrics.jsonl", "summary.json", "report.md", "report.html", "rows-DR-CPO-seed3.csv", "rows-CPO-seed4.csv"] {
            #expect(names.contains(f), "\(f) missing")
        }
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as! [String: Any]
        let d = summary["data"] as! [String: Any]
        #expect((d["source"] as? String)?.hasPrefix("world:") == true)
        #expect(d["seeds"] as? [Int] == [3, 4] && d["ghat_from"] as? String == "same" && d["rows"] as? Int == 64)
        let methods = summary["methods"] as! [[String: Any]]
        #expect(methods.map { $0["name"] as! String } == ["FT", "OO-RLHF", "CPO", "DR-CPO"])
        for m in methods {
            for key in ["true_value", "normalized_gain", "v_dr", "v_ipw", "v_out", "win_rate_vs_ft"] {
                let obj = try #require(m[key] as? [String: Any], "\(key)")
                #expect(obj["mean"] is Double && (obj["ci95"] as? [Any])?.count == 2)
            }
            for key in ["kl_to_ft", "ess_fraction", "invalid_rate", "epochs"] { #expect(m[key] != nil) }
        }
        // metrics.jsonl: one JSON object per line, steps and epochs for every method and seed.
        let lines = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        var kinds: [String: Int] = [:]
        for l in lines {
            let o = try JSONSerialization.jsonObject(with: Data(l.utf8)) as! [String: Any]
            kinds[o["type"] as! String, default: 0] += 1
        }
        #expect(kinds["epoch"] == 2 * 4 * 2 && (kinds["step"] ?? 0) > 0 && (kinds["ft_epoch"] ?? 0) >= 2)
        // rows.csv recomputes the estimate: Σ w Y with its Hajek weights equals V_SNIPW.
        let rows = try DatasetLoader.load(path: dir + "/rows-CPO-seed3.csv",
                                          options: LoadOptions(columns: DatasetColumns(text: "text", outcome: "outcome", attributes: ["weight"])))
        let snipw = rows.rows.reduce(0.0) { $0 + $1.attributes[0] * $1.outcome }
        let reported = results[0].metrics[.cpo]!.last!.estimates[.snipw].value
        #expect(abs(snipw - reported) < 1e-6 * max(1, abs(reported)))
        let md = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        for heading in ["## 1. Value", "## 2. Pairwise win rates", "True value"] { #expect(md.contains(heading)) }
    }

    static let oneGoodText = """
            name = "one-good-text"
            [outcome]
            baseline = 50.0
            noise_sd = 2.0
            [design]
            passages = [1]
            [[attribute]]
            name = "good"
            effect = 20.0
            passages = ["Come and help."]
            [[attribute]]
            name = "plain"
            effect = 0.0
            passages = ["The clean-up is on Saturday."]
            [[attribute]]
            name = "bad"
            effect = -20.0
            passages = ["Stay home if you like."]
            """

    /// A tiny world with a clearly good, a plain and a clearly bad single-passage text.
    func oneGoodTextConfig(methods: [Method]) throws -> LabConfig {
        let path = NSTemporaryDirectory() + "one-good-text-\(getpid()).toml"
        try Self.oneGoodText.write(toFile: path, atomically: true, encoding: .utf8)
        var cfg = tinyConfig(methods: methods)
        cfg.source = .world(path)
        cfg.rows = 96
        cfg.ftMaxEpochs = 40
        cfg.ftLearningRate = 1e-2
        cfg.learningRate = 3e-4
        cfg.evalSamples = 60
        cfg.fitContext = false   // the 48-token context these hand-picked rates were chosen with
        return cfg
    }

    /// The whole chain learns in the right direction: CPO and DR-CPO move their samples away
    /// from the bad text and toward the good one.
    @Test func causalMethodsMoveTowardTheBetterText() throws {
        let cfg = try oneGoodTextConfig(methods: [.cpo, .drCPO])
        let exp = try Experiment(config: cfg, seed: 1)
        try exp.prepare()
        let ftShare = exp.ftMetrics!.attributeShares!["good"]!, ftBad = exp.ftMetrics!.attributeShares!["bad"]!
        #expect(ftShare > 0.2 && ftBad > 0.2)   // FT writes all three texts
        for m in cfg.methods {
            var last: EpochMetrics?
            for _ in 0..<3 { last = exp.step(m) }
            // Probability leaves the bad text and the good one gains. (Some also goes to
            // invalid texts, which the randomized rows never show: CausalPO.docc/Lessons.md, "DR-CPO can leave the randomized support".)
            let good = last!.attributeShares!["good"]!, bad = last!.attributeShares!["bad"]!
            #expect(bad < ftBad - 0.3, "\(m): share of the bad text \(ftBad) -> \(bad)")
            #expect(good > ftShare + 0.08, "\(m): share of the good text \(ftShare) -> \(good)")
        }
    }

    /// The confounding study in miniature: with a ĝ that believes the opposite (fit on negated
    /// outcomes), OO-RLHF stops writing the good text and loses value, while DR-CPO's residual
    /// term on the randomized rows still moves it away from the bad text and gains.
    @Test func aConfoundedGhatMisleadsOORLHFButNotDRCPO() throws {
        var cfg = try oneGoodTextConfig(methods: [.ooRLHF, .drCPO])
        cfg.ghatFrom = .negated
        let exp = try Experiment(config: cfg, seed: 1)
        try exp.prepare()
        let ftBad = exp.ftMetrics!.attributeShares!["bad"]!, ftGood = exp.ftMetrics!.attributeShares!["good"]!
        // ĝ fits its (negated) targets well and is badly wrong about the real outcomes.
        #expect(exp.ghatQuality!.value > 0.5 && exp.ghatQualityVersusOutcomes!.value < -1)
        var oo: EpochMetrics?, dr: EpochMetrics?
        for _ in 0..<3 {
            oo = exp.step(.ooRLHF)
            dr = exp.step(.drCPO)
        }
        let ooGood = oo!.attributeShares!["good"]!, drBad = dr!.attributeShares!["bad"]!
        #expect(ooGood < ftGood - 0.2, "OO-RLHF: share of the good text \(ftGood) -> \(ooGood)")
        #expect(drBad < ftBad - 0.1, "DR-CPO: share of the bad text \(ftBad) -> \(drBad)")
        #expect(oo!.trueValue!.value < exp.ftMetrics!.trueValue!.value)
        #expect(dr!.trueValue!.value > exp.ftMetrics!.trueValue!.value)
    }
}
