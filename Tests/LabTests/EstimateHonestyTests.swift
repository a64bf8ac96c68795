import CausalPO
import CPOSupport
import Foundation
import OutcomeData
import Testing
import TinyLM
@testable import Lab

/// A CSV of `rows` short texts: an opening, then a sentence that raises the outcome by `signal`
/// or one that does not (noise sd 5).
func userDataFile(signal: Double, rows: Int = 300, seed: UInt64 = 1) throws -> String {
    var r = SeededRandom(seed: seed)
    let openings = ["Please join us", "Come along", "We need you", "Help the river", "Bring a friend"]
    var w = CSVWriter(header: ["text", "y"])
    for _ in 0..<rows {
        let good = r.uniform() < 0.5
        let text = openings[r.int(below: openings.count)] + (good ? ". Kids get badges." : ". Parking is short.")
        w.writeRecord([text, CSVWriter.format(50 + (good ? signal : 0) + 5 * r.gaussian())])
    }
    let path = temporaryRunPath("user-data") + ".csv"
    try Data(w.bytes).write(to: URL(fileURLWithPath: path))
    return path
}

func userDataConfig(_ path: String) -> LabConfig {
    var cfg = tinyConfig(methods: [.ft, .ooRLHF, .cpo])
    cfg.source = .file(path: path, options: LoadOptions(columns: DatasetColumns(text: "text", outcome: "y")))
    return cfg
}

func readJSON(_ path: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
}

@Suite("estimates that say what they mean")
struct EstimateHonestyTests {
    /// The f0 samples are drawn from scratch by default, so the density recorded for each is
    /// FT's probability of the whole text: the one it was drawn from.
    @Test func f0SamplesAreDrawnFromScratchWithTheirOwnDensity() throws {
        let cfg = tinyConfig(methods: [.ft])
        #expect(cfg.f0FromScratch && LabConfig().f0FromScratch)
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        try exp.prepare()
        let ev = try #require(exp.evalInputs), ft = try #require(exp.ft)
        let forward = Batches.logProbs(ft, ev.f0Seqs)
        for (a, b) in zip(ev.f0LogP0, forward) { #expect(abs(a - b) <= 1e-3 * max(1, abs(b)), "f0 log-prob \(a) vs FT's \(b)") }
        // At FT every f0 weight is 1.
        let f0Weights = try #require(exp.ftMetrics?.f0Weights)
        #expect(f0Weights.ess == Double(ev.f0Seqs.count))
    }

    /// rows-METHOD-seedK.csv and f0-METHOD-seedK.csv hold everything V_IPW, V_SNIPW, V_OUT and
    /// V_DR are computed from: recomputed from those files alone they equal summary.json.
    @Test func theReportFilesRecomputeEveryEstimate() throws {
        let cfg = tinyConfig(methods: [.ft, .ooRLHF, .cpo, .drCPO])
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        try exp.prepare()
        for m in cfg.methods { exp.step(m) }
        let dir = temporaryRunPath("export")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ReportWriter(config: cfg, data: exp.data, results: [SeedResult(exp)]).write(to: dir)
        let summary = try readJSON(dir + "/summary.json")
        let methods = try #require(summary["methods"] as? [[String: Any]])
        func load(_ name: String, outcome: String, _ columns: [String]) throws -> [[Double]] {
            let d = try DatasetLoader.load(path: dir + "/" + name, options: LoadOptions(columns: DatasetColumns(
                text: "text", outcome: outcome, attributes: columns)))
            return d.rows.map { [$0.outcome] + $0.attributes }
        }
        for m in cfg.methods {
            let rows = try load("rows-\(m.rawValue)-seed\(cfg.seed).csv", outcome: "outcome", ["logP_f", "logP_R", "ghat"])
            let f0 = try load("f0-\(m.rawValue)-seed\(cfg.seed).csv", outcome: "ghat", ["logP_f0", "logP_f", "weight"])
            #expect(rows.count == exp.data.eval.count && f0.count == cfg.f0Ratio * exp.data.eval.count)
            let w = softmax(rows.map { $0[1] - $0[2] }), w0 = softmax(f0.map { $0[2] - $0[1] })
            #expect(zip(w0, f0).allSatisfy { abs($0 - $1[3]) < 1e-12 })
            let residual = zip(w, rows).reduce(0) { $0 + $1.0 * ($1.1[0] - $1.1[3]) }
            let vOUT = zip(w0, f0).reduce(0) { $0 + $1.0 * $1.1[0] }
            let vSNIPW = zip(w, rows).reduce(0) { $0 + $1.0 * $1.1[0] }
            let vIPW = rows.reduce(0) { $0 + Foundation.exp($1[1] - $1[2]) * $1[0] } / Double(rows.count)
            let o = try #require(methods.first { $0["name"] as? String == m.rawValue })
            func reported(_ e: Estimator) -> Double { ((o[e.summaryKey] as? [String: Any])?["mean"] as? Double) ?? .nan }
            for (e, mine) in [(Estimator.dr, residual + vOUT), (.out, vOUT), (.snipw, vSNIPW), (.ipw, vIPW), (.drResidual, residual)] {
                #expect(abs(mine - reported(e)) <= 1e-9 * max(1, abs(mine)), "\(m) \(e.name): \(mine) from the files, \(reported(e)) reported")
            }
        }
    }

    /// An evaluation whose held-out weights collapsed is marked in the report and summary.json,
    /// with the reason; FT's (every weight 1) is not.
    @Test func collapsedWeightsAreMarkedUnreliable() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        try exp.prepare()
        exp.step(.cpo)
        var result = SeedResult(exp)
        let n = exp.data.eval.count
        var last = try #require(result.metrics[.cpo]?.last)
        result.metrics[.cpo]?.removeLast()
        last.weights = Diagnostics.weightSummary(logP: [0] + [Double](repeating: -50, count: n - 1), logPR: [Double](repeating: 0, count: n),
                                                 batchSize: cfg.batchSize)
        // Only the rows' weights collapse: the f0 samples' stay whole, so V_OUT stays reliable
        // whatever one step of the tiny run did to them.
        let samples = last.f0Weights?.count ?? cfg.f0Ratio * n
        last.f0Weights = EffectiveSampleSize(ess: Double(samples), count: samples)
        result.metrics[.cpo]?.append(last)
        #expect(last.reliability.unreliable == [.dr, .ipw, .snipw])
        let writer = ReportWriter(config: cfg, data: exp.data, results: [result])
        let md = writer.markdown()
        let cpoRow = try #require(md.split(separator: "\n").first { $0.hasPrefix("| CPO |") })
        #expect(cpoRow.components(separatedBy: " †").count - 1 == 3, "V_DR, V_IPW and V_SNIPW marked: \(cpoRow)")
        #expect(md.contains("- CPO, seed \(cfg.seed): V_DR, V_IPW, V_SNIPW unreliable: held-out ESS 1.0 of \(n) rows"))
        let ftRow = try #require(md.split(separator: "\n").first { $0.hasPrefix("| FT |") })
        #expect(!ftRow.contains("†"))
        let methods = try #require(writer.summary()["methods"] as? [[String: Any]])
        #expect(methods.first { $0["name"] as? String == "CPO" }?["unreliable"] as? [String] == ["v_dr", "v_ipw", "v_snipw"])
        #expect((methods.first { $0["name"] as? String == "FT" }?["unreliable"] as? [String])?.isEmpty == true)
    }

