import CausalPO
import CPOSupport
import Foundation
import OutcomeData
import Testing
@testable import Bridge
@testable import Lab

/// A world run small enough for a debug build (as LabTests' tinyConfig), ĝ cross-fitted on the
/// training rows unless told otherwise.
func tinyExportConfig(ghatFrom: GhatSource = .same, seed: UInt64 = 3) -> LabConfig {
    let world = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("sample-data/worlds/river-cleanup.toml").path
    var model = LabConfig.defaultModel
    model.vocabSize = 300
    model.contextLength = 48
    model.dModel = 32
    model.heads = 2
    model.layers = 1
    return LabConfig(
        source: .world(world), rows: 64, evalRows: 24, logRows: 64, validationRows: 16, ghatFrom: ghatFrom,
        methods: [.ft, .cpo, .drCPO], epochs: 1, seed: seed,
        model: model,
        ftMaxEpochs: 2, learningRate: 1e-3, batchSize: 8, f0Ratio: 2, folds: 3, evalSamples: 16, winRatePrompts: 12, threads: 2)
}

/// The numbers of an exported row, read exactly (Foundation's JSONSerialization on Linux may
/// round the last bit of a Double; JSONDecoder, like Python's json, does not).
struct RowNumbers: Decodable {
    var outcome: Double
    var ghat: Double
    var fold: Int?
    var log_propensity: Double?
}

func exactRows(_ rows: [JSONText]) throws -> [RowNumbers] {
    try rows.map { try JSONDecoder().decode(RowNumbers.self, from: Data($0.rendered().utf8)) }
}

func parseLines(_ bytes: [UInt8]) throws -> [[String: Any]] {
    try String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { line in
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not an object: \(line)")
    }
}

func file(_ files: [(name: String, bytes: [UInt8])], _ name: String) throws -> [UInt8] {
    try #require(files.first { $0.name == name }, "no \(name)").bytes
}

@Suite("export for an external trainer")
struct ExportTests {
    static let trainer = Array("# train_cpo.py stand-in\n".utf8)

    /// What the export writes for the training and held-out rows is what the lab's own
    /// preparation computes for the same seed (with FT trained), to the bit.
    @Test func ghatEqualsTheLabsPreparation() throws {
        let cfg = tinyExportConfig()
        let export = try Export.prepare(config: cfg, seed: cfg.seed, source: ExportSource(kind: .world, name: "river-cleanup"))
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        try exp.prepare()
        let inputs = try #require(exp.inputs)
        let ev = try #require(exp.evalInputs)
        #expect(export.data.ghatIsCrossFitted)
        #expect(export.trainingGhat.map(\.bitPattern) == inputs.ghat.map(\.bitPattern))
        #expect(export.ghat == exp.outcomeModel)
        let train = try exactRows(export.rows("train"))
        #expect(train.map(\.ghat.bitPattern) == inputs.ghat.map(\.bitPattern))
        #expect(train.map(\.fold) == export.ghat.folds)
        #expect(train.map(\.outcome) == inputs.outcomes)
        let eval = try exactRows(export.rows("eval"))
        #expect(eval.map(\.ghat.bitPattern) == ev.ghat.map(\.bitPattern))
        #expect(eval.map(\.outcome) == ev.outcomes)
        #expect(eval.map(\.log_propensity) == export.data.eval.map(\.logPropensity))
        // The f0 prompts are as many as the f0 samples the lab drew.
        let prompts = try parseLines(JSONText.lines(export.f0Prompts()))
        #expect(prompts.filter { $0["split"] as? String == "train" }.count == inputs.f0Seqs.count)
        #expect(prompts.filter { $0["split"] as? String == "eval" }.count == ev.f0Seqs.count)
        #expect(prompts.allSatisfy { $0["prompt"] as? String == "" })
    }

