import Foundation
import Testing

/// `cpo-tui estimate` and `cpo-tui watch` on what `cpo-tui run --report` writes and on the
/// hand-written train_cpo.py run in Tests/BridgeTests/Fixtures/watch-run.
@Suite struct ReadBackTests {
    static let fixture = CLI.packageRoot.appendingPathComponent("Tests/BridgeTests/Fixtures/watch-run").path

    /// A tiny report, written once for the tests below.
    static let report: String? = {
        let dir = NSTemporaryDirectory() + "cpo-cli-readback-\(getpid())"
        guard let r = try? CLI.run(["run", "--no-save", "--rows", "40", "--eval-rows", "20", "--epochs", "1", "--methods", "FT,CPO,DR-CPO",
                                    "--d-model", "32", "--layers", "1", "--heads", "2", "--vocab", "300", "--context", "48",
                                    "--ft-epochs", "1", "--eval-samples", "10", "--win-prompts", "10", "--f0-ratio", "1",
                                    "--folds", "2", "--batch-size", "8", "--report", dir]), r.status == 0 else { return nil }
        return dir
    }()

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    static func close(_ a: Double?, _ b: Double?) -> Bool {
        guard let a, let b else { return false }
        return abs(a - b) <= 1e-9 * max(1, abs(b))
    }

    /// The estimates `estimate` computes from a report's rows and f0 files are the ones the run
    /// logged for the same method's last epoch (metrics.jsonl) and summarized (summary.json).
    @Test func estimateAgreesWithTheRunsOwnNumbers() throws {
        let dir = try #require(Self.report, "the tiny run failed")
        let lines = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let summary = try Self.json(try String(contentsOfFile: dir + "/summary.json", encoding: .utf8))
        let summaryMethods = try #require(summary["methods"] as? [[String: Any]])
        for method in ["FT", "CPO", "DR-CPO"] {
            let r = try CLI.run(["estimate", "--rows", "\(dir)/rows-\(method)-seed0.csv", "--f0", "\(dir)/f0-\(method)-seed0.csv",
                                 "--batch-size", "8", "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let out = try Self.json(r.stdout)
            let estimates = try #require(out["estimates"] as? [String: Any])
            let last = try #require(try lines.map { try Self.json(String($0)) }.last {
                $0["type"] as? String == "epoch" && $0["method_name"] as? String == method
            })
            let fromSummary = try #require(summaryMethods.first { $0["name"] as? String == method })
            for (metricsKey, key) in [("vDR", "v_dr"), ("vIPW", "v_ipw"), ("vSNIPW", "v_snipw"), ("vOUT", "v_out"), ("drResidual", "dr_residual")] {
                let logged = try #require(last[metricsKey] as? [String: Any])
                let mine = try #require(estimates[key] as? [String: Any], "\(method) \(key)")
                let ci = mine["ci95"] as? [Double]
                #expect(Self.close(mine["value"] as? Double, logged["value"] as? Double), "\(method) \(key)")
                #expect(Self.close(ci?.first, logged["lower"] as? Double) && Self.close(ci?.last, logged["upper"] as? Double), "\(method) \(key)")
                let summarized = try #require(fromSummary[key] as? [String: Any])
                #expect(Self.close(mine["value"] as? Double, summarized["mean"] as? Double), "\(method) \(key) in summary.json")
            }
            let ess = try #require((out["ess"] as? [String: Any])?["rows"] as? [String: Any])
            let weights = try #require(last["weights"] as? [String: Any])
            #expect(Self.close(ess["ess"] as? Double, weights["ess"] as? Double), "\(method) ESS")
            let check = try #require((out["weight_check"] as? [String: Any])?["rows"] as? [String: Any])
            #expect(check["mismatches"] as? Int == 0)
        }
        let text = try CLI.run(["estimate", "--rows", "\(dir)/rows-CPO-seed0.csv"])
        #expect(text.status == 0 && text.stdout.contains("V_SNIPW") && text.stdout.contains("needs --f0") && text.stdout.contains("held-out ESS"))
    }

