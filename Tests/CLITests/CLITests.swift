import Foundation
import Testing

/// Runs the real `cpo-tui` binary that `swift test` built beside the test bundle.
enum CLI {
    static let binary: URL? = Spawn.builtBinary
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    /// Runs `cpo-tui args`. The user's own config file is never read: XDG_CONFIG_HOME points
    /// to an empty folder unless `environment` says otherwise.
    static func run(_ args: [String], environment: [String: String] = [:], timeout: Double = 600) throws -> Result {
        try run(binary!.path, args, environment: environment, timeout: timeout)
    }

    /// `run`, through `command` (a wrapper that ends by running `cpo-tui` with the arguments
    /// after it, such as a shell that sets a limit first).
    static func run(_ command: String, _ args: [String], environment: [String: String] = [:], timeout: Double = 600) throws -> Result {
        let isolated = ["XDG_CONFIG_HOME": NSTemporaryDirectory() + "cpo-cli-no-config-\(getpid())", "CPO_TUI_CONFIG": ""]
        let r = try Spawn.run(command, args, directory: packageRoot.path,
                              environment: isolated.merging(environment) { $1 }, timeout: timeout)
        if r.timedOut { Issue.record("cpo-tui \(args.joined(separator: " ")) did not finish in \(Int(timeout)) s") }
        return Result(status: r.status, stdout: r.stdout, stderr: r.stderr)
    }