    @Test func everyFileFollowsTheSpec() throws {
        let cfg = tinyExportConfig()
        let export = try Export.prepare(config: cfg, seed: cfg.seed, source: ExportSource(kind: .world, name: "river-cleanup"))
        let files = try export.files(trainer: Self.trainer)
        #expect(files.map(\.name) == Export.fileDescriptions.map(\.name))
        for (split, n) in [("train", cfg.rows), ("validation", cfg.validationRows), ("eval", cfg.evalRows)] {
            let rows = try parseLines(file(files, "\(split).jsonl"))
            #expect(rows.count == n, "\(split)")
            for (i, r) in rows.enumerated() {
                #expect(r["id"] as? String == "\(split)-\(i)")
                #expect(r["split"] as? String == split)
                #expect(r["text"] is String && r["outcome"] is Double && r["ghat"] is Double)
                #expect(r["log_propensity"] is Double && r["trait"] is Double && r["true_value"] is Double)
                if split == "train" { #expect(r["fold"] is Int) } else { #expect(r["fold"] is NSNull) }
            }
        }
        let config = try #require(try JSONSerialization.jsonObject(with: Data(file(files, "config.json"))) as? [String: Any])
        #expect(config["format"] as? String == "cpo-tui-export" && config["version"] as? Int == 1)
        #expect((config["objective"] as? [String: Any])?["anchor"] as? Double == cfg.objective.anchor)
        #expect((config["ghat"] as? [String: Any])?["folds"] as? Int == cfg.folds)
        #expect(config["lr"] as? Double == 1e-3)
        #expect(try file(files, "train_cpo.py") == Self.trainer)

        // The baselines: the lab's rules on the oriented training outcomes.
        let y = export.data.train.map(\.outcome)
        let dpo = try parseLines(file(files, "dpo.jsonl"))
        let pairs = BaselineRows.dpoPairs(outcomes: y, batchSize: cfg.batchSize, seed: cfg.seed)
        #expect(!dpo.isEmpty && dpo.count == pairs.count)
        for (p, pair) in zip(dpo, pairs) {
            #expect(p["prompt"] as? String == "")
            #expect(p["chosen"] as? String == export.data.train[pair.chosen].text)
            #expect(p["rejected"] as? String == export.data.train[pair.rejected].text)
            #expect(y[pair.chosen] > y[pair.rejected])
        }
        // Every batch pairs all its rows with distinct outcomes: about B(B−1)/2 pairs per batch.
        #expect(pairs.count > y.count / cfg.batchSize * (cfg.batchSize * (cfg.batchSize - 1) / 2) * 9 / 10)
        let kto = try parseLines(file(files, "kto.jsonl"))
        let median = y.sorted()[y.count / 2 - 1] / 2 + y.sorted()[y.count / 2] / 2
        #expect(kto.count == y.count)
        for (k, row) in zip(kto, export.data.train) {
            #expect(k["completion"] as? String == row.text && k["prompt"] as? String == "")
            #expect(k["label"] as? Bool == (row.outcome > median))
        }
        let sft = try parseLines(file(files, "sft.jsonl"))
        let selected = Objectives.topQuantileSelection(outcomes: y, quantile: cfg.objective.filterQuantile)
        #expect(sft.map { $0["text"] as? String } == export.data.train.indices.filter { selected[$0] }.map { export.data.train[$0].text })
        #expect(sft.count >= y.count / 4 && sft.count < y.count / 2)
    }

    /// DPO's pairs are the ones the lab's DPO trains on in its first epoch.
    @Test func dpoPairsAreTheLabsFirstEpoch() throws {
        let y = (0..<20).map { Double(($0 * 7) % 11) }
        let pairs = BaselineRows.dpoPairs(outcomes: y, batchSize: 8, seed: 5)
        let batches = Batches.shuffledBatches(20, size: 8, seed: MethodRun.batchSeed(SeededRandom.derivedSeed(5, "train"), .dpo, epoch: 1))
        let expected = batches.flatMap { b in Objectives.outcomeRankedPairs(outcomes: b.map { y[$0] }).map { (b[$0.chosen], b[$0.rejected]) } }
        #expect(pairs.map { [$0.chosen, $0.rejected] } == expected.map { [$0.0, $0.1] })
        #expect(pairs.allSatisfy { y[$0.chosen] > y[$0.rejected] })
    }

    @Test func theSameSeedGivesTheSameBytes() throws {
        let cfg = tinyExportConfig(ghatFrom: .observational)
        let a = try Export.prepare(config: cfg, seed: cfg.seed, source: ExportSource(kind: .world, name: "w")).files(trainer: Self.trainer)
        let b = try Export.prepare(config: cfg, seed: cfg.seed, source: ExportSource(kind: .world, name: "w")).files(trainer: Self.trainer)
        #expect(a.map(\.name) == b.map(\.name))
        #expect(a.map(\.bytes) == b.map(\.bytes))
        // ĝ fit on the observational log: the training rows have no fold.
        #expect(try parseLines(file(a, "train.jsonl")).allSatisfy { $0["fold"] is NSNull })
        let other = try Export.prepare(config: cfg, seed: cfg.seed + 1, source: ExportSource(kind: .world, name: "w")).files(trainer: Self.trainer)
        #expect(try file(a, "train.jsonl") != file(other, "train.jsonl"))
    }

    @Test func f0PromptsFromPrefixesAreTrainingTextPrefixes() throws {
        var cfg = tinyExportConfig()
        cfg.f0FromScratch = false
        let export = try Export.prepare(config: cfg, seed: cfg.seed, source: ExportSource(kind: .world, name: "w"))
        let prompts = try parseLines(JSONText.lines(export.f0Prompts()))
        #expect(prompts.count == cfg.f0Ratio * (cfg.rows + cfg.evalRows))
        let texts = export.data.train.map(\.text)
        for p in prompts {
            let prompt = try #require(p["prompt"] as? String)
            #expect(!prompt.isEmpty && texts.contains { $0.hasPrefix(prompt) && $0 != prompt })
        }
    }

    @Test func writingRefusesADirectoryThatHoldsSomethingElse() throws {
        let dir = NSTemporaryDirectory() + "cpo-export-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: dir + "/notes.txt"))
        let cfg = tinyExportConfig(ghatFrom: .observational)
        let files = try Export.prepare(config: cfg, seed: cfg.seed, source: ExportSource(kind: .world, name: "w")).files(trainer: Self.trainer)
        #expect(throws: BridgeError.self) { try Export.write(files, to: dir, force: false) }
        try Export.write(files, to: dir, force: true)
        // An earlier export is overwritten without --force.
        try Export.write(files, to: dir, force: false)
        #expect(Export.holdsAnExport(dir))
        #expect(try String(contentsOfFile: dir + "/notes.txt", encoding: .utf8) == "mine")
        let asFile = dir + "/notes.txt"
        #expect(throws: BridgeError.self) { try Export.write(files, to: asFile, force: true) }
    }

    /// train_cpo.py has no robust objective: an export of a robust configuration is refused
    /// (before any preparation), naming the flag.
    @Test func aRobustConfigurationIsRefused() {
        var cfg = tinyExportConfig()
        cfg.objective.robustLambda = 2
        do {
            _ = try Export.prepare(config: cfg, seed: cfg.seed, source: ExportSource(kind: .world, name: "w"))
            Issue.record("exported a robust configuration")
        } catch {
            #expect(error.description.contains("--robust-lambda") && error.description.contains("train_cpo.py"))
        }
    }

    /// Data whose lower outcomes are better: the rows hold the outcomes as the file has them,
    /// ĝ and the baselines read them oriented (larger is better), and config.json says so.
    @Test func lowerIsBetterDataKeepItsOutcomesAndOrientsTheRest() throws {
        let csv = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("sample-data/river-cleanup-randomized.csv").path
        var options = LoadOptions(columns: DatasetColumns(propensity: "propensity", trait: "trait"), higherIsBetter: false)
        options.format = .csv
        let cfg = LabConfig(source: .file(path: csv, options: options), ghatFrom: .same, propensity: .logged, batchSize: 16, folds: 2)
        let export = try Export.prepare(config: cfg, seed: 1, source: ExportSource(kind: .data, name: csv))
        let raw = try DatasetLoader.load(path: csv, options: options)
        let rawOutcomes = Set(raw.rows.map(\.outcome))
        let rows = try exactRows(export.rows("train"))
        #expect(rows.map(\.outcome) == export.data.train.map { -$0.outcome })
        #expect(rows.allSatisfy { rawOutcomes.contains($0.outcome) })
        #expect(rows.allSatisfy { $0.log_propensity != nil && $0.fold != nil })
        let config = try #require(try JSONSerialization.jsonObject(with: Data(export.configJSON().rendered().utf8)) as? [String: Any])
        let outcome = try #require(config["outcome"] as? [String: Any])
        #expect(outcome["lower_is_better"] as? Bool == true && outcome["orientation"] as? Int == -1)
        // (JSONSerialization may round the last bit; the exact values are tested through JSONDecoder.)
        #expect(abs(try #require(outcome["min"] as? Double) - #require(export.data.train.map(\.outcome).min())) < 1e-9)
        #expect(config["propensity"] as? String == "logged")
        // KTO's desirable rows are the low outcomes of the file.
        let kto = try parseLines(JSONText.lines(export.kto()))
        let good = zip(kto, rows).filter { $0.0["label"] as? Bool == true }.map(\.1.outcome)
        let bad = zip(kto, rows).filter { $0.0["label"] as? Bool == false }.map(\.1.outcome)
        #expect(!good.isEmpty && !bad.isEmpty && good.max()! <= bad.min()!)
    }
}