    @Test func malformedRowsFilesFailClearly() throws {
        let missing = try CLI.temp("no-logpr.csv", "text,outcome,logP_f,ghat,weight\na,1,0,0,1\n")
        let a = try CLI.run(["estimate", "--rows", missing])
        #expect(a.status != 0 && a.stderr.contains("\(missing):1:1:") && a.stderr.contains("'logP_R'"), "\(a.stderr)")
        let word = try CLI.temp("word.csv", "text,outcome,logP_f,logP_R,ghat,weight\na,high,0,0,0,1\n")
        let b = try CLI.run(["estimate", "--rows", word])
        #expect(b.status != 0 && b.stderr.contains("\(word):2:3:") && b.stderr.contains("'high' is not a finite number"), "\(b.stderr)")
        let cut = try CLI.temp("cut.csv", "text,outcome,logP_f,logP_R,ghat,weight\na,1,0,0,0,1\nb,2,-1")
        let c = try CLI.run(["estimate", "--rows", cut])
        #expect(c.status != 0 && c.stderr.contains("\(cut):3:") && c.stderr.contains("cut short"), "\(c.stderr)")
        let none = try CLI.run(["estimate", "--rows", "/nonexistent/rows.csv"])
        #expect(none.status != 0 && none.stderr.contains("file not found"))
    }

    @Test func watchOnceRendersAnExternalRun() throws {
        let r = try CLI.run(["watch", Self.fixture, "--once", "--width", "120", "--height", "40"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count >= 40)
        #expect(lines[0].contains("train_cpo.py tiny-gpt2 (2 processes)") && lines[0].contains("running"))
        // The selection starts on CPO (the first causal method): its texts are the ones shown.
        #expect(r.stdout.contains("53.08±1.58!") && r.stdout.contains("read-only") && r.stdout.contains("Only 40 spots left"))
        let waiting = try CLI.run(["watch", NSTemporaryDirectory() + "cpo-no-run-\(getpid())", "--once", "--width", "120", "--height", "30"])
        #expect(waiting.status == 0 && waiting.stdout.contains("waiting for"), "\(waiting.stdout)")
    }

    @Test func watchOnceRendersALabReport() throws {
        let dir = try #require(Self.report, "the tiny run failed")
        let r = try CLI.run(["watch", dir, "--once", "--width", "100", "--height", "30"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("finished") && r.stdout.contains("DR-CPO") && r.stdout.contains("read-only"), "\(r.stdout)")
    }
}

/// `cpo-tui watch` live in a real terminal: it waits for metrics.jsonl, follows it as it is
/// written (cut mid-line, then completed), ignores the training keys and gives the terminal back.
@Suite(.enabled(if: Tmux.path != nil, "tmux is not installed"), .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"))
struct WatchLiveTests {
    @Test func watchFollowsARunAsItIsWritten() throws {
        let dir = NSTemporaryDirectory() + "cpo-watch-live-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: ReadBackTests.fixture + "/evals", toPath: dir + "/evals")
        let metrics = try Data(contentsOf: URL(fileURLWithPath: ReadBackTests.fixture + "/metrics.jsonl"))
        let name = "cpo-tui-watch-\(getpid())"
        defer { _ = try? Tmux.run(["kill-session", "-t", name]) }
        let command = "LC_ALL=C.UTF-8 '\(CLI.binary!.path)' watch '\(dir)'; echo EXIT=$?; "
            + "stty -a | tr ' ;' '\\n\\n' | grep -x -E 'icanon|echo|-icanon|-echo' | tr '\\n' ' '; echo STTY; sleep 30"
        try Tmux.run(["new-session", "-d", "-s", name, "-x", "120", "-y", "40", command])
        let (waiting, first) = Tmux.waitFor(name, seconds: 20) { $0.contains("waiting for") }
        #expect(waiting, "\(first)")
        // Half the file, its last line cut: what the complete lines say (FT), nothing broken.
        let cut = metrics.count / 2
        try metrics.prefix(cut).write(to: URL(fileURLWithPath: dir + "/metrics.jsonl"))
        let (partial, half) = Tmux.waitFor(name, seconds: 20) { $0.contains("tiny-gpt2") && $0.contains("reference") }
        #expect(partial, "\(half)")
        let handle = try #require(FileHandle(forWritingAtPath: dir + "/metrics.jsonl"))
        try handle.seekToEnd()
        try handle.write(contentsOf: metrics.suffix(from: cut))
        try handle.close()
        let (complete, full) = Tmux.waitFor(name, seconds: 20) { $0.contains("53.08±1.58!") }
        #expect(complete, "\(full)")
        // n would step an epoch in the dashboard; here nothing trains and the frame stays.
        try Tmux.run(["send-keys", "-t", name, "n"])
        try Tmux.run(["send-keys", "-t", name, "q"])
        TmuxTests.expectRestored(name, status: "0", "watch")
    }
}