    static func temp(_ name: String, _ contents: String) throws -> String {
        let dir = NSTemporaryDirectory() + "cpo-cli-tests-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/" + name
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

@Suite("the cpo-tui command line", .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"))
struct CLITests {
    @Test func helpListsTheCommands() throws {
        let r = try CLI.run(["--help"])
        #expect(r.status == 0)
        for cmd in ["dashboard", "run", "world", "data", "bench"] { #expect(r.stdout.contains(cmd)) }
    }

    @Test func worldSampleIsReproducibleAndWorldCheckSummarizes() throws {
        let a = try CLI.run(["world", "sample", "--rows", "50", "--seed", "7", "--design", "observational"])
        let b = try CLI.run(["world", "sample", "--rows", "50", "--seed", "7", "--design", "observational"])
        #expect(a.status == 0 && a.stdout == b.stdout)
        #expect(a.stdout.split(separator: "\n").count == 51)
        #expect(a.stdout.hasPrefix("text,outcome,trait,propensity,design,"))
        let c = try CLI.run(["world", "check", "river-cleanup"])
        #expect(c.status == 0 && c.stdout.contains("V*"))
    }

    @Test func badWorldFileFailsWithTheLine() throws {
        let path = try CLI.temp("bad.toml", """
            name = "two-attrs"
            [outcome]
            noise_sd = 1.0
            [design]
            passages = [2]
            [[attribute]]
            name = "a"
            effect = 1.0
            passages = []
            [[attribute]]
            name = "b"
            effect = 1.0
            passages = ["B one."]
            """)
        let r = try CLI.run(["world", "check", path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("bad.toml:9"), "\(r.stderr)")
    }

    @Test func badDatasetFailsWithLineAndColumnAndNothingIsWritten() throws {
        let path = try CLI.temp("bad.csv", "text,outcome\n\"fine\",1\n\"never closed,2\n")
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let r = try CLI.run(["data", "check", "--data", path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("bad.csv:3:1"), "\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        let missing = try CLI.run(["data", "check", "--data", path, "--outcome", "score"])
        #expect(missing.status != 0)
        let none = try CLI.run(["data", "check", "--data", "/nonexistent/file.csv"])
        #expect(none.status != 0 && none.stderr.contains("/nonexistent/file.csv"))
    }

    @Test func tooManyBadRowsIsRefusedUnlessTheLimitIsRaised() throws {
        var csv = "text,outcome\n"
        for i in 0..<100 { csv += "row \(i),\(i == 5 || i == 6 ? "n/a" : String(i))\n" }
        let path = try CLI.temp("some-bad.csv", csv)
        let strict = try CLI.run(["data", "check", "--data", path])
        #expect(strict.status != 0 && strict.stderr.contains("--max-bad-fraction"))
        let lenient = try CLI.run(["data", "check", "--data", path, "--max-bad-fraction", "0.05"])
        #expect(lenient.status == 0 && lenient.stdout.contains("98 rows"))
    }

    @Test func aTinyHeadlessRunPrintsProgressAndWritesTheReport() throws {
        let dir = NSTemporaryDirectory() + "cpo-cli-run-\(getpid())"
        let r = try CLI.run(["run", "--no-save", "--rows", "40", "--eval-rows", "20", "--epochs", "1", "--methods", "FT,CPO,DR-CPO",
                             "--d-model", "32", "--layers", "1", "--heads", "2", "--vocab", "300", "--context", "48",
                             "--ft-epochs", "1", "--eval-samples", "10", "--win-prompts", "10", "--f0-ratio", "1",
                             "--folds", "2", "--batch-size", "8", "--report", dir])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.contains { $0.contains("CPO") && $0.contains("epoch 1") && $0.contains("V_DR") && $0.contains("true") })
        for f in ["report.md", "report.html", "summary.json", "metrics.jsonl", "rows-CPO-seed0.csv"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + f), "\(f)")
        }
        let md = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        // In a world, ĝ comes from the confounded log unless told otherwise.
        #expect(md.contains("ĝ from `observational`"), "\(md.prefix(400))")
        // report.md and summary.json hold each epoch and where the stopping rule stops.
        #expect(md.contains("By epoch") && md.contains("| 1 | ") && md.contains("Where to stop, by a rule that reads no truth"))
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as? [String: Any])
        let methods = try #require(summary["methods"] as? [[String: Any]])
        let cpo = try #require(methods.first { $0["name"] as? String == "CPO" })
        let byEpoch = try #require(cpo["by_epoch"] as? [[String: Any]])
        #expect(byEpoch.count == 1 && byEpoch[0]["epoch"] as? Int == 1 && byEpoch[0]["normalized_gain"] != nil)
        let stopping = try #require(cpo["stopping_rule"] as? [String: Any])
        #expect((stopping["epochs"] as? [Int])?.count == 1)
    }

    /// A run says what it had to cut and what it cannot identify: on its lines and in report.md.
    /// The observational log with FT as P^R is refused for CPO and warned about without it.
    @Test func aTinyRunWarnsAboutCutTextsAndWhatItCannotIdentify() throws {
        let refused = try CLI.run(["run", "--no-save", "--design", "observational", "--propensity", "model"])
        #expect(refused.status != 0 && refused.stderr.contains("--propensity logged"), "\(refused.stderr)")
        #expect(!refused.stdout.contains("training the tokenizer"), "work started before the refusal")

        let dir = NSTemporaryDirectory() + "cpo-cli-warn-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["run", "--no-save", "--design", "observational", "--propensity", "model", "--methods", "FT,filtered-SFT",
                             "--rows", "40", "--eval-rows", "20", "--validation-rows", "10", "--epochs", "0", "--d-model", "32",
                             "--layers", "1", "--heads", "2", "--vocab", "300", "--context", "16", "--ft-epochs", "1",
                             "--eval-samples", "10", "--win-prompts", "10", "--f0-ratio", "1", "--folds", "2", "--batch-size", "8",
                             "--report", dir])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.contains { $0.contains("context 16 tokens (as configured") && $0.contains("cut by the context: training") },
                "\(r.stdout)")
        let cut = lines.filter { $0.contains("WARNING:") && $0.contains("of 40 training texts") }
        #expect(cut.count == 1, "\(r.stdout)")
        #expect(lines.contains { $0.contains("WARNING:") && $0.contains("not identified") }, "\(r.stdout)")
        let md = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        #expect(md.contains("## Warnings") && md.contains("of 40 training texts") && md.contains("not identified"))

        // --help states the rule and the cap.
        let help = try CLI.run(["run", "--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(help.contains("fitted to the data") && help.contains("at most 256"), "\(help)")
    }

    /// User data whose outcomes ignore the texts: the run says the judge cannot tell texts
    /// apart and prints no win rates; --f0-from-prefixes is accepted and the report calls its
    /// f0 terms approximate; the f0 samples are exported beside the rows.
    @Test func aBlindJudgeIsNamedAndItsWinRatesAreNotPrinted() throws {
        var csv = "text,y\n"
        for i in 0..<200 { csv += "Come along \(["today", "on Saturday", "with a friend"][i % 3]). Bring gloves.,\((i * 7919) % 100)\n" }
        let path = try CLI.temp("noise.csv", csv)
        let dir = NSTemporaryDirectory() + "cpo-cli-blind-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["run", "--no-save", "--data", path, "--text", "text", "--outcome", "y", "--epochs", "1", "--methods", "FT,CPO",
                             "--d-model", "32", "--layers", "1", "--heads", "2", "--vocab", "300", "--context", "48",
                             "--ft-epochs", "1", "--eval-samples", "10", "--win-prompts", "10", "--f0-ratio", "1",
                             "--folds", "2", "--batch-size", "8", "--f0-from-prefixes", "--report", dir])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.contains { $0.contains("win rates: the judge cannot tell texts apart") && $0.contains("the lines show none") },
                "\(r.stdout)")
        let cpo = try #require(lines.first { $0.contains("CPO") && $0.contains("epoch 1") })
        #expect(cpo.contains("win     –"), "\(cpo)")
        let md = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
        #expect(md.contains("**No win rates are shown:**") && md.contains("approximate"))
        #expect(FileManager.default.fileExists(atPath: dir + "/f0-CPO-seed0.csv"))
    }

    /// Options with a fixed set of values list them in --help and refuse any other value with
    /// ArgumentParser's standard message (the option, the bad value, the good ones) and a
    /// usage exit code, before anything is read or trained.
    @Test func fixedValueOptionsListTheirValuesAndRefuseOthers() throws {
        let csv = try CLI.temp("fine.csv", "text,outcome\nhello,1\nworld,2\n")
        let cases: [(args: [String], option: String, bad: String, values: String)] = [
            (["run", "--design", "sideways"], "--design", "sideways", "'randomized' and 'observational'"),
            (["run", "--ghat-from", "elsewhere"], "--ghat-from", "elsewhere", "'same', 'observational' or 'negated'"),
            (["run", "--propensity", "guessed"], "--propensity", "guessed", "'model', 'logged' or 'marginal'"),
            (["world", "sample", "--design", "random"], "--design", "random", "'randomized' and 'observational'"),
            (["data", "check", "--data", csv, "--format", "xml"], "--format", "xml", "'csv', 'tsv' or 'jsonl'"),
            (["data", "check", "--data", csv, "--outcome-kind", "ordinal"], "--outcome-kind", "ordinal",
             "'continuous' and 'binary'"),
            (["data", "check", "--data", csv, "--propensity-scale", "logit"], "--propensity-scale", "logit",
             "'probability' and 'log-probability'"),
        ]
        for c in cases {
            let r = try CLI.run(c.args)
            #expect(r.status == 64, "\(c.args): exit \(r.status)")   // EX_USAGE, as for every bad flag
            #expect(r.stderr.contains("The value '\(c.bad)' is invalid for '\(c.option) <"), "\(c.args): \(r.stderr)")
            #expect(r.stderr.contains(c.values), "\(c.args): \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(c.args) did some work: \(r.stdout)")
        }
        let help = try CLI.run(["run", "--help"])
        let words = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")   // unwrapped
        for values in ["(values: randomized, observational; default: randomized)", "(values: same, observational, negated",
                       "(values: model, logged", "(values: probability, log-probability", "(values: continuous, binary)",
                       "(values: csv, tsv, jsonl)", "(values: FT, OO-RLHF, CPO"] {
            #expect(words.contains(values), "run --help lacks \(values)")
        }
        let good = try CLI.run(["data", "check", "--data", csv, "--format", "csv", "--outcome-kind", "continuous",
                                "--propensity-scale", "log-probability"])
        #expect(good.status == 0, "\(good.stderr)")
    }

    /// --paper-objective turns every term the paper does not have off; flags given with it add
    /// theirs back; each support flag is checked before any work.
    @Test func thePaperObjectiveIsOneFlagAway() throws {
        func objective(_ extra: [String]) throws -> [String: Any] {
            let dir = NSTemporaryDirectory() + "cpo-cli-objective-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let r = try CLI.run(["run", "--run-dir", dir, "--rows", "40", "--eval-rows", "20", "--epochs", "0", "--methods", "FT,CPO",
                                 "--d-model", "32", "--layers", "1", "--heads", "2", "--vocab", "300", "--context", "48",
                                 "--ft-epochs", "1", "--eval-samples", "10", "--win-prompts", "10", "--f0-ratio", "1",
                                 "--folds", "2", "--batch-size", "8"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as? [String: Any]
            return try #require(config?["objective"] as? [String: Any])
        }
        let paper = try objective(["--paper-objective"])
        #expect(paper["normalization"] as? String == "hajek" && paper["clip"] == nil)
        for key in ["klTarget", "anchor", "htClip", "klToFT", "entropyBonus"] { #expect(paper[key] as? Double == 0, "\(key)") }
        let added = try objective(["--paper-objective", "--kl-target", "0.5", "--kl-samples", "4", "--ht-clip", "2"])
        #expect(added["klTarget"] as? Double == 0.5 && added["klSamples"] as? Int == 4 && added["htClip"] as? Double == 2)
        #expect(added["anchor"] as? Double == 0)
        #expect(paper["robustLambda"] as? Double == 1 && added["robustLambda"] as? Double == 1)
        let robust = try objective(["--robust-lambda", "2"])
        #expect(robust["robustLambda"] as? Double == 2 && robust["anchor"] as? Double == 1)
        for (flag, value) in [("--kl-target", "-1"), ("--kl-samples", "1"), ("--kl-coef", "0"), ("--kl-horizon", "0"),
                              ("--anchor", "-2"), ("--ht-clip", "0.5"), ("--robust-lambda", "0.5")] {
            let r = try CLI.run(["run", "--no-save", "\(flag)=\(value)"])
            #expect(r.status != 0 && r.stderr.contains(flag), "\(flag) \(value): \(r.stderr)")
            #expect(!r.stdout.contains("training the tokenizer"), "work started before \(flag) was checked")
        }
    }

    @Test func badRunSettingsFailBeforeAnyWork() throws {
        let negative = try CLI.run(["run", "--epochs", "-1"])
        #expect(negative.status != 0 && negative.stderr.contains("--epochs"))
        let unknown = try CLI.run(["run", "--methods", "FT,PPO"])
        #expect(unknown.status != 0 && unknown.stderr.contains("The value 'FT,PPO' is invalid for '--methods <methods>'"),
                "\(unknown.stderr)")
        #expect(unknown.stderr.contains("- DR-CPO"), "the message lists the methods: \(unknown.stderr)")
        let noWorld = try CLI.run(["run", "--world", "no-such-world"])
        #expect(noWorld.status != 0 && noWorld.stderr.contains("no-such-world"))
        let vocab = try CLI.run(["run", "--vocab", "258"])
        #expect(vocab.status != 0 && vocab.stderr.contains("259"))
        let context = try CLI.run(["run", "--context", "0"])
        #expect(context.status != 0 && context.stderr.lowercased().contains("context"), "\(context.stderr)")
        let heads = try CLI.run(["run", "--d-model", "30", "--heads", "4"])
        #expect(heads.status != 0 && heads.stderr.contains("head"), "\(heads.stderr)")
        let rows = try CLI.run(["run", "--rows", "0"])
        #expect(rows.status != 0 && rows.stderr.contains("--rows"))
        let lr = try CLI.run(["run", "--lr=-1"])
        #expect(lr.status != 0 && lr.stderr.contains("--lr"))
        // A world with texts of more passages than it has attributes.
        let world = try CLI.temp("three-passages.toml", """
            name = "tiny"
            [outcome]
            kind = "continuous"
            baseline = 0
            noise_sd = 1
            [design]
            passages = [3]
            [[attribute]]
            name = "a"
            effect = 1
            passages = ["alpha one"]
            [[attribute]]
            name = "b"
            effect = 2
            passages = ["beta two"]
            """)
        let passages = try CLI.run(["run", "--no-save", "--world", world])
        #expect(passages.status != 0 && passages.stderr.contains("3 distinct attributes"), "\(passages.stderr)")
        #expect(passages.stderr.contains(world) && !passages.stdout.contains("FT epoch"))
        let design = try CLI.run(["run", "--design", "sideways"])
        #expect(design.status != 0 && design.stderr.contains("'randomized' and 'observational'"), "\(design.stderr)")
        for r in [negative, unknown, noWorld, vocab, context, heads, rows, lr, passages, design] {
            #expect(!r.stdout.contains("training the tokenizer"), "work started before the settings were checked")
        }
    }
}
