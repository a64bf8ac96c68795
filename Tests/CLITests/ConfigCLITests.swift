import Foundation
import Testing

/// `cpo-tui config show` and `config path`, and the config file reaching `export` and `watch`:
/// good, missing and bad files. Each test has its own XDG_CONFIG_HOME.
@Suite("the config file on the command line", .enabled(if: CLI.binary != nil, "the cpo-tui binary was not built"))
struct ConfigCLITests {
    /// An XDG_CONFIG_HOME of its own; with `config`, its cpo-tui/config.toml holds that text.
    static func home(_ name: String, config: String? = nil) throws -> (env: [String: String], file: String) {
        let dir = NSTemporaryDirectory() + "cpo-cli-config-\(getpid())-\(name)"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir + "/cpo-tui", withIntermediateDirectories: true)
        let file = dir + "/cpo-tui/config.toml"
        if let config { try config.write(toFile: file, atomically: true, encoding: .utf8) }
        return (["XDG_CONFIG_HOME": dir], file)
    }

    @Test func aMissingConfigShowsTheDefaults() throws {
        let (env, file) = try Self.home("missing")
        let r = try CLI.run(["config", "show"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("# No config file at \(file): the built-in defaults."), "\(r.stdout)")
        #expect(r.stdout.contains("theme = \"dark\"") && r.stdout.contains("fps = 15") && r.stdout.contains("# default"))
        #expect(r.stdout.contains("stepAll = [\"n\"]") && r.stdout.contains("quit = [\"q\", \"Esc\"]"))
        let path = try CLI.run(["config", "path"], environment: env)
        #expect(path.status == 0 && path.stdout == file + "\n")
    }

    @Test func aGoodConfigIsShownWithWhereEachValueCameFrom() throws {
        let (env, file) = try Self.home("good", config: """
            theme = "light"
            fps = 8
            [keys]
            exportScreen = ["X", "F5"]
            """)
        let r = try CLI.run(["config", "show"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("theme = \"light\"") && $0.hasSuffix("# \(file):1") }, "\(r.stdout)")
        #expect(lines.contains { $0.hasPrefix("fps = 8") && $0.hasSuffix("# \(file):2") })
        #expect(lines.contains { $0.hasPrefix("ascii = false") && $0.hasSuffix("# default") })
        #expect(lines.contains { $0.hasPrefix("exportScreen = [\"X\", \"F5\"]") && $0.contains("# \(file):4: export the screen") })
        // The text shown is itself a config that `config show` accepts.
        let copy = try CLI.temp("shown-config.toml", r.stdout)
        let again = try CLI.run(["config", "show", "--config", copy], environment: env)
        #expect(again.status == 0 && again.stdout.contains("exportScreen = [\"X\", \"F5\"]"), "\(again.stderr)")
    }

    @Test func aBadConfigIsAnErrorWithLineAndColumn() throws {
        let (env, file) = try Self.home("bad", config: "fps = 8\n[keys]\nstepAll = [\"s\"]\n")
        let r = try CLI.run(["config", "show"], environment: env)
        #expect(r.status != 0)
        #expect(r.stderr.contains("\(file):3:12: key s is bound to both stepAll and stepSelected"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        // A --config that names no file is an error; without it a missing file is not.
        let named = try CLI.run(["config", "show", "--config", file + ".nope"], environment: env)
        #expect(named.status != 0 && named.stderr.contains("file not found"))
    }

    /// `export` takes the config's world when neither --world nor --data is given; a bad
    /// config is a warning and the default world is used.
    @Test func exportUsesTheConfigsWorldAndSurvivesABadConfig() throws {
        let tiny = ["--rows", "40", "--eval-rows", "20", "--validation-rows", "10", "--folds", "2", "--log-rows", "40", "--force"]
        let out = NSTemporaryDirectory() + "cpo-cli-config-export-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: out) }
        func world() throws -> String {
            let config = try String(contentsOfFile: out + "/config.json", encoding: .utf8)
            return ["seawall-survey", "river-cleanup", "newsletter-clicks"].first { config.contains("world:\($0)") } ?? "?"
        }
        let (good, _) = try Self.home("export-good", config: "world = \"seawall-survey\"\n")
        let a = try CLI.run(["export", "--to", out] + tiny, environment: good)
        #expect(a.status == 0, "\(a.stderr)")
        #expect(try world() == "seawall-survey")
        let b = try CLI.run(["export", "--to", out, "--world", "river-cleanup"] + tiny, environment: good)
        #expect(b.status == 0, "\(b.stderr)")
        #expect(try world() == "river-cleanup")

        let (bad, file) = try Self.home("export-bad", config: "world = \"seawall-survey\"\nfps = 99\n")
        let c = try CLI.run(["export", "--to", out] + tiny, environment: bad)
        #expect(c.status == 0, "\(c.stderr)")
        #expect(c.stderr.contains("warning: \(file):2:1: fps is 99") && c.stderr.contains("built-in defaults are used"), "\(c.stderr)")
        #expect(try world() == "river-cleanup")
    }

    /// `watch` draws with the config's keys (less the training ones) and ASCII setting; flags win.
    @Test func watchUsesTheConfigsKeysAndDrawing() throws {
        let dir = NSTemporaryDirectory() + "cpo-cli-config-watch-\(getpid())"
        let (env, _) = try Self.home("watch", config: "ascii = true\n[keys]\nexportScreen = [\"X\"]\nstepAll = [\"N\"]\n")
        let r = try CLI.run(["watch", dir, "--once", "--width", "160", "--height", "24"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(r.stdout.contains("+-") && !r.stdout.contains("╭"), "\(r.stdout)")
        #expect(last.contains("Up/Down select") && last.contains("X export") && !last.contains("N step"), "\(last)")
        let unicode = try CLI.run(["watch", dir, "--once", "--no-ascii", "--width", "100", "--height", "24"], environment: env)
        #expect(unicode.stdout.contains("╭"))

        let (bad, _) = try Self.home("watch-bad", config: "ascii = 1\n")
        let b = try CLI.run(["watch", dir, "--once", "--width", "100", "--height", "24"], environment: bad)
        #expect(b.status == 0 && b.stdout.contains("╭") && b.stderr.contains("ascii must be true or false"), "\(b.stderr)")
    }
}
