import Foundation
import Testing

/// `cpo-tui sensitivity` and `cpo-tui bench --sensitivity`, run as the built binary.
@Suite(.enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"))
struct SensitivityCLITests {
    static let header = "text,outcome,logP_f,logP_R,ghat,weight\n"

    /// A tiny run saved (--run-dir) and reported (--report) at once, written once for the tests below.
    static let tinyRun: (run: String, report: String)? = {
        let dir = NSTemporaryDirectory() + "cpo-cli-sensitivity-\(getpid())"
        guard let r = try? CLI.run(["run", "--run-dir", dir + "/run", "--rows", "40", "--eval-rows", "20", "--epochs", "1",
                                    "--methods", "FT,CPO,DR-CPO", "--d-model", "32", "--layers", "1", "--heads", "2", "--vocab", "300",
                                    "--context", "48", "--ft-epochs", "1", "--eval-samples", "10", "--win-prompts", "10",
                                    "--f0-ratio", "1", "--folds", "2", "--batch-size", "8", "--report", dir + "/report"]),
              r.status == 0 else { return nil }
        return (dir + "/run", dir + "/report")
    }()

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    static func analyses(_ o: [String: Any]) throws -> [[String: Any]] { try #require(o["analyses"] as? [[String: Any]]) }

    static func close(_ a: Any?, _ b: Double, _ tolerance: Double = 1e-9) -> Bool {
        guard let a = a as? Double else { return false }
        return abs(a - b) <= tolerance * max(1, abs(b))
    }

    /// Two rows of equal weight with outcomes 0 and 1: the bounds at Λ are [1/(1+Λ²), Λ²/(1+Λ²)]
    /// and against a reference of 0.2 the breakdown value is √(1/0.2 − 1) = 2.
    @Test func rowsFileGivesTheClosedFormBoundsInTextAndJSON() throws {
        let rows = try CLI.temp("sens-two.csv", Self.header + "a,0,-3,-3,0,0.5\nb,1,-3,-3,1,0.5\n")
        let r = try CLI.run(["sensitivity", "--rows", rows, "--reference", "0.2", "--lambdas", "3,1,2", "--replicates", "40", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try Self.json(r.stdout)
        #expect(o["format"] as? String == "cpo-tui-sensitivity" && o["rows_file"] as? String == rows)
        let a = try #require(try Self.analyses(o).first)
        #expect(a["estimator"] as? String == "v_snipw" && a["reference_source"] as? String == "given" && a["replicates"] as? Int == 40)
        #expect(Self.close(a["point"], 0.5) && Self.close(a["reference"], 0.2) && Self.close(a["breakdown"], 2))
        let bounds = try #require(a["bounds"] as? [[String: Any]])
        #expect(bounds.compactMap { $0["lambda"] as? Double } == [1, 2, 3])
        for b in bounds {
            let lambda = try #require(b["lambda"] as? Double)
            let l2 = lambda * lambda
            #expect(Self.close(b["lower"], 1 / (1 + l2)) && Self.close(b["upper"], l2 / (1 + l2)), "\(b)")
            #expect(b["ci95_lower"] is Double && b["ci95_upper"] is Double)
        }
        // Λ = 1 is the point estimate.
        #expect(Self.close(bounds[0]["lower"], 0.5) && Self.close(bounds[0]["upper"], 0.5))
        let notes = try #require(o["notes"] as? [String])
        #expect(notes.contains { $0.contains("V_DR") && $0.contains("--f0") })

        let text = try CLI.run(["sensitivity", "--rows", rows, "--reference", "0.2", "--lambdas", "1,2", "--replicates", "0"])
        #expect(text.status == 0 && text.stdout.contains("Λ* = 2: a hidden confounder would have to change the odds"), "\(text.stdout)")
        #expect(text.stdout.contains("0.2000") && text.stdout.contains("0.8000") && text.stdout.contains("--reference"))
        // Without a reference: P^R's own value (here the same 0.5): no gain to erase.
        let own = try CLI.run(["sensitivity", "--rows", rows, "--json", "--replicates", "0"])
        let ownA = try #require(try Self.analyses(try Self.json(own.stdout)).first)
        #expect(ownA["reference_source"] as? String == "pr_own_value" && Self.close(ownA["reference"], 0.5) && Self.close(ownA["breakdown"], 1))
        // Every value above the reference: Λ* is +∞, "inf" in JSON.
        let never = try CLI.run(["sensitivity", "--rows", rows, "--reference", "-1", "--json", "--replicates", "0"])
        #expect(try Self.analyses(try Self.json(never.stdout)).first?["breakdown"] as? String == "inf")
    }

    /// A report directory: every method of the run (FT's files the reference, FT's own Λ* = 1);
    /// the saved run: the analyses its last evaluations saved, with the same point bounds.
    @Test func reportAndSavedRunListEveryMethod() throws {
        let (run, report) = try #require(Self.tinyRun, "the tiny run failed")
        let r = try CLI.run(["sensitivity", report, "--json", "--replicates", "20"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try Self.json(r.stdout)
        #expect(o["kind"] as? String == "report")
        let results = try #require(o["results"] as? [[String: Any]])
        #expect(results.compactMap { $0["method"] as? String } == ["FT", "CPO", "DR-CPO"])
        for res in results {
            let list = try Self.analyses(res)
            #expect(list.compactMap { $0["estimator"] as? String } == ["v_snipw", "v_dr"], "\(res)")
            #expect(list.allSatisfy { $0["reference_source"] as? String == "ft_rows" })
            if res["method"] as? String == "FT" { #expect(list.allSatisfy { Self.close($0["breakdown"], 1) }) }
        }
        let text = try CLI.run(["sensitivity", report, "--replicates", "0"])
        #expect(text.status == 0 && text.stdout.contains("== DR-CPO, seed 0") && text.stdout.contains("Λ*"))

        let saved = try CLI.run(["sensitivity", run, "--json"])
        #expect(saved.status == 0, "\(saved.stderr)")
        let so = try Self.json(saved.stdout)
        #expect(so["kind"] as? String == "run")
        let savedResults = try #require(so["results"] as? [[String: Any]])
        #expect(savedResults.compactMap { $0["method"] as? String } == ["FT", "CPO", "DR-CPO"])
        // The same final models: the same point bounds as the report's files give.
        for (a, b) in zip(results, savedResults) {
            for (x, y) in zip(try Self.analyses(a), try Self.analyses(b)) {
                let bx = try #require(x["bounds"] as? [[String: Any]]), by = try #require(y["bounds"] as? [[String: Any]])
                #expect(Self.close(bx.last?["lower"], try #require(by.last?["lower"] as? Double), 1e-6), "\(a["method"] ?? "")")
                #expect(y["reference_source"] as? String == "saved_run")
            }
        }
        // Another grid needs the rows files: said, with what to run.
        let grid = try CLI.run(["sensitivity", run, "--lambdas", "1,2"])
        #expect(grid.status != 0 && grid.stderr.contains(run) && grid.stderr.contains("--report"), "\(grid.stderr)")
    }

    @Test func badInputFailsClearlyNamingTheFile() throws {
        let rows = try CLI.temp("sens-ok.csv", Self.header + "a,0,-3,-3,0,0.5\nb,1,-3,-3,1,0.5\n")
        let lambdas = try CLI.run(["sensitivity", "--rows", rows, "--lambdas", "1,0.5"])
        #expect(lambdas.status != 0 && lambdas.stderr.contains("--lambdas") && lambdas.stderr.contains("0.5"), "\(lambdas.stderr)")
        let word = try CLI.run(["sensitivity", "--rows", rows, "--lambdas", "1,two"])
        #expect(word.status != 0 && word.stderr.contains("'two'"), "\(word.stderr)")
        let missing = try CLI.run(["sensitivity", "--rows", "/nonexistent/rows.csv"])
        #expect(missing.status != 0 && missing.stderr.contains("/nonexistent/rows.csv"), "\(missing.stderr)")
        let f0 = try CLI.temp("sens-f0-as-rows.csv", "text,logP_f0,logP_f,ghat,weight\na,0,0,0,1\n")
        let columns = try CLI.run(["sensitivity", "--rows", f0])
        #expect(columns.status != 0 && columns.stderr.contains("\(f0):1:1:") && columns.stderr.contains("'outcome'"), "\(columns.stderr)")
        let missingRef = try CLI.run(["sensitivity", "--rows", rows, "--reference-rows", "/nonexistent/ft.csv"])
        #expect(missingRef.status != 0 && missingRef.stderr.contains("/nonexistent/ft.csv"))
        let empty = NSTemporaryDirectory() + "cpo-cli-sensitivity-empty-\(getpid())"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let neither = try CLI.run(["sensitivity", empty])
        #expect(neither.status != 0 && neither.stderr.contains(empty) && neither.stderr.contains("neither"), "\(neither.stderr)")
        let none = try CLI.run(["sensitivity", empty + "/missing"])
        #expect(none.status != 0 && none.stderr.contains(empty + "/missing"))
        let both = try CLI.run(["sensitivity", empty, "--rows", rows])
        #expect(both.status != 0)
    }

    /// `--default-run` adds the default comparison to the core benchmark only (measuring it takes
    /// a minute or two of a release build: not done here).
    @Test func benchDefaultRunGoesWithTheCoreBenchmarkOnly() throws {
        for other in ["--frames", "--sensitivity", "--gemm-only"] {
            let r = try CLI.run(["bench", "--default-run", other])
            #expect(r.status != 0 && r.stderr.contains("--default-run goes with the core benchmark"), "\(r.stderr)")
        }
    }

    /// The bench measures what it says (no timing is asserted).
    @Test func benchSensitivityPrintsItsMeasures() throws {
        let r = try CLI.run(["bench", "--sensitivity", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try Self.json(r.stdout)["sensitivity"] as? [String: Any])
        #expect(o["rows"] as? Int == 2000 && o["lambdas"] as? Int == 50 && o["replicates"] as? Int == 200)
        for key in ["point_bounds_v_snipw_ms", "breakdown_v_snipw_ms", "analysis_v_snipw_ms", "analysis_v_dr_ms"] {
            #expect((o[key] as? Double).map { $0 >= 0 } == true, "\(key)")
        }
    }
}
