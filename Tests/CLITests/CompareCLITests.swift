import Foundation
import Testing

@Suite("cpo-tui compare through the binary", .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"))
struct CompareCLITests {
    /// Two tiny runs that differ only by seed form one group: the curves are their mean and
    /// band over the two seeds, and the table has a row per method with 2 seeds. Without a
    /// terminal on stdout the view is printed as text even without --text.
    @Test func twoSeedsAreOneGroupAndABadDirectoryIsNamed() throws {
        let a = scratchDirectory("compare-a"), b = scratchDirectory("compare-b")
        for (dir, seed) in [(a, "0"), (b, "1")] {
            let r = try CLI.run(["run"] + tinyRun + ["--epochs", "1", "--seed", seed, "--run-dir", dir])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let shown = try CLI.run(["compare", a, b, "--text", "--size", "120x40"])
        #expect(shown.status == 0, "\(shown.stderr)")
        let text = shown.stdout
        #expect(text.contains("Compare runs, last epoch: compare-a+compare-b (seeds 0, 1)"), "\(text)")
        #expect(text.contains("true value by epoch (V* = ") && text.contains("seeds' mean ± 95%"), "\(text)")
        for method in ["FT", "CPO", "DR-CPO"] {
            let row = text.split(separator: "\n").first { $0.contains("━ \(method) ") && $0.contains("compare-a+compare-b") }
            #expect(row.map { $0.contains("compare-a+compare-b      2   \(method == "FT" ? 0 : 1)  ") } == true, "\(row ?? "no \(method) row")")
        }
        #expect(text.split(separator: "\n").count == 40 && shown.stderr.contains("loaded \(b) seed 1"))
        #expect(text.contains("read-only (comparing)"), "\(text)")
        // stdout is not a terminal here: the same view without --text, ASCII on request.
        let plain = try CLI.run(["compare", a, b, "--ascii", "--size", "80x24"])
        #expect(plain.status == 0 && plain.stdout.contains("|* FT ") && plain.stdout.split(separator: "\n").count == 24, "\(plain.stdout)")

        let bad = try CLI.run(["compare", a, "/nonexistent/run", "--text"])
        #expect(bad.status != 0 && bad.stderr.contains("cannot compare /nonexistent/run") && bad.stderr.contains("not a saved run"),
                "\(bad.stderr)")
        #expect(!bad.stdout.contains("Compare runs"))
    }
}