    /// User data: the win rates are judged by a model fitted on the held-out rows only, which is
    /// assessed; where it tells texts apart the report shows the win rates, where it cannot it
    /// says so and shows none. A saved run restores the judge exactly.
    @Test func theUserDataJudgeIsAssessedAndReported() throws {
        for (signal, informative) in [(20.0, true), (0.0, false)] {
            let path = try userDataFile(signal: signal)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let cfg = userDataConfig(path)
            let exp = try Experiment(config: cfg, seed: cfg.seed)
            try exp.prepare()
            exp.step(.cpo)
            let judge = try #require(exp.judgeAssessment)
            #expect(judge.rows == exp.data.eval.count)
            #expect(judge.informative == informative, "signal \(signal): \(judge.summary)")
            let writer = ReportWriter(config: cfg, data: exp.data, results: [SeedResult(exp)])
            let md = writer.markdown()
            #expect(md.contains("k nearest neighbours on character n-grams") && md.contains(judge.summary))
            #expect(md.contains("**No win rates are shown:**") == !informative)
            #expect(md.contains("| | FT | OO-RLHF | CPO |") == informative)
            let judgeJSON = try #require((writer.summary()["data"] as? [String: Any])?["judge"] as? [String: Any])
            #expect(judgeJSON["informative"] as? Bool == informative)

            let dir = temporaryRunPath("judge")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let runDir = try RunDirectory.create(dir, config: cfg)
            try runDir.save(exp)
            let (restored, _) = try runDir.restore(seed: cfg.seed, config: cfg)
            #expect(restored.judgeAssessment == judge)
            let probe = ["Come along. Kids get badges.", "Come along. Parking is short.", "unrelated words"]
            #expect(restored.judge?.predict(probe) == exp.judge?.predict(probe))
        }
    }
}
