import Foundation
import Testing

@Suite("the preparation cache on the command line", .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"))
struct PreparationCacheCLITests {
    static let tiny = ["run", "--no-save", "--rows", "40", "--eval-rows", "20", "--epochs", "1", "--methods", "FT,CPO",
                       "--d-model", "32", "--layers", "1", "--heads", "2", "--vocab", "300", "--context", "48",
                       "--ft-epochs", "1", "--eval-samples", "10", "--win-prompts", "10", "--f0-ratio", "1",
                       "--folds", "2", "--batch-size", "8"]

    /// The lines of each method's evaluations without the seconds elapsed.
    static func evaluations(_ stdout: String) -> [String] {
        stdout.split(separator: "\n").filter { $0.hasPrefix("seed ") && $0.contains("V_DR") }.map {
            String($0).replacingOccurrences(of: #"\s+[0-9.]+s$"#, with: "", options: .regularExpression)
        }
    }

    /// The second run of a configuration says its preparation came from the cache (under
    /// XDG_CACHE_HOME) and prints the same evaluations; `--no-cache` neither reads nor writes it.
    @Test func aSecondRunLoadsThePreparationAndNoCacheSkipsIt() throws {
        let root = NSTemporaryDirectory() + "cpo-cli-cache-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let env = ["XDG_CACHE_HOME": root, "CPO_TUI_CACHE_MAX_MB": "64"]
        let prepared = root + "/cpo-tui/prepared"
        func listing() -> [String: Date] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: prepared)) ?? []
            return Dictionary(uniqueKeysWithValues: names.map { name in
                (name, ((try? FileManager.default.attributesOfItem(atPath: prepared + "/" + name))?[.modificationDate] as? Date) ?? .distantPast)
            })
        }

        let first = try CLI.run(Self.tiny, environment: env)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(!first.stdout.contains("loaded from the cache"))
        #expect(first.stdout.contains("training the tokenizer"))
        #expect(listing().count == 1, "\(listing())")

        let second = try CLI.run(Self.tiny, environment: env)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("preparation loaded from the cache"), "\(second.stdout)")
        #expect(!second.stdout.contains("training the tokenizer"))
        #expect(!Self.evaluations(first.stdout).isEmpty && Self.evaluations(first.stdout) == Self.evaluations(second.stdout))

        let before = listing()
        Thread.sleep(forTimeInterval: 0.05)
        let skipped = try CLI.run(Self.tiny + ["--no-cache"], environment: env)
        #expect(skipped.status == 0, "\(skipped.stderr)")
        #expect(!skipped.stdout.contains("loaded from the cache") && skipped.stdout.contains("training the tokenizer"))
        #expect(listing() == before, "--no-cache changed the cache")
        let otherSeed = try CLI.run(Self.tiny + ["--no-cache", "--seed", "9"], environment: env)
        #expect(otherSeed.status == 0 && listing() == before, "--no-cache wrote an entry")
    }
}
