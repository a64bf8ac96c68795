import Foundation
import Testing

/// `cpo-tui export` and `cpo-tui ghat score` as a user runs them.
@Suite("export and ghat score", .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"))
struct ExportCLITests {
    /// A world export that runs in about a second, ĝ cross-fitted on the training rows.
    static let small = ["--rows", "60", "--eval-rows", "20", "--validation-rows", "10", "--log-rows", "40", "--ghat-from", "same",
                        "--f0-ratio", "2", "--folds", "3", "--batch-size", "8", "--seed", "4"]
    static let files = ["train.jsonl", "validation.jsonl", "eval.jsonl", "f0_prompts.jsonl", "config.json", "ghat.json",
                        "dpo.jsonl", "kto.jsonl", "sft.jsonl", "train_cpo.py"]

    static func freshDirectory(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "cpo-cli-export-\(getpid())-\(name)"
        try? FileManager.default.removeItem(atPath: dir)
        return dir
    }

    static func lines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(path): \(line)")
        }
    }

    static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test func exportWritesEveryFileAndGhatScoreReproducesIt() throws {
        let dir = Self.freshDirectory("world")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["export", "--to", dir] + Self.small)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("fitting ĝ"))
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(Set(names) == Set(Self.files))
        for (split, n) in [("train", 60), ("validation", 10), ("eval", 20)] {
            let rows = try Self.lines(dir + "/\(split).jsonl")
            #expect(rows.count == n)
            for row in rows {
                for key in ["id", "text", "outcome", "split", "fold", "ghat", "log_propensity", "trait", "true_value"] {
                    #expect(row[key] != nil, "\(split) lacks \(key)")
                }
                #expect((row["fold"] is NSNull) == (split != "train"))
            }
        }
        let prompts = try Self.lines(dir + "/f0_prompts.jsonl")
        #expect(prompts.filter { $0["split"] as? String == "train" }.count == 120)
        #expect(prompts.filter { $0["split"] as? String == "eval" }.count == 40)
        let config = try #require(try JSONSerialization.jsonObject(with: Self.bytes(dir + "/config.json")) as? [String: Any])
        #expect(config["format"] as? String == "cpo-tui-export")
        #expect((config["source"] as? [String: Any])?["kind"] as? String == "world")
        #expect(try Self.lines(dir + "/kto.jsonl").count == 60)
        for pair in try Self.lines(dir + "/dpo.jsonl") { #expect(Set(pair.keys) == ["prompt", "chosen", "rejected"]) }
        #expect(try Self.bytes(dir + "/train_cpo.py").count > 0)

        // ĝ applied by `ghat score` to the held-out rows gives back eval.jsonl byte for byte:
        // the same predictions, every other key as written.
        let scored = dir + "-eval-scored.jsonl"
        defer { try? FileManager.default.removeItem(atPath: scored) }
        let s = try CLI.run(["ghat", "score", "--model", dir + "/ghat.json", "--in", dir + "/eval.jsonl", "--out", scored])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(try Self.bytes(scored) == Self.bytes(dir + "/eval.jsonl"))

        // The same seed gives the same bytes.
        let again = Self.freshDirectory("world-again")
        defer { try? FileManager.default.removeItem(atPath: again) }
        #expect(try CLI.run(["export", "--to", again] + Self.small).status == 0)
        for f in Self.files { #expect(try Self.bytes(dir + "/" + f) == Self.bytes(again + "/" + f), "\(f)") }
        // Exporting into an earlier export is allowed; into anything else only with --force.
        #expect(try CLI.run(["export", "--to", again] + Self.small).status == 0)
        let other = Self.freshDirectory("other")
        defer { try? FileManager.default.removeItem(atPath: other) }
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: other + "/notes.txt"))
        let refused = try CLI.run(["export", "--to", other] + Self.small)
        #expect(refused.status != 0 && refused.stderr.contains("--force"))
        #expect(try CLI.run(["export", "--to", other, "--force"] + Self.small).status == 0)
    }

    /// An export of a saved run holds its rows and the ĝ its preparation fitted: the same files
    /// as an export of the same settings from the world.
    @Test func exportOfASavedRun() throws {
        let tiny = Self.small + ["--methods", "FT", "--d-model", "16", "--layers", "1", "--heads", "2", "--vocab", "300",
                                 "--ft-epochs", "1", "--eval-samples", "10", "--win-prompts", "10"]
        let run = Self.freshDirectory("run")
        let fromRun = Self.freshDirectory("from-run"), fromWorld = Self.freshDirectory("from-world")
        defer { for d in [run, fromRun, fromWorld] { try? FileManager.default.removeItem(atPath: d) } }
        let r = try CLI.run(["run", "--epochs", "0", "--run-dir", run] + tiny)
        #expect(r.status == 0, "\(r.stderr)")
        let e = try CLI.run(["export", "--run", run, "--to", fromRun])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(try CLI.run(["export", "--to", fromWorld] + tiny).status == 0)
        for f in Self.files where f != "config.json" {
            #expect(try Self.bytes(fromRun + "/" + f) == Self.bytes(fromWorld + "/" + f), "\(f)")
        }
        let both = try CLI.run(["export", "--run", run, "--world", "river-cleanup", "--to", fromRun])
        #expect(both.status != 0 && both.stderr.contains("--run"))
        let missing = try CLI.run(["export", "--run", run + "-missing", "--to", fromRun])
        #expect(missing.status != 0 && missing.stderr.contains("not a saved run"))
    }

    @Test func ghatScoreRefusesBadInputWithItsPlace() throws {
        let dir = Self.freshDirectory("bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try CLI.run(["export", "--to", dir] + Self.small).status == 0)
        let model = dir + "/ghat.json"
        let out = dir + "/out.jsonl"
        func score(_ contents: String, model: String, key: [String] = []) throws -> CLI.Result {
            let input = try CLI.temp("score-in.jsonl", contents)
            return try CLI.run(["ghat", "score", "--model", model, "--in", input, "--out", out] + key)
        }
        let truncated = try score("{\"text\": \"river\"}\n{\"text\": \"bank", model: model)
        #expect(truncated.status != 0 && truncated.stderr.contains("score-in.jsonl:2:") && truncated.stderr.contains("cut off"))
        let malformed = try score("{\"text\": \"river\" \"x\": 1}\n", model: model)
        #expect(malformed.status != 0 && malformed.stderr.contains("score-in.jsonl:1:18: not valid JSON"))
        let noText = try score("{\"sample\": \"river\"}\n", model: model)
        #expect(noText.status != 0 && noText.stderr.contains("--text-key"))
        let otherKey = try score("{\"sample\": \"river\"}\n", model: model, key: ["--text-key", "sample"])
        #expect(otherKey.status == 0)
        #expect(try Self.lines(out).first?["ghat"] is Double)

        let cut = try String(contentsOfFile: model, encoding: .utf8)
        let badModel = try CLI.temp("cut-ghat.json", String(cut.prefix(cut.count / 3)))
        let b = try score("{\"text\": \"river\"}\n", model: badModel)
        #expect(b.status != 0 && b.stderr.contains("cut-ghat.json:1:"))
        let wrongVersion = try CLI.temp("v9-ghat.json", cut.replacingOccurrences(of: "\"version\":1", with: "\"version\":9"))
        let v = try score("{\"text\": \"river\"}\n", model: wrongVersion)
        #expect(v.status != 0 && v.stderr.contains("version 9"))
        let notAModel = try score("{\"text\": \"river\"}\n", model: dir + "/config.json")
        #expect(notAModel.status != 0 && notAModel.stderr.contains("not a cpo-tui ĝ file"))

        let input = dir + "/eval.jsonl"
        let before = try Self.bytes(input)
        let same = try CLI.run(["ghat", "score", "--model", model, "--in", input, "--out", input])
        #expect(same.status != 0 && same.stderr.contains("input"))
        #expect(try Self.bytes(input) == before)
    }

    @Test func helpNamesTheCommands() throws {
        let r = try CLI.run(["--help"])
        #expect(r.stdout.contains("export") && r.stdout.contains("ghat"))
        let e = try CLI.run(["export", "--help"])
        #expect(e.status == 0 && e.stdout.contains("--to") && e.stdout.contains("--run") && e.stdout.contains("Contrastive"))
        let g = try CLI.run(["ghat", "score", "--help"])
        #expect(g.status == 0 && g.stdout.contains("--text-key"))
    }
}
